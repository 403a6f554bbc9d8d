package dwarf

import (
	"encoding/binary"
	"reflect"
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
