package symcache

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// spillTrees makes n top-level functions, each with inlinees named from a
// pool of inline functions larger than the name cache, called from
// various lines, some nested, with line rows: enough distinct names and
// call sites that lookups miss the caches and compare with the bytes
// read back.
func spillTrees(n int) []*debugfiles.Function {
	rng := rand.New(rand.NewPCG(7, 11))
	files := []debugfiles.FileInfo{{Name: "a.cpp"}, {Name: "b.h"}, {Name: "c.h"}}
	var out []*debugfiles.Function
	for i := range n {
		addr := uint64(0x1000 + i*0x100)
		f := &debugfiles.Function{Name: fmt.Sprintf("ns::f%d", i), Address: addr, Size: 0xf0}
		for k := uint64(0); k < 0xf0; k += 0x10 {
			f.Lines = append(f.Lines, debugfiles.LineInfo{Address: addr + k, Size: 0x10, File: files[0], Line: uint32(10 + k)})
		}
		for j := range 3 {
			a := addr + uint64(j)*0x40
			c := &debugfiles.Function{
				Name: fmt.Sprintf("inl%d", rng.IntN(6000)), Address: a, Size: 0x30,
				CallFile: files[1+j%2], CallLine: uint32(rng.IntN(50)),
				Lines: []debugfiles.LineInfo{{Address: a, Size: 0x30, File: files[2], Line: uint32(rng.IntN(100))}},
			}
			if j == 1 {
				c.Inlinees = []*debugfiles.Function{{
					Name: fmt.Sprintf("inl%d", rng.IntN(6000)), Address: a + 0x10, Size: 0x10,
					CallFile: files[2], CallLine: uint32(rng.IntN(50)),
				}}
			}
			f.Inlinees = append(f.Inlinees, c)
		}
		out = append(out, f)
	}
	return out
}

// TestSpilledIdentical checks that a symcache whose builder keeps
// everything in memory and one whose builder moves every table to its
// temporary file at once have the same bytes: the names, call sites and
// coded ranges read back from the files, whole or while still partly
// buffered, are the ones written.
func TestSpilledIdentical(t *testing.T) {
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	var outs [2][]byte
	for i, limit := range []int{0, 1} {
		b := newBuilder(info, Options{}, limit)
		for _, f := range spillTrees(20000) {
			b.Add(f)
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		outs[i] = buf.Bytes()
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatalf("symcache built with spills to files differs: %d bytes, %d in memory", len(outs[1]), len(outs[0]))
	}
	c, err := New(outs[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NumFunctions(); got < 20000 {
		t.Errorf("%d functions, want at least 20000", got)
	}
}
