package pdb

import (
	"slices"
	"testing"
)

// compress encodes v as CVCompressData does.
func compress(v uint32) []byte {
	switch {
	case v <= 0x7f:
		return []byte{byte(v)}
	case v <= 0x3fff:
		return []byte{byte(v>>8) | 0x80, byte(v)}
	}
	return []byte{byte(v>>24) | 0xc0, byte(v >> 16), byte(v >> 8), byte(v)}
}

// encodeSigned is EncodeSignedInt32.
func encodeSigned(v int32) uint32 {
	if v >= 0 {
		return uint32(v) << 1
	}
	return uint32(-v)<<1 | 1
}

// prog assembles an annotation program from (opcode, operands...) lists.
func prog(ops ...[]uint32) []byte {
	var b []byte
	for _, op := range ops {
		for _, v := range op {
			b = append(b, compress(v)...)
		}
	}
	return b
}

func TestUncompress(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffffff} {
		b := compress(v)
		pos := 0
		got, ok := uncompress(b, &pos)
		if !ok || got != v || pos != len(b) {
			t.Errorf("%#x: got %#x ok=%v pos=%d", v, got, ok, pos)
		}
	}
	for _, b := range [][]byte{{}, {0x80}, {0xc0, 1, 2}, {0xe0, 0, 0, 0}} {
		pos := 0
		if _, ok := uncompress(b, &pos); ok {
			t.Errorf("% x decoded", b)
		}
	}
	for _, v := range []int32{0, 1, -1, 100, -100, 1 << 20} {
		if got := decodeSigned(encodeSigned(v)); got != v {
			t.Errorf("signed %d: got %d", v, got)
		}
	}
}

func TestInlineRows(t *testing.T) {
	const base = 0x1000
	seps := []uint64{base, 0x9000}
	row := func(start, end uint64, line, file uint32) lineRow { return lineRow{start, end, line, file} }
	for _, tc := range []struct {
		name string
		ann  []byte
		want []lineRow
	}{
		{
			// The shape clang writes: a line change, then code offsets
			// and combined offsets, ranges closed by ChangeCodeLength.
			name: "clang",
			ann: prog(
				[]uint32{baChangeLineOffset, encodeSigned(1)},
				[]uint32{baChangeCodeOffset, 0x72},
				[]uint32{baChangeCodeOffsetAndLineOffset, encodeSigned(1)<<4 | 7},
				[]uint32{baChangeCodeLength, 8},
				[]uint32{baChangeCodeOffsetAndLineOffset, encodeSigned(-2)<<4 | 4},
				[]uint32{baChangeCodeLength, 3},
			),
			want: []lineRow{row(base+0x72, base+0x79, 11, 5), row(base+0x79, base+0x81, 12, 5), row(base+0x85, base+0x88, 10, 5)},
		},
		{
			name: "files",
			ann: prog(
				[]uint32{baChangeCodeOffset, 0x10},
				[]uint32{baChangeFile, 0x18},
				[]uint32{baChangeLineOffset, encodeSigned(5)},
				[]uint32{baChangeCodeOffset, 4},
				[]uint32{baChangeCodeLength, 2},
			),
			want: []lineRow{row(base+0x10, base+0x14, 10, 5), row(base+0x14, base+0x16, 15, 0x18)},
		},
		{
			// MSVC's shape: explicit lengths with the combined opcode.
			name: "code length and offset",
			ann: prog(
				[]uint32{baChangeCodeLengthAndCodeOffset, 6, 0x20},
				[]uint32{baChangeLineOffset, encodeSigned(2)},
				[]uint32{baChangeCodeLengthAndCodeOffset, 4, 0x10},
			),
			want: []lineRow{row(base+0x20, base+0x26, 10, 5), row(base+0x30, base+0x34, 12, 5)},
		},
		{
			name: "code offset and columns",
			ann: prog(
				[]uint32{baCodeOffset, 0x40},
				[]uint32{baChangeColumnStart, 3},
				[]uint32{baChangeColumnEndDelta, encodeSigned(2)},
				[]uint32{baChangeColumnEnd, 9},
				[]uint32{baChangeLineEndDelta, 1},
				[]uint32{baChangeRangeKind, 1},
				[]uint32{baChangeCodeOffset, 0},
				[]uint32{baChangeCodeLength, 5},
			),
			want: []lineRow{row(base+0x40, base+0x45, 10, 5)},
		},
		{
			name: "separated chunk",
			ann: prog(
				[]uint32{baChangeCodeOffset, 2},
				[]uint32{baChangeCodeLength, 2},
				[]uint32{baChangeCodeOffsetBase, 1},
				[]uint32{baChangeCodeOffset, 8},
				[]uint32{baChangeCodeLength, 4},
				[]uint32{baChangeCodeOffsetBase, 7}, // no such chunk
				[]uint32{baChangeCodeOffset, 8},
				[]uint32{baChangeCodeLength, 4},
			),
			want: []lineRow{row(base+2, base+4, 10, 5), row(0x9008, 0x900c, 10, 5)},
		},
		{
			name: "open row dropped, padding ends",
			ann:  append(prog([]uint32{baChangeCodeOffset, 1}, []uint32{baChangeCodeOffset, 3}), 0, 0, 0),
			want: []lineRow{row(base+1, base+4, 10, 5)},
		},
		{
			name: "empty rows dropped",
			ann: prog(
				[]uint32{baChangeCodeOffset, 1},
				[]uint32{baChangeCodeOffset, 0},
				[]uint32{baChangeCodeLength, 2},
			),
			want: []lineRow{row(base+1, base+3, 10, 5)},
		},
		{
			name: "invalid compressed data stops",
			ann:  append(prog([]uint32{baChangeCodeOffset, 1}, []uint32{baChangeCodeLength, 1}), 0xe0, 1, 2, 3),
			want: []lineRow{row(base+1, base+2, 10, 5)},
		},
		{
			name: "unknown opcode stops",
			ann:  prog([]uint32{baChangeCodeOffset, 1}, []uint32{baChangeCodeLength, 1}, []uint32{14, 1}, []uint32{baChangeCodeOffset, 1}, []uint32{baChangeCodeLength, 1}),
			want: []lineRow{row(base+1, base+2, 10, 5)},
		},
		{name: "truncated", ann: []byte{baChangeCodeOffsetAndLineOffset}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := inlineRows(tc.ann, seps, 10, 5, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
