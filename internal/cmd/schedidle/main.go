// Command schedidle reads a Go execution trace and tells how busy the
// program kept its Ps (the cores Go runs goroutines on), and why the idle
// ones were idle: a goroutine had been made ready but no P had picked it
// up yet, a goroutine was in a system call, or nothing was ready. For the
// first, it names where the waiting goroutines were made ready.
//
//	go test ./debugfiles/symcache -run '^$' -bench 'Build$' -benchtime 10x -trace /tmp/build.trace
//	go run ./internal/cmd/schedidle [-top N] [-procs N] /tmp/build.trace
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
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: schedidle [-top N] [-procs N] TRACE")
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
	s, err := analyze(f, *procs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "schedidle: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	report(os.Stdout, s, *top)
}

// analyze tallies the trace read from r. With procs 0, the Ps are those
// the trace's events ran on.
func analyze(r io.Reader, procs int) (summary, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return summary{}, err
	}
	t := newTally()
	seen := map[trace.ProcID]bool{}
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
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		from, to := st.Goroutine()
		var where string
		if to == trace.GoRunnable {
			where = frames(ev.Stack(), 3)
		}
		t.transition(int64(ev.Time()), uint64(st.Resource.Goroutine()), state(from), state(to), where)
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
	var b strings.Builder
	i := 0
	for f := range st.Frames() {
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
