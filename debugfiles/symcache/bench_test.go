package symcache_test

import (
	"bytes"

	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/fixtures"
)

// benchFixture is the large binary the benchmarks read: the object at the
// path CAIRN_BENCH_OBJECT gives (a real library, say), else the ≥20
// MB-DWARF bench fixture with CAIRN_FIXTURES_BENCH=1 (built on demand,
// about a minute), else the default large fixture.
func benchFixture(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CAIRN_BENCH_OBJECT"); p != "" {
		return p
	}
	if os.Getenv("CAIRN_FIXTURES_BENCH") == "1" {
		return fixtures.Get(tb, "elf-x86_64-gcc-O2-bench")
	}
	return fixtures.Get(tb, "elf-x86_64-gcc-O2-large")
}

func openObject(tb testing.TB, path string) debugfiles.Object {
	tb.Helper()
	a, err := loader.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a.Objects[0]
}

// lookupSetup writes the bench fixture's symcache to a file, maps it, and
// draws the 65,536 uniformly random code addresses (relative to the load
// address) that the lookup measurements cycle through.
func lookupSetup(tb testing.TB) (*symcache.Cache, []uint64) {
	tb.Helper()
	path := benchFixture(tb)
	obj := openObject(tb, path)
	out := filepath.Join(tb.TempDir(), "bench.symcache")
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	if err := symcache.Write(f, obj, symcache.Options{}); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	c, err := symcache.Open(out)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	addrs, err := fixtures.RandomTextAddrs(path, 1<<16, 1)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range addrs {
		addrs[i] -= c.LoadAddress()
	}
	return c, addrs
}

// BenchmarkLookup measures one lookup (inline chain with names and files)
// at uniformly random code addresses of a mapped symcache.
// TestLookupRate measures the same lookups against a reference.
func BenchmarkLookup(b *testing.B) {
	c, addrs := lookupSetup(b)
	frames := make([]symcache.Frame, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames = c.Lookup(addrs[i&(len(addrs)-1)], frames[:0])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
}

// BenchmarkBuild measures building a symcache from the binary's DWARF:
// reading the debug information, flattening and writing.
func BenchmarkBuild(b *testing.B) {
	path := benchFixture(b)
	obj := openObject(b, path)
	var size int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var cw countWriter
		if err := symcache.Write(&cw, obj, symcache.Options{}); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkOpen measures opening a mapped symcache: the header only.
func BenchmarkOpen(b *testing.B) {
	obj := openObject(b, benchFixture(b))
	var buf bytes.Buffer
	if err := symcache.Write(&buf, obj, symcache.Options{}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := symcache.New(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexLookup is the reference index's lookup on the same
// addresses, for comparison.
func BenchmarkIndexLookup(b *testing.B) {
	path := benchFixture(b)
	obj := openObject(b, path)
	fns := readFunctions(b, obj)
	ix := debugfiles.NewIndex(fns)
	abs, err := fixtures.RandomTextAddrs(path, 1<<16, 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range abs {
		abs[i] -= obj.LoadAddress()
	}
	frames := make([]debugfiles.Frame, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames = ix.AppendLookup(frames[:0], abs[i&(len(abs)-1)])
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
