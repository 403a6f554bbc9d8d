package dwarf

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestReadRngListOffsetPairs checks a DWARF 5 range list whose offset
// pairs take one, two and three bytes each, between base address entries
// and near the end of the section, where the inline reading of the
// common pairs gives way to the general one.
func TestReadRngListOffsetPairs(t *testing.T) {
	var sec []byte
	var want []addrRange
	base := uint64(0x400000)
	pair := func(lo, hi uint64) {
		sec = append(sec, rleOffsetPair)
		sec = binary.AppendUvarint(sec, lo)
		sec = binary.AppendUvarint(sec, hi)
		want = append(want, addrRange{base + lo, base + hi})
	}
	for _, v := range []uint64{0, 5, 127, 128, 200, 16383, 16384, 20000, 1 << 30} {
		pair(v, v+3)
		pair(v, v+300)
		pair(3, v+1)
	}
	sec = append(sec, rleBaseAddress)
	base = 0x7000000
	sec = binary.LittleEndian.AppendUint64(sec, base)
	pair(1, 2)
	pair(300, 20000)
	sec = append(sec, rleEndOfList)
	c := &addrCtx{addrSize: 8}
	got, err := readRngList(sec, 0, 0x400000, c, nil, &budget{left: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ranges %x, want %x", got, want)
	}
	// Without its end the list is cut short, after the ranges it holds.
	got, err = readRngList(sec[:len(sec)-1], 0, 0x400000, c, nil, &budget{left: 1 << 20})
	if err == nil || !reflect.DeepEqual(got, want) {
		t.Errorf("a list without its end: %v and %d ranges, want an error after %d", err, len(got), len(want))
	}
}

// TestSortRanges checks sortRanges against a plain sort by start, on
// ranges in the walk's order (descending within units, units ascending),
// with repeated starts, and in random order.
func TestSortRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	byLo := func(a, b addrRange) int {
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return cmp.Compare(a.hi, b.hi)
	}
	for i := range 300 {
		var rs []addrRange
		base := uint64(0x1000)
		for range rng.IntN(20) {
			var unit []addrRange
			for range rng.IntN(30) {
				lo := base + rng.Uint64N(0x800)
				if i%3 == 0 && len(unit) > 0 && rng.IntN(4) == 0 {
					lo = unit[len(unit)-1].lo // the same start again
				}
				unit = append(unit, addrRange{lo, lo + 1 + rng.Uint64N(64)})
			}
			switch i % 3 {
			case 0, 1: // the walk's order
				slices.SortFunc(unit, func(a, b addrRange) int { return -byLo(a, b) })
			default:
				rng.Shuffle(len(unit), func(a, b int) { unit[a], unit[b] = unit[b], unit[a] })
			}
			rs = append(rs, unit...)
			base += 0x1000
		}
		if i%5 == 0 {
			rng.Shuffle(len(rs), func(a, b int) { rs[a], rs[b] = rs[b], rs[a] })
		}
		got := slices.Clone(rs)
		sortRanges(got)
		if !slices.IsSortedFunc(got, cmpRange) {
			t.Fatalf("not sorted by start: %v", got)
		}
		// The same ranges: sorted by start and end, both are equal.
		want := slices.Clone(rs)
		slices.SortFunc(want, byLo)
		slices.SortFunc(got, byLo)
		if !slices.Equal(got, want) {
			t.Fatalf("sortRanges(%v) lost or changed ranges", rs)
		}
	}
}
