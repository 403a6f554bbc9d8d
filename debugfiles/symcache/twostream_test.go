package symcache

import (
	"math/rand/v2"
	"testing"
)

// TestTwoStreams writes pages of random fields, some in the tag stream
// and some in the field stream as the writer does (highBits drained at
// each page's end), and reads every page back as the reader does: the
// tag stream from the page's start with load56, the field stream from its
// end with loadBack, each field in the order it was put.
func TestTwoStreams(t *testing.T) {
	type field struct {
		v    uint64
		n    uint
		high bool
	}
	rng := rand.New(rand.NewPCG(6, 5))
	var w bitWriter
	var h highBits
	var pages [][]field
	var starts []uint64
	for range 300 {
		var fs []field
		for range rng.IntN(40) {
			n := uint(rng.IntN(57)) // load56 and loadBack give 56 bits
			if rng.IntN(4) == 0 {
				n = uint(rng.IntN(9)) // codes are short
			}
			f := field{v: rng.Uint64() & (1<<n - 1), n: n, high: rng.IntN(2) == 0}
			if f.high {
				h.put(f.v, f.n)
			} else {
				w.put(f.v, f.n)
			}
			fs = append(fs, f)
		}
		h.drain(&w)
		pages = append(pages, fs)
		starts = append(starts, w.bits)
	}
	w.flush()
	b := w.out
	pos := uint64(0)
	for k, fs := range pages {
		stop := starts[k]
		lo, hi := pos, stop
		for i, f := range fs {
			if f.high {
				got := loadBack(b, hi) >> 1 >> ((63 - f.n) & 63)
				if got != f.v {
					t.Fatalf("page %d field %d (%d bits, field stream): read %#x, want %#x", k, i, f.n, got, f.v)
				}
				hi -= uint64(f.n)
				continue
			}
			if got := load56(b, lo) & (1<<f.n - 1); got != f.v {
				t.Fatalf("page %d field %d (%d bits, tag stream): read %#x, want %#x", k, i, f.n, got, f.v)
			}
			lo += uint64(f.n)
		}
		if lo != hi {
			t.Fatalf("page %d: the streams end at bits %d and %d, want them to meet", k, lo, hi)
		}
		pos = stop
	}
	// Bits before the start and past the end read as 0.
	if got := loadBack(b, 3) >> 61; got != uint64(b[0]&7) {
		t.Errorf("loadBack at bit 3: top bits %b, want %b", got, b[0]&7)
	}
	if got := loadBack(b, 8*uint64(len(b))+40); got>>24 != 0 {
		t.Errorf("loadBack past the end: %#x, want 40 zero bits first", got)
	}
}
