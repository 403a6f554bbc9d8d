package breakpad

import (
	"bytes"
	"slices"
	"testing"
)

// TestEncodedFuncMatchesFunc checks that formatting a FUNC straight from its
// encoding writes what decoding it, remapping its indexes and writing the
// Func does, for inlines without a call file and numbers of every width.
func TestEncodedFuncMatchesFunc(t *testing.T) {
	fileMap := []int64{2, 0, 1, 300}
	originMap := []int64{1, 0, 70000}
	var tmp []byte
	for i := range 40 {
		addr := uint64(0x1000)<<(i%40) + uint64(i)
		fn := Func{Address: addr, Size: 0x80 << (i % 20)}
		for k := range i % 5 {
			fn.Lines = append(fn.Lines, Line{Address: addr + uint64(k)<<(i%16), Size: 1 << (i % 30), Number: uint32(1) << (i % 32), File: int64((i + k) % len(fileMap))})
		}
		// Lines are stored relative to the one before: lines going back,
		// overlapping, leaving gaps and staying in one file.
		for k := range i % 3 {
			fn.Lines = append(fn.Lines,
				Line{Address: addr + 0x10, Size: 4, Number: uint32(i*k) + 7, File: 1},
				Line{Address: addr + 0x14, Size: 2, Number: 3, File: 1},
				Line{Address: addr + 0x12, Size: 8, Number: 1<<32 - 1, File: 1},
				Line{Address: addr + 0x40, Size: 1, Number: 0, File: 0})
		}
		for k := range i % 4 {
			fn.Inlines = append(fn.Inlines, Inline{Depth: uint32(k), CallLine: uint32(i) << (i % 24), CallFile: int64((i+k)%(len(fileMap)+1)) - 1,
				Origin: int64(k % len(originMap)), Ranges: []Range{{Address: addr + uint64(k), Size: 1 << (i % 28)}, {Address: addr + 0x40, Size: 3}}})
		}
		tmp = encodeFunc(tmp[:0], &fn)
		r := record{addr: addr, size: fn.Size, name: "f\nname", multiple: i%3 == 0}

		var want bytes.Buffer
		ww := NewWriter(&want)
		var dec Func
		decodeFunc(tmp, r.addr, &dec)
		if !slices.Equal(dec.Lines, fn.Lines) {
			t.Errorf("function %d: lines decode as\n%v\nencoded\n%v", i, dec.Lines, fn.Lines)
		}
		dec.Address, dec.Size, dec.Name, dec.Multiple = r.addr, r.size, r.name, r.multiple
		remap(&dec, fileMap, originMap)
		ww.Func(&dec)
		var got bytes.Buffer
		w := NewWriter(&got)
		w.encodedFunc(&r, tmp, fileMap, originMap)
		if err := ww.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("function %d: encodedFunc wrote\n%s\nFunc wrote\n%s", i, got.Bytes(), want.Bytes())
		}
	}
}
