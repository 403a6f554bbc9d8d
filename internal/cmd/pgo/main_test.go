package main

import (
	"testing"

	"github.com/google/pprof/profile"
)

// cpuProfile makes a CPU profile whose samples, of 10 ms each, are n in
// function fn.
func cpuProfile(fn string, n int64) *profile.Profile {
	f := &profile.Function{ID: 1, Name: fn, SystemName: fn, Filename: "x.go"}
	loc := &profile.Location{ID: 1, Address: 0x1000, Line: []profile.Line{{Function: f, Line: 1}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10e6,
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{n, n * 10e6}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{f},
	}
}

// TestMergeEqually merges the profiles of a long command and of a short
// one: each must weigh the same in the result, and a profile without a
// sample must be left out rather than divide by zero.
func TestMergeEqually(t *testing.T) {
	long, short, empty := cpuProfile("main.long", 2000), cpuProfile("main.short", 5), cpuProfile("main.none", 0)
	empty.Sample = nil
	merged, err := mergeEqually([]*profile.Profile{long, short, empty})
	if err != nil {
		t.Fatal(err)
	}
	if err := merged.CheckValid(); err != nil {
		t.Fatalf("the merged profile is not valid: %v", err)
	}
	weight := map[string]int64{}
	for _, s := range merged.Sample {
		weight[s.Location[0].Line[0].Function.Name] += s.Value[1]
	}
	if weight["main.long"] != 2000*10e6 || weight["main.short"] != weight["main.long"] {
		t.Errorf("CPU time by function %v, want 20 s for each", weight)
	}
	if long.Sample[0].Value[1] != 2000*10e6 || short.Sample[0].Value[1] != 5*10e6 {
		t.Error("mergeEqually scaled the profiles it was given")
	}
	if _, err := mergeEqually([]*profile.Profile{empty}); err == nil {
		t.Error("profiles without samples merged without an error")
	}
}
