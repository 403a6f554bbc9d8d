package cficache

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// benchObject is a large system library: its .eh_frame describes
// thousands of functions.
const benchObject = "/usr/lib/x86_64-linux-gnu/libc.so.6"

func benchCache(b *testing.B) (*Cache, []uint64, int64) {
	if _, err := os.Stat(benchObject); err != nil {
		b.Skipf("%s not present", benchObject)
	}
	o, err := elf.Open(benchObject)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	bld, err := Build(o)
	if err != nil {
		b.Fatal(err)
	}
	data, err := bld.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(data)
	if err != nil {
		b.Fatal(err)
	}
	var addrs []uint64
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i+indexRecord <= len(c.cfi); i += indexRecord {
		if rng.IntN(8) == 0 {
			addrs = append(addrs, uint64(uint32(c.cfi[i])|uint32(c.cfi[i+1])<<8|uint32(c.cfi[i+2])<<16|uint32(c.cfi[i+3])<<24))
		}
	}
	return c, addrs, int64(len(data))
}

// BenchmarkLookup looks up rows of libc's cficache at addresses spread
// over the library.
func BenchmarkLookup(b *testing.B) {
	c, addrs, size := benchCache(b)
	b.Logf("cficache of %s: %d bytes, %d index entries", benchObject, size, len(c.cfi)/indexRecord)
	row := unwind.Row{Regs: make([]unwind.RegRule, 0, 32)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Lookup(addrs[i%len(addrs)], &row)
		i++
	}
}

// BenchmarkBuild builds libc's cficache from its .eh_frame.
func BenchmarkBuild(b *testing.B) {
	if _, err := os.Stat(benchObject); err != nil {
		b.Skipf("%s not present", benchObject)
	}
	b.ReportAllocs()
	for b.Loop() {
		o, err := elf.Open(benchObject)
		if err != nil {
			b.Fatal(err)
		}
		bld, err := Build(o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bld.Bytes(); err != nil {
			b.Fatal(err)
		}
		o.Close()
	}
}
