package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ts []time.Duration
	for _, v := range []int{9, 1, 5, 3, 7} {
		ts = append(ts, time.Duration(v)*time.Millisecond)
	}
	got := summarize(ts)
	want := stats{min: time.Millisecond, q1: 3 * time.Millisecond, median: 5 * time.Millisecond, q3: 7 * time.Millisecond}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if ts[0] != 9*time.Millisecond {
		t.Error("summarize reordered its argument")
	}
}

func TestRun(t *testing.T) {
	if _, _, err := run("true"); err != nil {
		t.Fatalf("true: %v", err)
	}
	if _, _, err := run("false"); err == nil {
		t.Error("false: no error")
	}
	// dd copying 1 GB of zeros spends its time on a core: its CPU time
	// is most of its wall time, and on one process no more than the
	// wall time.
	wall, cpu, err := run("dd if=/dev/zero of=/dev/null bs=1M count=1000")
	if err != nil {
		t.Fatalf("dd: %v", err)
	}
	if cpu < wall/4 || cpu > wall {
		t.Errorf("dd: CPU time %v for a wall time of %v", cpu, wall)
	}
}

func TestMedianRatio(t *testing.T) {
	if got := medianRatio([]float64{3, 1, 2}); got != 2 {
		t.Errorf("medianRatio = %v, want 2", got)
	}
}
