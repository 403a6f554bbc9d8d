package main

import (
	"bytes"
	"math"
	"runtime"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestTally runs transitions on a tally and checks where its P time went.
func TestTally(t *testing.T) {
	type tr struct {
		at       int64
		g        uint64
		from, to gstate
		where    string
	}
	tests := []struct {
		name  string
		procs int
		steps []tr
		want  summary // fractions and wakers only
	}{
		{
			name:  "one goroutine on two Ps",
			procs: 2,
			steps: []tr{{0, 1, gOther, gRunning, ""}, {100, 1, gRunning, gOther, ""}},
			want:  summary{Busy: 0.5, IdleNothing: 0.5},
		},
		{
			name:  "a goroutine ready beside an idle P",
			procs: 2,
			steps: []tr{
				{0, 1, gOther, gRunning, ""},
				{0, 2, gOther, gRunnable, "feed"},
				{50, 2, gRunnable, gRunning, ""},
				{100, 1, gRunning, gOther, ""},
			},
			// 0-50: one P idle while 2 waits (25% of 2×100); 50-100: both busy.
			want: summary{Busy: 0.75, IdleReady: 0.25, Wakers: []waker{{"feed", 0.25}}},
		},
		{
			name:  "two ready goroutines share the blame",
			procs: 2,
			steps: []tr{
				{0, 1, gOther, gRunning, ""},
				{0, 2, gOther, gRunnable, "a"},
				{0, 3, gOther, gRunnable, "b"},
				{100, 1, gRunning, gOther, ""},
			},
			want: summary{Busy: 0.5, IdleReady: 0.5, Wakers: []waker{{"a", 0.25}, {"b", 0.25}}},
		},
		{
			name:  "a goroutine in a system call",
			procs: 2,
			steps: []tr{
				{0, 1, gOther, gRunning, ""},
				{0, 2, gOther, gSyscall, ""},
				{40, 2, gSyscall, gOther, ""},
				{100, 1, gRunning, gOther, ""},
			},
			want: summary{Busy: 0.5, IdleSyscall: 0.2, IdleNothing: 0.3},
		},
		{
			name:  "more running than Ps is all busy",
			procs: 1,
			steps: []tr{
				{0, 1, gOther, gRunning, ""},
				{0, 2, gOther, gRunning, ""},
				{0, 3, gOther, gRunnable, "x"},
				{10, 1, gRunning, gOther, ""},
				{10, 2, gRunning, gOther, ""},
			},
			want: summary{Busy: 1},
		},
		{
			name:  "a trace that starts while goroutines run",
			procs: 2,
			steps: []tr{
				{0, 1, gRunning, gOther, ""}, // began before the trace
				{0, 2, gOther, gRunning, ""},
				{10, 2, gRunning, gOther, ""},
			},
			want: summary{Busy: 0.5, IdleNothing: 0.5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTally()
			for _, s := range tc.steps {
				tl.transition(s.at, s.g, s.from, s.to, s.where)
			}
			got := tl.summary(tc.procs)
			if !near(got.Busy, tc.want.Busy) || !near(got.IdleReady, tc.want.IdleReady) ||
				!near(got.IdleSyscall, tc.want.IdleSyscall) || !near(got.IdleNothing, tc.want.IdleNothing) {
				t.Errorf("busy %v ready %v syscall %v nothing %v, want %v %v %v %v",
					got.Busy, got.IdleReady, got.IdleSyscall, got.IdleNothing,
					tc.want.Busy, tc.want.IdleReady, tc.want.IdleSyscall, tc.want.IdleNothing)
			}
			if len(got.Wakers) != len(tc.want.Wakers) {
				t.Fatalf("wakers %v, want %v", got.Wakers, tc.want.Wakers)
			}
			for i, w := range tc.want.Wakers {
				if got.Wakers[i].Where != w.Where || !near(got.Wakers[i].Share, w.Share) {
					t.Errorf("waker %d: %v, want %v", i, got.Wakers[i], w)
				}
			}
		})
	}
}

// TestAnalyzeTrace reads a trace this test records: goroutines handing
// values over channels. The shares must cover the whole P time, the
// handoffs must show as running goroutines, and the places that made
// goroutines ready must be named from the stacks.
func TestAnalyzeTrace(t *testing.T) {
	buf := record(t, func() {
		ping, pong := make(chan int), make(chan int)
		var wg sync.WaitGroup
		wg.Go(func() {
			for v := range ping {
				spin(2000)
				pong <- v
			}
			close(pong)
		})
		wg.Go(func() {
			for i := range 200 {
				ping <- i
				<-pong
				spin(2000)
			}
			close(ping)
		})
		wg.Wait()
	})

	s, err := analyze(buf, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Span <= 0 || s.Procs < 1 || s.Procs > runtime.GOMAXPROCS(0) {
		t.Fatalf("span %v over %d Ps (GOMAXPROCS %d)", s.Span, s.Procs, runtime.GOMAXPROCS(0))
	}
	if sum := s.Busy + s.IdleReady + s.IdleSyscall + s.IdleNothing; math.Abs(sum-1) > 1e-6 {
		t.Errorf("shares add up to %v, not 1", sum)
	}
	if s.Busy <= 0 {
		t.Errorf("busy %v: the goroutines' running was not seen", s.Busy)
	}
	for _, w := range s.Wakers {
		if w.Where == "" {
			t.Errorf("a waker without a place: %v", s.Wakers)
		}
	}
	var out bytes.Buffer
	report(&out, s, 3)
	if !strings.Contains(out.String(), "busy") {
		t.Errorf("report:\n%s", out.String())
	}
	if _, err := analyze(strings.NewReader("not a trace"), 0, nil, nil); err == nil {
		t.Error("a file that is not a trace was read without an error")
	}
}

// record returns an execution trace of what f does; the test is skipped
// when a trace is already being recorded (go test -trace).
func record(t *testing.T, f func()) *bytes.Buffer {
	t.Helper()
	if trace.IsEnabled() {
		t.Skip("a trace is already being recorded")
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	f()
	trace.Stop()
	return &buf
}

var sink uint64

// spin does some work that the compiler cannot drop.
func spin(n int) {
	x := sink
	for i := range n {
		x = x*6364136223846793005 + uint64(i)
	}
	sink = x
}

// TestTimeline lays out made-up transitions: running time must land in
// the buckets it spans, under the group its goroutine was created in,
// and only the system calls as long as the threshold are kept.
func TestTimeline(t *testing.T) {
	tl := newTimeline(10, 20)
	tl.transition(0, 1, gOther, gRunning, "")
	tl.created(2, "pkg.startWorkers")
	tl.transition(5, 2, gOther, gRunnable, "")
	tl.transition(5, 2, gRunnable, gRunning, "")
	tl.transition(15, 2, gRunning, gSyscall, "syscall.Read")
	tl.transition(25, 1, gRunning, gSyscall, "syscall.Write")
	tl.transition(30, 1, gSyscall, gRunning, "")
	tl.transition(50, 2, gSyscall, gRunnable, "")
	tl.transition(50, 2, gRunnable, gRunning, "")
	tl.finish(52)

	if want := []string{mainGroup, "pkg.startWorkers"}; !slices.Equal(tl.groups, want) {
		t.Fatalf("groups %q, want %q", tl.groups, want)
	}
	want := [][]int64{{10, 5}, {10, 5}, {5}, {10}, {10}, {2, 2}}
	if len(tl.busy) != len(want) {
		t.Fatalf("%d buckets, want %d: %v", len(tl.busy), len(want), tl.busy)
	}
	for b := range want {
		got := slices.Clone(tl.busy[b])
		for len(got) > len(want[b]) && got[len(got)-1] == 0 {
			got = got[:len(got)-1]
		}
		if !slices.Equal(got, want[b]) {
			t.Errorf("bucket %d: %v, want %v", b, tl.busy[b], want[b])
		}
	}
	if len(tl.calls) != 1 || tl.calls[0].where != "syscall.Read" || tl.calls[0].start != 15 || tl.calls[0].dur != 35 {
		t.Errorf("long system calls %+v, want the 35 ns read from 15 on alone", tl.calls)
	}
	var out bytes.Buffer
	tl.report(&out)
	for _, s := range []string{"A ", "main", "B ", "pkg.startWorkers", "goroutine 2 (pkg.startWorkers): syscall.Read"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

// TestTimelineTrace lays out a trace this test records: a goroutine this
// test's startSpinners starts spins while another sleeps in a system
// call. The spinner's running time must be found under the function that
// created it, no bucket may hold more running time than the Ps had, and
// the sleep must be listed with its stack.
func TestTimelineTrace(t *testing.T) {
	buf := record(t, startSpinners)

	const width = int64(time.Millisecond)
	tl := newTimeline(width, int64(10*time.Millisecond))
	s, err := analyze(buf, 0, tl, nil)
	if err != nil {
		t.Fatal(err)
	}
	spinners := slices.IndexFunc(tl.groups, func(g string) bool { return strings.HasSuffix(g, ".startSpinners") })
	if spinners < 0 {
		t.Fatalf("no group for startSpinners among %q", tl.groups)
	}
	var spun int64
	for b, row := range tl.busy {
		var sum int64
		for g, v := range row {
			sum += v
			if g == spinners {
				spun += v
			}
		}
		if sum > int64(s.Procs)*width {
			t.Errorf("bucket %d holds %d ns of running time, more than %d Ps had", b, sum, s.Procs)
		}
	}
	if spun <= 0 {
		t.Errorf("the spinner's running time was not found under its group: %v", tl.busy)
	}
	i := slices.IndexFunc(tl.calls, func(c sysCall) bool { return strings.Contains(c.where, "Nanosleep") })
	if i < 0 {
		t.Fatalf("the 20 ms sleep is not among the long system calls: %+v", tl.calls)
	}
	if d := tl.calls[i].dur; d < int64(15*time.Millisecond) {
		t.Errorf("the 20 ms sleep took %v", time.Duration(d))
	}
}

// startSpinners spins on one goroutine while another sleeps 20 ms in a
// system call, and waits for both.
func startSpinners() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 200 {
			spin(5000)
		}
	}()
	go func() {
		defer wg.Done()
		ts := syscall.NsecToTimespec(int64(20 * time.Millisecond))
		_ = syscall.Nanosleep(&ts, nil)
	}()
	wg.Wait()
}

// TestWaitsTrace adds up the waits of a trace this test records: a
// goroutine startWaiter starts blocks receiving from a channel that
// another fills after spinning ~20 ms. The waiter's group must have
// blocked that long in waitFor, and the report must say so.
func TestWaitsTrace(t *testing.T) {
	buf := record(t, startWaiter)
	wt := newWaits()
	if _, err := analyze(buf, 0, nil, wt); err != nil {
		t.Fatal(err)
	}
	var blocked int64
	for k, ns := range wt.blocked {
		if strings.HasSuffix(k.group, ".startWaiter") && strings.Contains(k.where, ".waitFor:") {
			blocked += ns
		}
	}
	if blocked < int64(15*time.Millisecond) {
		t.Errorf("the waiter blocked %v in waitFor, want ~20 ms: %v", time.Duration(blocked), wt.blocked)
	}
	var out bytes.Buffer
	wt.report(&out, 10)
	for _, s := range []string{".startWaiter | ", "waitFor:", "ready before a P ran it"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

// startWaiter starts a goroutine that waits for a value another sends
// after spinning ~20 ms, and waits for both.
func startWaiter() {
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		waitFor(ch)
	}()
	go func() {
		defer wg.Done()
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
			spin(5000)
		}
		ch <- 1
	}()
	wg.Wait()
}

// waitFor receives from ch.
//
//go:noinline
func waitFor(ch chan int) int { return <-ch }
