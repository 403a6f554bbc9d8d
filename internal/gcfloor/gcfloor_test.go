package gcfloor

import (
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
	if p, l := settings(); p != -1 || l != 64<<20 {
		t.Errorf("GOGC %d, limit %d; want off, %d", p, l, 64<<20)
	}
	runtime.KeepAlive(live)
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
