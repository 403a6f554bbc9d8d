package breakpad

import (
	"bytes"
	"fmt"
	"testing"
)

// TestWriteFuncsInOrder checks that FUNC records formatted in blocks on
// several goroutines come out exactly as formatting them one by one does,
// for counts around the block size.
func TestWriteFuncsInOrder(t *testing.T) {
	for _, n := range []int{0, 1, funcBlock - 1, funcBlock, funcBlock + 1, 5*funcBlock + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var (
				store recordStore
				kept  []record
				tmp   []byte
			)
			fileMap := []int64{2, 0, 1}
			originMap := []int64{1, 0}
			for i := range n {
				addr := uint64(0x1000 + 0x100*i)
				fn := Func{Address: addr, Size: 0x80,
					Lines:   []Line{{Address: addr, Size: 0x10, Number: uint32(10 + i), File: int64(i % 3)}, {Address: addr + 0x10, Size: 0x70, Number: uint32(1000 + i), File: int64((i + 1) % 3)}},
					Inlines: []Inline{{Depth: 0, CallLine: uint32(i), CallFile: int64(i % 3), Origin: int64(i % 2), Ranges: []Range{{Address: addr + 0x10, Size: 0x20}}}},
				}
				tmp = encodeFunc(tmp[:0], &fn)
				kept = append(kept, record{addr: addr, size: fn.Size, name: fmt.Sprintf("f%d", i), multiple: i%7 == 0, ref: store.add(tmp)})
			}
			var want bytes.Buffer
			ww := NewWriter(&want)
			var fn Func
			for _, r := range kept {
				decodeFunc(store.get(r.ref), r.addr, &fn)
				fn.Address, fn.Size, fn.Name, fn.Multiple = r.addr, r.size, r.name, r.multiple
				remap(&fn, fileMap, originMap)
				ww.Func(&fn)
			}
			if err := ww.Flush(); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			w := NewWriter(&got)
			writeFuncs(w, kept, &store, fileMap, originMap)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("writeFuncs wrote %d bytes, formatting one by one %d; they differ", got.Len(), want.Len())
			}
		})
	}
}
