package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// settings reads the collector's percent and memory limit without
// changing them.
func settings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// cycles is the number of collections the process has made.
func cycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// clearEnv hides any GOGC or GOMEMLIMIT the test process was started with:
// Set leaves the collector alone when either is set.
func clearEnv(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
}

var sink []byte

// churn allocates n MB of garbage, a megabyte at a time.
func churn(n int) {
	for range n {
		sink = make([]byte, 1<<20)
		sink[len(sink)-1] = 1
	}
	sink = nil
}

// waitFor polls cond for up to ten seconds: cleanups run on a goroutine
// of their own after the collection that found their object unreachable.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func isActive() bool {
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.active
}

func seen() int {
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.cycles
}

func TestSetDefersCollections(t *testing.T) {
	clearEnv(t)
	percent, limit := settings()
	runtime.GC()
	restore := Set(512 << 20)
	defer restore()
	before := cycles()
	// 64 MB of garbage: the default pacing collects several times,
	// from a goal of 4 MB.
	churn(64)
	if got := cycles() - before; got != 0 {
		t.Errorf("%d collections under a 512 MB floor, want none", got)
	}
	restore()
	if p, l := settings(); p != percent || l != limit {
		t.Errorf("after restore: GOGC %d, limit %d; want %d, %d", p, l, percent, limit)
	}
}

// Collections are started here (runtime.GC) while nothing allocates:
// what is allocated while a collection marks counts as live, as it does
// for the default pacing, so churning against the limit would blur the
// live heap the floor decides on.

func TestSetKeepsFloorWhileLiveHeapIsSmall(t *testing.T) {
	clearEnv(t)
	runtime.GC()
	restore := Set(64 << 20)
	defer restore()
	live := make([]byte, 8<<20) // an eighth of the floor
	for n := 1; n <= 3; n++ {
		runtime.GC()
		waitFor(t, "the cleanup after a collection", func() bool { return seen() >= n })
		if !isActive() {
			t.Fatalf("the floor gave way after collection %d, with 8 MB live under a 64 MB floor", n)
		}
	}
	// The goal is the floor, give or take the rounding of the percent;
	// no memory limit drives the background return of free pages.
	if goal := heapGoal(); goal > 64<<20 || goal < 63<<20 {
		t.Errorf("heap goal %d after the collections, want the floor, %d", goal, 64<<20)
	}
	if _, l := settings(); l != math.MaxInt64 {
		t.Errorf("memory limit %d, want none", l)
	}
	runtime.KeepAlive(live)
}

// heapGoal is the collector's current heap goal.
func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPercentFor checks the percent against the runtime's goal: the heap
// left live plus the percent of what the collection scanned (the live
// heap, stacks and globals), and no less than 4 MB times the percent over
// 100. The goal it gives must be the floor, short of it by no more than
// the percent's rounding.
func TestPercentFor(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name        string
		floor       int64
		live, other uint64
	}{
		{"before any collection", 16 * mb, 0, 0},
		{"a small live heap: the least goal decides", 16 * mb, 1 * mb, mb / 4},
		{"live heap a quarter of the floor", 16 * mb, 4 * mb, mb / 2},
		{"live heap near half the floor", 16 * mb, 7 * mb, mb},
		{"a large floor", 512 * mb, 30 * mb, 2 * mb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := uint64(percentFor(tt.floor, tt.live, tt.other))
			goal := max(minGoal*p/100, tt.live+(tt.live+tt.other)*p/100)
			slack := max(minGoal, tt.live+tt.other) / 100
			if goal > uint64(tt.floor) || goal+slack < uint64(tt.floor) {
				t.Errorf("percent %d gives a goal of %d, want %d (within %d below)", p, goal, tt.floor, slack)
			}
		})
	}
}

func TestSetGivesWayToALargeLiveHeap(t *testing.T) {
	clearEnv(t)
	percent, limit := settings()
	runtime.GC()
	restore := Set(64 << 20)
	defer restore()
	// 40 MB kept live, more than half the floor: the collection hands
	// pacing back.
	live := make([]byte, 40<<20)
	runtime.GC()
	waitFor(t, "the floor to give way", func() bool { return !isActive() })
	if p, l := settings(); p != percent || l != limit {
		t.Errorf("after giving way: GOGC %d, limit %d; want %d, %d", p, l, percent, limit)
	}
	runtime.KeepAlive(live)
}

func TestSetLeavesUserSettings(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(env, "200")
			percent, limit := settings()
			restore := Set(64 << 20)
			defer restore()
			if isActive() {
				t.Errorf("Set took over with %s set", env)
			}
			if p, l := settings(); p != percent || l != limit {
				t.Errorf("GOGC %d, limit %d; want %d, %d", p, l, percent, limit)
			}
		})
	}
}

func TestSetLeavesTighterLimit(t *testing.T) {
	clearEnv(t)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(8 << 20))
	restore := Set(64 << 20)
	defer restore()
	if isActive() {
		t.Error("Set raised a memory limit of 8 MB to its floor of 64 MB")
	}
}

func TestSetLeavesALargeLiveHeap(t *testing.T) {
	clearEnv(t)
	percent, _ := settings()
	// 40 MB live before Set: the default goal, ~80 MB, is past a 64 MB
	// floor already.
	live := make([]byte, 40<<20)
	runtime.GC()
	restore := Set(64 << 20)
	defer restore()
	if isActive() {
		t.Error("Set took over with 40 MB live under a 64 MB floor")
	}
	if p, _ := settings(); p != percent {
		t.Errorf("GOGC %d, want %d", p, percent)
	}
	runtime.KeepAlive(live)
}
