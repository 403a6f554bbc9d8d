package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// timeline splits a trace into buckets of equal length and adds up, in
// each, the running time of every group of goroutines. A goroutine's group
// is the place it was created, so the workers one function starts share a
// row of the legend; the goroutine a trace starts with (the program's
// main, for a trace that runtime/trace started there) is "main". It also
// keeps the system calls longer than a threshold, with the stack that
// made each: a goroutine in one holds its thread but runs no Go code, so
// a core can idle beside it with nothing ready (what the summary calls
// "idle, goroutines in system calls"). Times are nanoseconds.
type timeline struct {
	width    int64 // of a bucket
	longCall int64 // the shortest system call kept; 0 keeps none

	started bool
	start   int64

	group   map[uint64]int   // a goroutine's group, once it has run or been created
	groups  []string         // the groups' labels, in order of first appearance
	running map[uint64]int64 // the running goroutines, since when
	inCall  map[uint64]sysCall
	// busy[b][g] is group g's running time in bucket b.
	busy  [][]int64
	calls []sysCall // the long ones, in the order they ended
}

// sysCall is a system call a goroutine made: when it began, how long it
// took and where it was made.
type sysCall struct {
	g          uint64
	start, dur int64
	where      string
}

// Labels of the goroutines a trace does not show created: goroutine 1,
// and the others.
const (
	mainGroup    = "main"
	earlierGroup = "(created before the trace began)"
)

// uncreatedGroup is the group of goroutine g, which the trace does not
// show created: mainGroup for the trace's first goroutine (the program's
// main, for a trace that runtime/trace started there), earlierGroup for
// the others.
func uncreatedGroup(g uint64) string {
	if g == 1 {
		return mainGroup
	}
	return earlierGroup
}

func newTimeline(width, longCall int64) *timeline {
	return &timeline{
		width: max(width, 1), longCall: longCall,
		group: map[uint64]int{}, running: map[uint64]int64{}, inCall: map[uint64]sysCall{},
	}
}

// groupOf returns the index of the group labelled label, adding it.
func (tl *timeline) groupOf(label string) int {
	if i := slices.Index(tl.groups, label); i >= 0 {
		return i
	}
	tl.groups = append(tl.groups, label)
	return len(tl.groups) - 1
}

// created records that goroutine g was created at the place where.
func (tl *timeline) created(g uint64, where string) {
	tl.group[g] = tl.groupOf(where)
}

// transition records goroutine g going from one state to another at now;
// where is the stack of a system call it enters.
func (tl *timeline) transition(now int64, g uint64, from, to gstate, where string) {
	if !tl.started {
		tl.started, tl.start = true, now
	}
	if _, ok := tl.group[g]; !ok {
		tl.group[g] = tl.groupOf(uncreatedGroup(g))
	}
	if from == gRunning {
		if since, ok := tl.running[g]; ok {
			tl.add(tl.group[g], since, now)
			delete(tl.running, g)
		}
	}
	if to == gRunning {
		tl.running[g] = now
	}
	if from == gSyscall {
		if c, ok := tl.inCall[g]; ok {
			delete(tl.inCall, g)
			if c.dur = now - c.start; tl.longCall > 0 && c.dur >= tl.longCall {
				tl.calls = append(tl.calls, c)
			}
		}
	}
	if to == gSyscall {
		tl.inCall[g] = sysCall{g: g, start: now, where: where}
	}
}

// add adds the running time [from, to) to group gr's buckets.
func (tl *timeline) add(gr int, from, to int64) {
	for t := max(from, tl.start); t < to; {
		b := int((t - tl.start) / tl.width)
		end := min(to, tl.start+int64(b+1)*tl.width)
		for len(tl.busy) <= b {
			tl.busy = append(tl.busy, nil)
		}
		for len(tl.busy[b]) <= gr {
			tl.busy[b] = append(tl.busy[b], 0)
		}
		tl.busy[b][gr] += end - t
		t = end
	}
}

// finish closes the running intervals at the trace's end.
func (tl *timeline) finish(end int64) {
	for g, since := range tl.running {
		tl.add(tl.group[g], since, end)
	}
	clear(tl.running)
}

// report writes the legend, groups with the most running time first,
// each with a letter; a row per bucket: its start, how busy it kept the
// Ps (100% a P), and each group's share; then the long system calls.
func (tl *timeline) report(w io.Writer) {
	total := make([]int64, len(tl.groups))
	for _, row := range tl.busy {
		for g, v := range row {
			total[g] += v
		}
	}
	order := make([]int, len(tl.groups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(total[b], total[a]) })
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	shown := min(len(order), len(letters))
	fmt.Fprintln(w, "timeline: running time by where the goroutines were created")
	for i, g := range order[:shown] {
		fmt.Fprintf(w, "  %c  %8.1f ms  %s\n", letters[i], float64(total[g])/1e6, tl.groups[g])
	}
	if len(order) > shown {
		fmt.Fprintf(w, "  (%d more groups, in the busy column only)\n", len(order)-shown)
	}
	for b, row := range tl.busy {
		var sum int64
		var sb strings.Builder
		for i, g := range order {
			if g >= len(row) {
				continue
			}
			sum += row[g]
			if pct := 100 * row[g] / tl.width; i < shown && pct >= 5 {
				fmt.Fprintf(&sb, " %c%3d", letters[i], pct)
			}
		}
		fmt.Fprintf(w, "  %8.1f ms %4d%% |%s\n", float64(int64(b)*tl.width)/1e6, 100*sum/tl.width, sb.String())
	}
	if tl.longCall <= 0 {
		return
	}
	fmt.Fprintf(w, "system calls of %.2f ms or more:\n", float64(tl.longCall)/1e6)
	if len(tl.calls) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range tl.calls {
		fmt.Fprintf(w, "  at %8.1f ms, %7.2f ms, goroutine %d (%s): %s\n",
			float64(c.start-tl.start)/1e6, float64(c.dur)/1e6, c.g, tl.groups[tl.group[c.g]], c.where)
	}
}
