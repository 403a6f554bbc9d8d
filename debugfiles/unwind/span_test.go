package unwind

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInnermost pins how overlapping spans are resolved: the span
// starting later owns the shared addresses, and the span it cuts is kept
// on both sides.
func TestInnermost(t *testing.T) {
	tests := []struct {
		name string
		in   []Span
		want []Span
	}{
		{"none", nil, nil},
		{"disjoint", []Span{{0, 4, 0}, {4, 10, 1}, {20, 30, 2}}, []Span{{0, 4, 0}, {4, 10, 1}, {20, 30, 2}}},
		{"nested", []Span{{0, 4, 0}, {4, 100, 1}, {50, 52, 2}, {52, 60, 3}},
			[]Span{{0, 4, 0}, {4, 50, 1}, {50, 52, 2}, {52, 60, 3}, {60, 100, 1}}},
		{"same start", []Span{{10, 40, 0}, {10, 20, 1}}, []Span{{10, 20, 1}, {20, 40, 0}}},
		{"same start, outer later", []Span{{10, 20, 0}, {10, 40, 1}}, []Span{{10, 40, 1}}},
		{"partial", []Span{{0, 30, 0}, {20, 50, 1}}, []Span{{0, 20, 0}, {20, 50, 1}}},
		{"unsorted", []Span{{50, 60, 1}, {0, 100, 0}}, []Span{{0, 50, 0}, {50, 60, 1}, {60, 100, 0}}},
		{"empty and inverted", []Span{{0, 10, 0}, {5, 5, 1}, {8, 2, 2}}, []Span{{0, 10, 0}}},
		{"deep, ends shared", []Span{{0, 10, 0}, {1, 10, 1}, {2, 10, 2}}, []Span{{0, 1, 0}, {1, 2, 1}, {2, 10, 2}}},
		{"resumes after a gap inside", []Span{{0, 100, 0}, {10, 20, 1}, {20, 30, 2}, {40, 50, 3}},
			[]Span{{0, 10, 0}, {10, 20, 1}, {20, 30, 2}, {30, 40, 0}, {40, 50, 3}, {50, 100, 0}}},
		{"to the top of the address space", []Span{{1 << 63, ^uint64(0), 0}, {^uint64(0) - 1, ^uint64(0), 1}},
			[]Span{{1 << 63, ^uint64(0) - 1, 0}, {^uint64(0) - 1, ^uint64(0), 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Innermost(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// owner answers for one address by the definition Innermost resolves
// every address by: of the spans covering addr, the last in spans once
// sorted stably by start.
func owner(sorted []Span, addr uint64) (int, bool) {
	for k := len(sorted) - 1; k >= 0; k-- {
		if s := sorted[k]; s.Start <= addr && addr < s.End {
			return s.Item, true
		}
	}
	return 0, false
}

// TestInnermostAgainstDefinition compares, on random overlapping spans
// and on deep nestings, a lookup in the resolved pieces (Owner) with the
// answer of the definition at every address, and checks that the pieces
// are disjoint, in order, non-empty, and at most twice the spans.
func TestInnermostAgainstDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var inputs [][]Span
	for range 300 {
		n := r.IntN(12)
		in := make([]Span, n)
		for k := range in {
			s := uint64(r.IntN(64))
			in[k] = Span{s, s + uint64(r.IntN(40)) - 4, k}
		}
		inputs = append(inputs, in)
	}
	// Nested with a shared end, nested with decreasing ends, and one
	// span that encloses many small ones: the shapes that make a walk
	// back, or cutting pieces one span at a time, quadratic.
	var shared, shrinking, enclosing []Span
	for k := range 2000 {
		shared = append(shared, Span{uint64(k), 4000, k})
		shrinking = append(shrinking, Span{uint64(k), uint64(4000 - k), k})
		enclosing = append(enclosing, Span{uint64(2 * k), uint64(2*k + 1), k})
	}
	enclosing = append(enclosing, Span{0, 4000, 2000})
	inputs = append(inputs, shared, shrinking, enclosing)
	for _, in := range inputs {
		sorted := slices.Clone(in)
		slices.SortStableFunc(sorted, func(x, y Span) int { return cmp.Compare(x.Start, y.Start) })
		got := Innermost(slices.Clone(in))
		if len(got) > 2*len(in) {
			t.Fatalf("%d pieces for %d spans", len(got), len(in))
		}
		for k, p := range got {
			if p.Start >= p.End || k > 0 && got[k-1].End > p.Start {
				t.Fatalf("piece %d %v after %v: not disjoint, in order and non-empty", k, p, got[max(k-1, 0)])
			}
		}
		for addr := uint64(0); addr < 4100; addr++ {
			wi, wok := owner(sorted, addr)
			gi, gok := Owner(got, addr)
			if wi != gi || wok != gok {
				t.Fatalf("%d spans, address %d: got %d %v, want %d %v", len(in), addr, gi, gok, wi, wok)
			}
		}
	}
}
