package main

import (
	"cmp"
	"slices"
)

// gstate is a goroutine's state as a tally counts it.
type gstate uint8

const (
	gOther    gstate = iota // blocked, waiting, not yet created or gone
	gRunning                // running on a P
	gRunnable               // ready, waiting for a P to run it
	gSyscall                // in a system call, holding its thread
)

// tally adds up, over a trace, the time spent with each number of
// goroutines running, split by what the others were doing: some ready but
// not yet running, some in system calls (their threads busy in the
// kernel), or nothing. From it, summary finds for any number of Ps the P
// time that ran goroutines and the P time left idle, and why; the number
// of Ps need not be known while the trace is read. Times are nanoseconds.
type tally struct {
	started bool
	last    int64

	running, syscall int
	// ready holds the runnable goroutines and where each was made ready.
	ready map[uint64]string

	// spent is the time spent with each number of goroutines running
	// (the last counts that many or more), by what the others did.
	spent [maxRunning + 1][numWhy]float64
	// blame shares the time spent with goroutines ready among them, by
	// where they were made ready and how many goroutines were running.
	blame map[blameKey]float64
}

// blameKey is where goroutines were made ready, and how many others ran
// while they waited.
type blameKey struct {
	where   string
	running int
}

// maxRunning bounds the numbers of running goroutines a tally tells
// apart: as many as the Ps of any machine this runs on.
const maxRunning = 1024

// why is what the goroutines that were not running did.
type why uint8

const (
	whyReady   why = iota // some were ready
	whySyscall            // none was ready, some were in system calls
	whyNothing            // none was either
	numWhy
)

func newTally() *tally {
	return &tally{ready: map[uint64]string{}, blame: map[blameKey]float64{}}
}

// advance accounts for the time from the last event to now.
func (t *tally) advance(now int64) {
	if !t.started {
		t.started, t.last = true, now
		return
	}
	if now <= t.last {
		return
	}
	dt := float64(now - t.last)
	t.last = now
	r := min(t.running, maxRunning)
	switch {
	case len(t.ready) > 0:
		t.spent[r][whyReady] += dt
		share := dt / float64(len(t.ready))
		for _, where := range t.ready {
			t.blame[blameKey{where, r}] += share
		}
	case t.syscall > 0:
		t.spent[r][whySyscall] += dt
	default:
		t.spent[r][whyNothing] += dt
	}
}

// transition records goroutine g going from one state to another at now;
// where tells, for a goroutine made ready, what made it so.
func (t *tally) transition(now int64, g uint64, from, to gstate, where string) {
	t.advance(now)
	switch from {
	case gRunning:
		t.running--
	case gSyscall:
		t.syscall--
	case gRunnable:
		delete(t.ready, g)
	}
	switch to {
	case gRunning:
		t.running++
	case gSyscall:
		t.syscall++
	case gRunnable:
		t.ready[g] = where
	}
	// A trace cut while goroutines ran can end a state it never began.
	t.running, t.syscall = max(t.running, 0), max(t.syscall, 0)
}

// summary is what a tally found, as fractions of the P time.
type summary struct {
	Span                                      float64 // P time, in nanoseconds
	Procs                                     int
	Busy, IdleReady, IdleSyscall, IdleNothing float64
	Wakers                                    []waker // most idle time first
}

// waker is a place that made goroutines ready that then waited on an
// idle P, with its share of the P time.
type waker struct {
	Where string
	Share float64
}

// summary is the tally's findings for a program that ran on procs Ps:
// over an interval with r goroutines running, min(r, procs) Ps were busy
// and the others idle, for the reason the interval was counted under.
func (t *tally) summary(procs int) summary {
	procs = max(procs, 1)
	s := summary{Procs: procs}
	var busy float64
	var idle [numWhy]float64
	for r := range t.spent {
		for w, dt := range t.spent[r] {
			s.Span += float64(procs) * dt
			busy += float64(min(r, procs)) * dt
			idle[w] += float64(max(procs-r, 0)) * dt
		}
	}
	if s.Span == 0 {
		return s
	}
	s.Busy = busy / s.Span
	s.IdleReady, s.IdleSyscall, s.IdleNothing = idle[whyReady]/s.Span, idle[whySyscall]/s.Span, idle[whyNothing]/s.Span
	shares := map[string]float64{}
	for k, dt := range t.blame {
		if k.running < procs {
			shares[k.where] += float64(procs-k.running) * dt / s.Span
		}
	}
	for where, v := range shares {
		s.Wakers = append(s.Wakers, waker{where, v})
	}
	slices.SortFunc(s.Wakers, func(a, b waker) int {
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return cmp.Compare(a.Where, b.Where)
	})
	return s
}
