package radix

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

type rec struct {
	key uint64
	seq int
}

func byKey(r *rec) uint64 { return r.key }

// TestSortStable compares SortStable with the standard library's stable
// sort on random inputs of every size up to a few radix passes' worth:
// keys drawn from narrow and wide ranges, so that many are equal (order
// kept) and bytes vary at every position.
func TestSortStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	masks := []uint64{0, 1, 0xff, 0xff00, 0xffff_ffff, 0xff00_0000_0000_0000, ^uint64(0)}
	for _, mask := range masks {
		for _, n := range []int{0, 1, 2, 3, smallSort - 1, smallSort, smallSort + 1, 100, 1000, 5000} {
			s := make([]rec, n)
			for i := range s {
				s[i] = rec{rng.Uint64() & mask, i}
			}
			want := slices.Clone(s)
			slices.SortStableFunc(want, func(a, b rec) int { return cmp.Compare(a.key, b.key) })
			SortStable(s, byKey)
			if !slices.Equal(s, want) {
				t.Fatalf("mask %#x, %d elements: not the stable order", mask, n)
			}
		}
	}
}

// FuzzSortStable checks the stable order on any keys.
func FuzzSortStable(f *testing.F) {
	f.Add([]byte{3, 1, 2, 1, 0, 255, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := make([]rec, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			s = append(s, rec{uint64(b[i]) << (8 * (b[i+1] % 8)), len(s)})
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, func(a, b rec) int { return cmp.Compare(a.key, b.key) })
		SortStable(s, byKey)
		if !slices.Equal(s, want) {
			t.Fatalf("not the stable order: %v", s)
		}
	})
}

func BenchmarkSortStable(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]rec, 4000)
	for i := range src {
		src[i] = rec{uint64(0x7c800000 + rng.IntN(1<<20)), i}
	}
	s := make([]rec, len(src))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(s, src)
			SortStable(s, byKey)
		}
	})
	b.Run("slices.SortStableFunc", func(b *testing.B) {
		for b.Loop() {
			copy(s, src)
			slices.SortStableFunc(s, func(a, b rec) int { return cmp.Compare(a.key, b.key) })
		}
	})
}

// TestUint64s compares Uint64s with a stable sort by the shifted value,
// for shifts that cut bytes and that do not.
func TestUint64s(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, shift := range []uint{0, 3, 8, 32, 63, 64} {
		for _, n := range []int{0, 1, 2, 10, 1000} {
			for _, mask := range []uint64{0xff, 0xffff_ffff, ^uint64(0)} {
				s := make([]uint64, n)
				for i := range s {
					s[i] = rng.Uint64() & mask
				}
				want := slices.Clone(s)
				if shift < 64 {
					slices.SortStableFunc(want, func(a, b uint64) int { return cmp.Compare(a>>shift, b>>shift) })
				}
				Uint64s(s, shift)
				if !slices.Equal(s, want) {
					t.Fatalf("shift %d, mask %#x, %d values: not the stable order", shift, mask, n)
				}
			}
		}
	}
}
