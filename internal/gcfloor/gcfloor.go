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
// Set raises the collector's percent (GOGC) so that its goal is the
// floor: the first goal is 4 MB times the percent over 100, and each later
// one the heap left live plus the percent of what the collection scanned.
// After every collection it sets the percent again for the next goal to be
// the floor, until the heap left live is half the floor or more (the
// proportional goal, twice the live heap, is then at or above the floor
// anyway); then the setting the process had comes back, so a large
// input's build paces its collections as usual. The floor bounds what this
// costs: the heap never grows past it with garbage that the default pacing
// would have collected sooner.
//
// A memory limit at the floor, with the percent off, would defer the
// collections as well, but the runtime keeps a process under its limit by
// also returning free pages to the system in the background, pages the
// build takes again at once: on the virtual machines of BENCHMARKS.md each
// return interrupts the other core and each page taken back faults anew
// (~13 µs), and the build ran 3-7% slower that way, for 2 MB less peak
// RSS.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The metrics a percent is computed from: the heap the last collection
// marked live, and the stacks and globals it scanned, which the goal
// counts with the heap.
var cycleMetrics = [...]string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// minGoal is the runtime's least heap goal at a percent of 100; it scales
// with the percent.
const minGoal = 4 << 20

// floorState is what Set changed and how to undo it.
type floorState struct {
	mu     sync.Mutex
	active bool
	floor  int64
	// percent is the setting Set replaced.
	percent int
	sample  [len(cycleMetrics)]metrics.Sample
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

// Set keeps the collector from running until the heap reaches floor
// bytes, as described in the package comment, and returns a function that
// puts back the setting it replaced (a command that exits need not call
// it). It does nothing when floor is not positive, when GOGC or GOMEMLIMIT
// is set in the environment (the user's choice wins), when the collector
// is off, when a memory limit at or below the floor bounds the heap more
// tightly, when the heap the last collection left is already too large
// for the floor to defer the next one, or while an earlier Set is in
// effect.
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
	if limit := debug.SetMemoryLimit(-1); limit <= floor {
		// A lower limit already bounds the heap more tightly.
		debug.SetGCPercent(percent)
		return noop
	}
	for i, name := range cycleMetrics {
		s.sample[i].Name = name
	}
	// The last collection's heap sets the first goal, as it sets the
	// goals that follow.
	live, other := s.lastCycle()
	p := percentFor(floor, live, other)
	if p <= percent {
		// The heap left live is already that large: no collection
		// to defer.
		debug.SetGCPercent(percent)
		return noop
	}
	debug.SetGCPercent(p)
	s.active, s.floor, s.percent, s.cycles = true, floor, percent, 0
	s.gen++
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
	live, other := s.lastCycle()
	if live >= uint64(s.floor)/2 {
		s.release()
		return
	}
	// Never below the process's own setting: the floor defers
	// collections, it does not add any.
	debug.SetGCPercent(max(percentFor(s.floor, live, other), s.percent))
	arm(gen)
}

// lastCycle reads the heap the last collection left live and the stacks
// and globals it scanned (zero before the first); s.mu is held.
func (s *floorState) lastCycle() (live, other uint64) {
	metrics.Read(s.sample[:])
	var v [len(cycleMetrics)]uint64
	for i := range s.sample {
		if x := s.sample[i].Value; x.Kind() == metrics.KindUint64 {
			v[i] = x.Uint64()
		}
	}
	return v[0], v[1] + v[2]
}

// percentFor returns the percent that makes the next heap goal floor after
// a collection that left live bytes of heap and scanned other bytes of
// stacks and globals: the goal is live plus the percent of live and other,
// and no less than minGoal times the percent over 100.
func percentFor(floor int64, live, other uint64) int {
	p := uint64(floor) * 100 / minGoal
	if scanned := live + other; scanned > 0 && live < uint64(floor) {
		p = min(p, (uint64(floor)-live)*100/scanned)
	}
	return int(min(p, 1<<30))
}

// release puts back the settings Set replaced; s.mu is held.
func (s *floorState) release() {
	if !s.active {
		return
	}
	debug.SetGCPercent(s.percent)
	s.active = false
}
