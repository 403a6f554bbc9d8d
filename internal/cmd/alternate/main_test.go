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
	if _, err := run("true"); err != nil {
		t.Fatalf("true: %v", err)
	}
	if _, err := run("false"); err == nil {
		t.Error("false: no error")
	}
}
