// Command schedidle reads a Go execution trace and tells how busy the
// program kept its Ps (the cores Go runs goroutines on), and why the idle
// ones were idle: a goroutine had been made ready but no P had picked it
// up yet, a goroutine was in a system call, or nothing was ready. For the
// first, it names where the waiting goroutines were made ready.
//
//	go test ./debugfiles/symcache -run '^$' -bench 'Build$' -benchtime 10x -trace /tmp/build.trace
//	go run ./internal/cmd/schedidle [-top N] [-procs N] /tmp/build.trace
//
// With -waits it also lists where each group of goroutines (by the
// function that created them) blocked, and for how long, and how long it
// was ready before a P ran it: in a pipeline, the stage the others wait
// for hardly waits itself.
//
// With -timeline it also lays the trace out in intervals of that length:
// for each, how busy the Ps were and which goroutines ran, grouped by the
// function that created them, so that the stretches where one core
// idles show, and whose work fills the other; -syscalls adds the system
// calls that took at least its length, with their stacks. The cairn
// binary records a trace of any command into the file CAIRN_TRACE names:
//
//	CAIRN_TRACE=/tmp/cli.trace cairn symcache build BIN -o out.symcache
//	go run ./internal/cmd/schedidle -timeline 2ms -syscalls 1ms /tmp/cli.trace
//
// On the virtual machines BENCHMARKS.md describes, an idle core takes tens
// of microseconds to wake: the Go scheduler puts a goroutine that a
// channel operation readies on the waker's P, and an idle P takes it only
// after a sleep (runqgrab's usleep(3), ~50 µs with Linux's default timer
// slack). A pipeline of goroutines that hand work to each other loses
// that time at every handoff; this tool measures how much.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/exp/trace"
)

func main() {
	top := flag.Int("top", 10, "how many places that made waiting goroutines ready to list")
	procs := flag.Int("procs", 0, "the number of Ps (GOMAXPROCS) the program ran with; 0: the Ps the trace shows")
	every := flag.Duration("timeline", 0, "also print, for every interval this long (2ms, say), how busy the Ps were and which goroutines ran, grouped by where they were created")
	calls := flag.Duration("syscalls", 0, "with -timeline, also list the system calls that took this long or longer, with their stacks")
	waited := flag.Bool("waits", false, "also list where each group of goroutines (by where they were created) blocked, and for how long, and how long it was ready before a P ran it")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: schedidle [-top N] [-procs N] [-waits] [-timeline D [-syscalls D]] TRACE")
		fmt.Fprintln(os.Stderr, "TRACE is a Go execution trace: go test -trace FILE, or runtime/trace.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "schedidle:", err)
		os.Exit(1)
	}
	defer f.Close()
	if *calls > 0 && *every <= 0 {
		fmt.Fprintln(os.Stderr, "schedidle: -syscalls lists the long system calls under the timeline: give -timeline too (-timeline 2ms, say)")
		os.Exit(2)
	}
	var tl *timeline
	if *every > 0 {
		tl = newTimeline(every.Nanoseconds(), calls.Nanoseconds())
	}
	var wt *waits
	if *waited {
		wt = newWaits()
	}
	s, err := analyze(f, *procs, tl, wt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "schedidle: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	report(os.Stdout, s, *top)
	if wt != nil {
		wt.report(os.Stdout, *top)
	}
	if tl != nil {
		tl.report(os.Stdout)
	}
}

// analyze tallies the trace read from r, lays it out on tl and adds up the
// goroutines' waits on wt, each when not nil. With procs 0, the Ps are
// those the trace's events ran on.
func analyze(r io.Reader, procs int, tl *timeline, wt *waits) (summary, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return summary{}, err
	}
	t := newTally()
	seen := map[trace.ProcID]bool{}
	var end trace.Time
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return summary{}, err
		}
		if p := ev.Proc(); p != trace.NoProc {
			seen[p] = true
		}
		end = max(end, ev.Time())
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		from, to := st.Goroutine()
		g := uint64(st.Resource.Goroutine())
		var where string
		if to == trace.GoRunnable {
			where = frames(ev.Stack(), 3)
		}
		t.transition(int64(ev.Time()), g, state(from), state(to), where)
		if wt != nil {
			var at string
			if from == trace.GoRunning && to == trace.GoWaiting {
				at = callers(st.Stack, 3)
			}
			if from == trace.GoNotExist {
				wt.created(g, creator(ev.Stack()))
			}
			wt.transition(int64(ev.Time()), g, from, to, at)
		}
		if tl == nil {
			continue
		}
		var stack string
		switch {
		case from == trace.GoNotExist:
			// The event's stack is its creator's, at the go statement.
			tl.created(g, creator(ev.Stack()))
		case to == trace.GoSyscall:
			stack = frames(ev.Stack(), 5)
		}
		tl.transition(int64(ev.Time()), g, state(from), state(to), stack)
	}
	if tl != nil {
		tl.finish(int64(end))
	}
	if procs <= 0 {
		procs = len(seen)
	}
	return t.summary(procs), nil
}

// state maps a trace's goroutine state to a tally's.
func state(s trace.GoState) gstate {
	switch s {
	case trace.GoRunning:
		return gRunning
	case trace.GoRunnable:
		return gRunnable
	case trace.GoSyscall:
		return gSyscall
	}
	return gOther
}

// frames names the innermost n frames of a stack, the module's own
// packages without their path.
func frames(st trace.Stack, n int) string {
	return joinFrames(st, n, func(string) bool { return false })
}

// joinFrames names the innermost n frames of a stack whose function skip
// does not reject, the module's own packages without their path.
func joinFrames(st trace.Stack, n int, skip func(fn string) bool) string {
	var b strings.Builder
	i := 0
	for f := range st.Frames() {
		if skip(f.Func) {
			continue
		}
		if i == n {
			break
		}
		if i > 0 {
			b.WriteString(" ← ")
		}
		fmt.Fprintf(&b, "%s:%d", strings.TrimPrefix(f.Func, "github.com/cairn-dev/cairn/"), f.Line)
		i++
	}
	if i == 0 {
		return "(no stack)"
	}
	return b.String()
}

// inRuntime reports whether function fn is the runtime's or package
// sync's, whose frames sit between a goroutine's own code and the channel,
// lock or go statement a trace event stopped at.
func inRuntime(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "sync.")
}

// creator names the function a goroutine was created in: the innermost
// frame of its creation stack outside the runtime and package sync (whose
// WaitGroup.Go starts goroutines for its callers).
func creator(st trace.Stack) string {
	for f := range st.Frames() {
		if inRuntime(f.Func) {
			continue
		}
		return strings.TrimPrefix(f.Func, "github.com/cairn-dev/cairn/")
	}
	return "(no stack)"
}

// report writes the summary and the top places that made waiting
// goroutines ready.
func report(w io.Writer, s summary, top int) {
	fmt.Fprintf(w, "trace: %.1f ms over %d Ps\n", s.Span/1e6/float64(max(s.Procs, 1)), s.Procs)
	fmt.Fprintf(w, "  busy                             %5.1f%%\n", 100*s.Busy)
	fmt.Fprintf(w, "  idle, a goroutine was ready      %5.1f%%  (made ready, not yet picked up by an idle P)\n", 100*s.IdleReady)
	fmt.Fprintf(w, "  idle, goroutines in system calls %5.1f%%  (their threads busy in the kernel)\n", 100*s.IdleSyscall)
	fmt.Fprintf(w, "  idle, nothing ready              %5.1f%%\n", 100*s.IdleNothing)
	if len(s.Wakers) == 0 || top <= 0 {
		return
	}
	fmt.Fprintln(w, "where the goroutines that waited beside an idle P were made ready:")
	for i, k := range s.Wakers {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %5.2f%%  %s\n", 100*k.Share, k.Where)
	}
}
