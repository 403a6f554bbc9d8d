package breakpad

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type testRange struct{ start, end, id uint64 }

func (r testRange) Range() (uint64, uint64) { return r.start, r.end }

// firstWinsReference is FirstWins spelled out: every record against every
// one kept before it, then sorted.
func firstWinsReference(rs []testRange) []testRange {
	var kept []testRange
	for _, r := range rs {
		overlaps := false
		for _, k := range kept {
			if r.start < k.end && k.start < r.end {
				overlaps = true
			}
		}
		if !overlaps {
			kept = append(kept, r)
		}
	}
	slices.SortFunc(kept, func(a, b testRange) int { return int(a.start) - int(b.start) })
	return kept
}

func TestFirstWins(t *testing.T) {
	sorted := []testRange{{0, 10, 0}, {10, 20, 1}, {30, 40, 2}}
	if got := FirstWins(sorted); &got[0] != &sorted[0] || len(got) != 3 {
		t.Errorf("sorted, disjoint records were copied or changed: %v", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		rs := make([]testRange, rng.IntN(12))
		for i := range rs {
			s := uint64(rng.IntN(60))
			rs[i] = testRange{s, s + 1 + uint64(rng.IntN(15)), uint64(i)}
		}
		got, want := FirstWins(slices.Clone(rs)), firstWinsReference(rs)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: FirstWins(%v) = %v, want %v", round, rs, got, want)
		}
	}
}
