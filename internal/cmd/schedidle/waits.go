package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/exp/trace"
)

// waits adds up, for each group of goroutines (the place they were
// created, as the timeline groups them), the time they spent blocked, by
// the code they blocked in, and the time they spent ready for a P that
// had not run them yet. A pipeline's stage that the others wait for shows
// as the group that hardly waits while the others block receiving from
// it; a stage that waits at every hand-over for its partner to be
// scheduled shows as time blocked in that hand-over. Times are
// nanoseconds.
type waits struct {
	group map[uint64]string
	// since is when a goroutine blocked or became ready, and at where it
	// blocked.
	since   map[uint64]int64
	at      map[uint64]string
	blocked map[waitKey]int64
	ready   map[string]int64
}

// waitKey is a group and the code its goroutines blocked in.
type waitKey struct{ group, where string }

func newWaits() *waits {
	return &waits{
		group: map[uint64]string{}, since: map[uint64]int64{}, at: map[uint64]string{},
		blocked: map[waitKey]int64{}, ready: map[string]int64{},
	}
}

// created records the function goroutine g was created in.
func (w *waits) created(g uint64, where string) { w.group[g] = where }

// groupOf returns the group of goroutine g.
func (w *waits) groupOf(g uint64) string {
	if label, ok := w.group[g]; ok {
		return label
	}
	return uncreatedGroup(g)
}

// transition records goroutine g going from one state to another at now;
// where is the code it blocked in when it goes from running to waiting.
func (w *waits) transition(now int64, g uint64, from, to trace.GoState, where string) {
	switch {
	case from == trace.GoRunning && to == trace.GoWaiting:
		w.since[g], w.at[g] = now, where
	case from == trace.GoWaiting && to == trace.GoRunnable:
		if t, ok := w.since[g]; ok {
			w.blocked[waitKey{w.groupOf(g), w.at[g]}] += now - t
		}
		w.since[g] = now
	case to == trace.GoRunnable:
		w.since[g] = now
	case from == trace.GoRunnable && to == trace.GoRunning:
		if t, ok := w.since[g]; ok {
			w.ready[w.groupOf(g)] += now - t
		}
		delete(w.since, g)
	}
}

// report writes the top longest waits of each kind, the time of all the
// goroutines of a group added up.
func (w *waits) report(out io.Writer, top int) {
	type wait struct {
		label string
		ns    int64
	}
	var blocked, ready []wait
	for k, ns := range w.blocked {
		blocked = append(blocked, wait{k.group + " | " + k.where, ns})
	}
	for g, ns := range w.ready {
		ready = append(ready, wait{g, ns})
	}
	longest := func(a, b wait) int { return cmp.Or(cmp.Compare(b.ns, a.ns), strings.Compare(a.label, b.label)) }
	slices.SortFunc(blocked, longest)
	slices.SortFunc(ready, longest)
	fmt.Fprintln(out, "where each group of goroutines blocked (group | the code it blocked in), in all:")
	for i, b := range blocked {
		if i == top {
			break
		}
		fmt.Fprintf(out, "  %8.2f ms  %s\n", float64(b.ns)/1e6, b.label)
	}
	fmt.Fprintln(out, "how long each group was ready before a P ran it, in all:")
	for i, r := range ready {
		if i == top {
			break
		}
		fmt.Fprintf(out, "  %8.2f ms  %s\n", float64(r.ns)/1e6, r.label)
	}
}

// callers names the innermost n frames of a stack outside the runtime and
// package sync: the code that blocked, not the channel or lock it blocked
// on.
func callers(st trace.Stack, n int) string { return joinFrames(st, n, inRuntime) }
