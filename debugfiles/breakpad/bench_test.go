package breakpad

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// syntheticSym builds a symbol file of at least size bytes shaped like
// dump_syms output for a large C++ binary: FILE and INLINE_ORIGIN tables,
// FUNCs with long names, INLINE records and ~12 line records each, then
// STACK CFI records.
func syntheticSym(size int) []byte {
	var buf bytes.Buffer
	buf.Grow(size + 1<<20)
	w := NewWriter(&buf)
	w.Module("Linux", "x86_64", "0123456789ABCDEF0123456789ABCDEF0", "libsynthetic.so")
	w.CodeID("EFCDAB89674523010123456789ABCDEF", "")
	for i := range 2000 {
		w.File(File{Index: int64(i), Name: fmt.Sprintf("/build/src/third_party/component%d/src/file_%d.cc", i%37, i)})
	}
	for i := range 5000 {
		w.InlineOrigin(InlineOrigin{Index: int64(i), Name: fmt.Sprintf("ns%d::Class%d::method_%d(std::string const&, int)", i%13, i%101, i)})
	}
	addr := uint64(0x10000)
	var cfi []string
	for i := 0; buf.Len() < size*9/10; i++ {
		f := Func{Address: addr, Size: 0x180, Name: fmt.Sprintf("mozilla::dom::Element%d::HandleEvent(mozilla::EventChainPostVisitor&, unsigned int) const", i)}
		f.Inlines = []Inline{
			{Depth: 0, CallLine: uint32(100 + i%50), CallFile: int64(i % 2000), Origin: int64(i % 5000), Ranges: []Range{{addr + 0x20, 0x40}, {addr + 0x100, 0x10}}},
			{Depth: 1, CallLine: uint32(10 + i%7), CallFile: int64((i + 1) % 2000), Origin: int64((i + 7) % 5000), Ranges: []Range{{addr + 0x28, 0x10}}},
		}
		for j := range 12 {
			f.Lines = append(f.Lines, Line{Address: addr + uint64(j)*0x20, Size: 0x20, Number: uint32(1000 + j*3 + i%100), File: int64((i + j) % 2000)})
		}
		w.Func(&f)
		if i%4 == 0 {
			cfi = append(cfi, fmt.Sprintf("STACK CFI INIT %x 180 .cfa: $rsp 8 + .ra: .cfa -8 + ^", addr), fmt.Sprintf("STACK CFI %x .cfa: $rsp 16 + $rbp: .cfa -16 + ^", addr+1))
		}
		addr += 0x180
	}
	for _, c := range cfi {
		w.Stack(c)
	}
	for i := 0; buf.Len() < size; i++ {
		w.Stack(fmt.Sprintf("STACK CFI %x .cfa: $rbp 16 + .ra: .cfa -8 + ^ $rbp: .cfa -16 + ^", addr+uint64(i)))
		if i%1024 == 0 {
			w.Flush()
		}
	}
	w.Flush()
	return buf.Bytes()
}

var synthetic = sync.OnceValue(func() []byte { return syntheticSym(50 << 20) })

func benchReader(b *testing.B, data []byte, stream bool) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var rd *Reader
		if stream {
			rd = NewReader(bytes.NewReader(data))
		} else {
			rd = NewBytesReader(data)
		}
		n := 0
		for rd.Next() {
			n++
		}
		if rd.Err() != nil || rd.Skipped() != 0 || n == 0 {
			b.Fatalf("%d records, err %v, skipped %d", n, rd.Err(), rd.Skipped())
		}
	}
}

// BenchmarkParse measures the Reader over the largest peer file and over a
// synthetic 50 MB file, parsing in place and streaming through the buffer.
func BenchmarkParse(b *testing.B) {
	peer, err := os.ReadFile(largestPeerSym(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("peer", func(b *testing.B) { benchReader(b, peer, false) })
	b.Run("peer-stream", func(b *testing.B) { benchReader(b, peer, true) })
	b.Run("synthetic-50MB", func(b *testing.B) { benchReader(b, synthetic(), false) })
	b.Run("synthetic-50MB-stream", func(b *testing.B) { benchReader(b, synthetic(), true) })
}

// BenchmarkFunctions measures opening an Object (one full pass) and
// building every Function tree (a second pass).
func BenchmarkFunctions(b *testing.B) {
	peer, err := os.ReadFile(largestPeerSym(b))
	if err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{"peer": peer, "synthetic-50MB": synthetic()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				o, err := NewObject(byteReaderAt(data), int64(len(data)), name)
				if err != nil {
					b.Fatal(err)
				}
				sess, _ := o.DebugSession()
				for f, err := range sess.Functions() {
					if err != nil || f == nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkWrite measures WriteModule on the largest peer file's model and
// the synthetic one (bytes written per second).
func BenchmarkWrite(b *testing.B) {
	peer, err := os.ReadFile(largestPeerSym(b))
	if err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{"peer": peer, "synthetic-50MB": synthetic()} {
		b.Run(name, func(b *testing.B) {
			m, err := ReadModule(NewBytesReader(data))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteModule(io.Discard, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
