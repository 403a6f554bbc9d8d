package breakpad

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary text to every layer: the in-place and the
// streaming Reader must agree, Object must open or refuse it without
// panicking and build functions and symbols, and ReadModule/WriteModule must
// reach a fixed point after one normalization.
func FuzzParse(f *testing.F) {
	f.Add([]byte("MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 m\nFILE 0 a.c\nINLINE_ORIGIN 0 g\nFUNC 10 20 0 f\nINLINE 0 3 0 0 12 4\n10 8 1 0\nPUBLIC 40 0 p\nSTACK CFI INIT 10 20 .cfa: $rsp 8 +\nSTACK WIN 4 10 20 0 0 0 0 0 0 1 $T0 =\n"))
	if root, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "fixtures", "peers")); err == nil {
		for _, sub := range []string{"breakpad/symbols", "rust-minidump/symbols"} {
			matches, _ := filepath.Glob(filepath.Join(root, sub, "*", "*", "*.sym"))
			more, _ := filepath.Glob(filepath.Join(root, sub, "*", "*", "*", "*.sym"))
			for _, p := range append(matches, more...) {
				data, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				f.Add(data[:min(len(data), 64<<10)])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256<<10 {
			return
		}
		var recs []string
		rd := NewBytesReader(data)
		for rd.Next() {
			recs = append(recs, describe(rd.Record()))
		}
		if rd.Err() != nil {
			t.Fatalf("in-place reader: %v", rd.Err())
		}
		srd := NewReader(&chunkReader{data: data, n: 3})
		var srecs []string
		for srd.Next() {
			srecs = append(srecs, describe(srd.Record()))
		}
		if srd.Err() != nil || !reflect.DeepEqual(recs, srecs) || srd.Skipped() != rd.Skipped() {
			t.Fatalf("streaming reader differs: err %v, %d vs %d records", srd.Err(), len(srecs), len(recs))
		}

		if o, err := NewObject(byteReaderAt(data), int64(len(data)), "fuzz"); err == nil {
			for range o.Symbols() {
			}
			for _, opts := range []SessionOptions{{}, {BreakpadInlineOrder: true}} {
				for fn, err := range o.Session(opts).Functions() {
					if err != nil || fn == nil {
						t.Fatalf("Functions: %v", err)
					}
				}
			}
			if _, err := FromObject(o, ConvertOptions{}); err != nil {
				t.Fatalf("FromObject: %v", err)
			}
		}

		m, err := ReadModule(NewBytesReader(data))
		if err != nil {
			return // no MODULE record
		}
		var once, twice bytes.Buffer
		if err := WriteModule(&once, m); err != nil {
			t.Fatal(err)
		}
		m2, err := ReadModule(NewBytesReader(once.Bytes()))
		if err != nil {
			t.Fatalf("rereading written module: %v", err)
		}
		if err := WriteModule(&twice, m2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("write(read(x)) is not a fixed point:\n%q\n%q", once.Bytes(), twice.Bytes())
		}
	})
}
