// Package gcfloor keeps the Go garbage collector from running while a
// command's heap is smaller than a floor, for commands that build one
// large result and exit (a symcache build).
//
// The collector's first goal is 4 MB and each goal is twice the heap the
// last collection left live. A build whose working set grows to 20 MB
// while nearly all of it stays live therefore collects at 4, 8 and 16 MB,
// finding little to free, and a goroutine that allocates while a
// collection marks is made to help it (an assist), which slows the
// allocating goroutine, often the one the others wait for. On the symcache
// build of 24 MB of DWARF measured in BENCHMARKS.md, two of its five
// collections made ~9 ms of assists; under a floor the build runs a tenth
// fewer instructions.
//
// Set turns the collector's proportional pacing off and sets a memory
// limit at the floor, so the first collection comes when the process's Go
// memory reaches the floor. After every collection, once the heap left
// live is half the floor or more (the proportional goal, twice the live
// heap, is then at or above the floor anyway), the settings the process
// had come back, so a large input's build paces its collections as
// usual. The floor bounds what this costs: the heap never grows past it
// with garbage that the default pacing would have collected sooner.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// liveMetric is the heap the last collection marked live.
const liveMetric = "/gc/heap/live:bytes"

// floorState is what Set changed and how to undo it.
type floorState struct {
	mu     sync.Mutex
	active bool
	floor  int64
	// percent and limit are the settings Set replaced.
	percent int
	limit   int64
	sample  [1]metrics.Sample
	// cycles counts the collections seen while active (tests).
	cycles int
	// gen numbers the calls of Set: a cleanup armed under an earlier
	// one (whose restore ran before its collection came) is ignored.
	gen int
}

var state floorState

// sentinel is allocated for its cleanup to run after the next collection.
// A pointer field keeps it out of the tiny allocator, whose blocks of
// several objects are freed together, if ever.
type sentinel struct {
	_ *byte
	_ [16]byte
}

// Set keeps the collector from running until the process's Go memory
// reaches floor bytes, as described in the package comment, and returns a
// function that puts back the settings it replaced (a command that exits
// need not call it). It does nothing when floor is not positive, when
// GOGC or GOMEMLIMIT is set in the environment (the user's choice wins),
// when the collector is off, or while an earlier Set is in effect.
func Set(floor int64) (restore func()) {
	noop := func() {}
	if floor <= 0 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return noop
	}
	s := &state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		return noop
	}
	percent := debug.SetGCPercent(-1)
	if percent < 0 {
		debug.SetGCPercent(percent)
		return noop
	}
	limit := debug.SetMemoryLimit(-1)
	if limit <= floor {
		// A lower limit already bounds the heap more tightly.
		debug.SetGCPercent(percent)
		return noop
	}
	debug.SetMemoryLimit(floor)
	s.active, s.floor, s.percent, s.limit, s.cycles = true, floor, percent, limit, 0
	s.gen++
	s.sample[0].Name = liveMetric
	gen := s.gen
	arm(gen)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen == gen {
			s.release()
		}
	}
}

// arm makes afterCycle run after the next collection.
func arm(gen int) {
	runtime.AddCleanup(new(sentinel), afterCycle, gen)
}

// afterCycle gives the process its settings back once the heap left live
// reaches half the floor, and otherwise waits for the next collection.
func afterCycle(gen int) {
	s := &state
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active || gen != s.gen {
		return
	}
	s.cycles++
	metrics.Read(s.sample[:])
	var live uint64
	if v := s.sample[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	if live >= uint64(s.floor)/2 {
		s.release()
		return
	}
	arm(gen)
}

// release puts back the settings Set replaced; s.mu is held.
func (s *floorState) release() {
	if !s.active {
		return
	}
	debug.SetMemoryLimit(s.limit)
	debug.SetGCPercent(s.percent)
	s.active = false
}
