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

// tally adds up, over a trace, the P time that ran goroutines and the P
// time left idle, by why it was idle: a goroutine was ready but no P had
// picked it up yet (the wake-up of an idle P is slow), a goroutine was in
// a system call (its thread busy in the kernel), or nothing was ready.
// Times are nanoseconds; P time is nanoseconds times Ps.
type tally struct {
	procs   int
	started bool
	last    int64

	running, syscall int
	// ready holds the runnable goroutines and where each was made ready.
	ready map[uint64]string

	span, busy                          float64
	idleReady, idleSyscall, idleNothing float64
	// blame shares the idle P time of each interval with runnable
	// goroutines among them, by where they were made ready.
	blame map[string]float64
}

func newTally(procs int) *tally {
	return &tally{procs: procs, ready: map[uint64]string{}, blame: map[string]float64{}}
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
	p := float64(t.procs)
	run := float64(min(t.running, t.procs))
	t.span += p * dt
	t.busy += run * dt
	idle := (p - run) * dt
	switch {
	case idle == 0:
	case len(t.ready) > 0:
		t.idleReady += idle
		share := idle / float64(len(t.ready))
		for _, where := range t.ready {
			t.blame[where] += share
		}
	case t.syscall > 0:
		t.idleSyscall += idle
	default:
		t.idleNothing += idle
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

func (t *tally) summary() summary {
	s := summary{Span: t.span, Procs: t.procs}
	if t.span == 0 {
		return s
	}
	s.Busy, s.IdleReady = t.busy/t.span, t.idleReady/t.span
	s.IdleSyscall, s.IdleNothing = t.idleSyscall/t.span, t.idleNothing/t.span
	for where, v := range t.blame {
		s.Wakers = append(s.Wakers, waker{where, v / t.span})
	}
	slices.SortFunc(s.Wakers, func(a, b waker) int {
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return cmp.Compare(a.Where, b.Where)
	})
	return s
}
