package pdb_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// The large-PDB benchmarks run on a generated C++ program of benchFiles
// translation units with benchFuncs functions each: structs with inline
// methods, class templates, and functions that inline three levels of
// helpers into loops, with recursion and locals, built with clang-14 -O2
// -gcodeview and lld-link-14. It gives a PDB of about 100 MB. Building it
// takes several minutes, so the benchmarks run only with
// CAIRN_PDB_BENCH=1, and CAIRN_PDB_BENCH_DIR keeps the build between runs
// (default: a directory under the system temporary directory).
const (
	benchFiles = 60
	benchFuncs = 1000
)

// writeBenchUnit writes translation unit k of the benchmark program.
func writeBenchUnit(w *bufio.Writer, k, n int) {
	fmt.Fprintf(w, "// generated: unit %d\n#define AI __attribute__((always_inline)) inline\nnamespace gen%d {\n", k, k)
	for g := range n / 8 {
		fmt.Fprintf(w, "struct S%d { int a, b; long c; double d; AI int get(int x) const { return a * x + b; } "+
			"AI long mix(long v) const { return (v ^ c) * 31 + get((int)v); } int out(int x) const; };\n", g)
		fmt.Fprintf(w, "template <typename T> struct Box%d { T v[4]; AI T sum() const { T s = 0; for (int i = 0; i < 4; i++) s += v[i]; return s; } "+
			"AI void put(int i, T x) { v[i & 3] = x; } };\n", g)
	}
	w.WriteString("AI int leaf(int x, int y) { return (x << 3) ^ (y >> 2) ^ (x * y); }\n")
	w.WriteString("AI int mid(int x, int y) { int r = leaf(x, y); if (r & 1) r += leaf(y, x); return r; }\n")
	for i := range n {
		g := i / 8
		fmt.Fprintf(w, "__attribute__((noinline)) long f%d(S%d *s, Box%d<long> *bl, Box%d<int> *bi, int n) {\n", i, g, g, g)
		fmt.Fprintf(w, "  long acc = %d;\n  for (int j = 0; j < n; j++) {\n", i)
		w.WriteString("    acc += s->mix(j + acc) + mid(j, (int)acc);\n")
		fmt.Fprintf(w, "    bl->put(j, acc); bi->put(j, (int)acc ^ %d);\n", i)
		fmt.Fprintf(w, "    if (acc > %d) acc -= bl->sum() + bi->sum();\n  }\n", 1000+i)
		switch {
		case i%8 != 0:
			fmt.Fprintf(w, "  if (n > 100) acc += f%d(s, bl, bi, n / 2);\n", i-1)
		case i > 0:
			w.WriteString("  acc += s->out(n);\n")
		}
		w.WriteString("  return acc;\n}\n")
	}
	for g := range n / 8 {
		fmt.Fprintf(w, "int S%d::out(int x) const { return get(x) + (int)mix(x); }\n", g)
	}
	w.WriteString("}\n")
}

var (
	benchOnce sync.Once
	benchPDB  string
	benchExe  string
	benchErr  error
)

// benchInput builds (or finds) the large PDB.
func benchInput(tb testing.TB) (exe, pdbPath string) {
	tb.Helper()
	if os.Getenv("CAIRN_PDB_BENCH") != "1" {
		tb.Skip("set CAIRN_PDB_BENCH=1 to build the 100 MB benchmark PDB (several minutes)")
	}
	needTool(tb, clang)
	needTool(tb, lldLink)
	benchOnce.Do(func() {
		dir := os.Getenv("CAIRN_PDB_BENCH_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "cairn-pdb-bench")
		}
		benchExe, benchPDB = filepath.Join(dir, "big.exe"), filepath.Join(dir, "big.pdb")
		if _, err := os.Stat(filepath.Join(dir, "big.done")); err == nil {
			return
		}
		benchErr = buildBench(dir)
	})
	if benchErr != nil {
		tb.Fatal(benchErr)
	}
	return benchExe, benchPDB
}

func buildBench(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	objs := []string{filepath.Join(dir, "main.obj")}
	main := filepath.Join(dir, "main.cpp")
	if err := os.WriteFile(main, []byte("extern \"C\" int main() { return 0; }\n"), 0o644); err != nil {
		return err
	}
	compile := func(src, obj string) error {
		out, err := exec.Command(clang, "--target=x86_64-pc-windows-msvc", "-g", "-gcodeview", "-O2", "-ffreestanding",
			"-fno-exceptions", "-fno-rtti", "-nostdinc", "-c", src, "-o", obj).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", src, err, out)
		}
		return nil
	}
	g.Go(func() error { return compile(main, objs[0]) })
	for k := range benchFiles {
		src := filepath.Join(dir, fmt.Sprintf("unit%d.cpp", k))
		obj := strings.TrimSuffix(src, ".cpp") + ".obj"
		objs = append(objs, obj)
		g.Go(func() error {
			f, err := os.Create(src)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f)
			writeBenchUnit(w, k, benchFuncs)
			if err := w.Flush(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return compile(src, obj)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The image records the PDB's path, so both are linked under their
	// final names; big.done marks a complete build.
	args := append([]string{"/debug", "/entry:main", "/nodefaultlib", "/subsystem:console", "/opt:noref",
		"/out:" + filepath.Join(dir, "big.exe"), "/pdb:" + filepath.Join(dir, "big.pdb")}, objs...)
	if out, err := exec.Command(lldLink, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", lldLink, err, out)
	}
	return os.WriteFile(filepath.Join(dir, "big.done"), nil, 0o644)
}

// indexPDB opens a PDB and indexes all its functions and lines.
func indexPDB(tb testing.TB, path string) (*debugfiles.Index, int, int) {
	o, err := pdb.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer o.Close()
	s, err := o.NewSession()
	if err != nil {
		tb.Fatal(err)
	}
	fns, err := s.AllFunctions()
	if err != nil {
		tb.Fatal(err)
	}
	lines := 0
	var count func(f *debugfiles.Function)
	count = func(f *debugfiles.Function) {
		lines += len(f.Lines)
		for _, c := range f.Inlinees {
			count(c)
		}
	}
	for _, f := range fns {
		count(f)
	}
	return debugfiles.NewIndex(fns), len(fns), lines
}

// BenchmarkIndex opens the large PDB and indexes all functions and lines.
func BenchmarkIndex(b *testing.B) {
	_, p := benchInput(b)
	st, _ := os.Stat(p)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		indexPDB(b, p)
	}
}

// BenchmarkIndexFixture indexes the PDB of the pe-x86_64-clang-O2
// fixture, without the env gate.
func BenchmarkIndexFixture(b *testing.B) {
	var img image
	if slices.Contains(fixtureImages(), "pe-x86_64-clang-O2") {
		img = fixtureImage(b, "pe-x86_64-clang-O2")
	} else {
		img = buildOwn(b, variant{"x86_64", "O2"})
	}
	st, err := os.Stat(img.pdb)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		indexPDB(b, img.pdb)
	}
}

// streamPDB opens a PDB and reads all its functions and lines without
// keeping them, as a consumer writing a compact index (a symcache) does:
// what it costs is the reader's own.
func streamPDB(tb testing.TB, path string) (fns, inlinees, lines int) {
	o, err := pdb.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer o.Close()
	s, err := o.NewSession()
	if err != nil {
		tb.Fatal(err)
	}
	var count func(f *debugfiles.Function)
	count = func(f *debugfiles.Function) {
		lines += len(f.Lines)
		inlinees += len(f.Inlinees)
		for _, c := range f.Inlinees {
			count(c)
		}
	}
	for f, err := range s.Functions() {
		if err != nil {
			tb.Fatal(err)
		}
		fns++
		count(f)
	}
	return fns, inlinees, lines
}

// symcachePDB opens a PDB and builds its symcache into a temporary file,
// as 'cairn symcache build' does: the product's index of all its functions
// and lines. It returns the size of the symcache.
func symcachePDB(tb testing.TB, path string) int64 {
	o, err := pdb.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer o.Close()
	f, err := os.CreateTemp("", "bench-*.symcache")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := symcache.Write(f, o, symcache.Options{}); err != nil {
		tb.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// firstLine keeps the first line written to it, up to 120 bytes.
type firstLine struct {
	buf  []byte
	done bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if !f.done {
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			f.buf, f.done = append(f.buf, p[:i]...), true
		} else {
			f.buf = append(f.buf, p...)
		}
		if len(f.buf) > 120 {
			f.buf, f.done = f.buf[:120], true
		}
	}
	return len(p), nil
}

func (f *firstLine) String() string { return string(f.buf) }

// TestIndexMemory measures, in a child process so that its peak RSS is its
// own, the time and peak RSS of opening the large PDB and indexing all its
// functions and lines: as the product does, by building its symcache; as a
// debugfiles.Index of every function tree; and reading the trees without
// keeping them. The same is measured for llvm-pdbutil dumping its symbols
// and inlinee lines and for llvm-symbolizer looking up 1,000 addresses.
// With CAIRN_BIN naming a cairn binary, 'cairn symcache build' is measured
// as well: its peak RSS includes the pages of the binary's own code. With
// CAIRN_PDB_INDEX_ONLY=1 only the symcache builds are measured.
func TestIndexMemory(t *testing.T) {
	if p := os.Getenv("CAIRN_PDB_INDEX_CHILD"); p != "" {
		start := time.Now()
		switch os.Getenv("CAIRN_PDB_MODE") {
		case "symcache":
			n := symcachePDB(t, p)
			fmt.Printf("symcache of %d bytes in %v\n", n, time.Since(start))
			return
		case "stream":
			fns, inl, lines := streamPDB(t, p)
			fmt.Printf("streamed %d functions, %d inlinees, %d lines in %v\n", fns, inl, lines, time.Since(start))
			return
		}
		ix, fns, lines := indexPDB(t, p)
		fmt.Printf("indexed %d functions, %d lines, %d ranges in %v\n", fns, lines, ix.Len(), time.Since(start))
		return
	}
	exe, p := benchInput(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PDB: %.1f MB", float64(st.Size())/1e6)
	measure := func(label string, env []string, stdin string, name string, args ...string) {
		cmd := exec.CommandContext(context.Background(), name, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		// Only the first line of the output is kept: llvm-pdbutil writes
		// gigabytes, and a parent holding them would count in the child's
		// peak RSS (Linux carries the high-water mark across exec).
		var first firstLine
		cmd.Stdout = &first
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		rss := ru.Maxrss * 1024
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		t.Logf("%-34s %8v (cpu %8v)  peak RSS %6.1f MB (%5.1f%% of the PDB)  %s", label, wall.Round(time.Millisecond), cpu.Round(time.Millisecond),
			float64(rss)/1e6, 100*float64(rss)/float64(st.Size()), first.String())
	}
	child := []string{"-test.run=^TestIndexMemory$", "-test.count=1"}
	measure("cairn: symcache build", []string{"CAIRN_PDB_INDEX_CHILD=" + p, "CAIRN_PDB_MODE=symcache"}, "", os.Args[0], child...)
	if bin := os.Getenv("CAIRN_BIN"); bin != "" {
		out := filepath.Join(t.TempDir(), "big.symcache")
		measure("cairn symcache build (command)", nil, "", bin, "symcache", "build", p, "-o", out)
	}
	if os.Getenv("CAIRN_PDB_INDEX_ONLY") == "1" {
		return // the symcache build only, while iterating on it
	}
	measure("cairn: open + index all", []string{"CAIRN_PDB_INDEX_CHILD=" + p, "CAIRN_PDB_MODE=index"}, "", os.Args[0], child...)
	measure("cairn: open + stream all", []string{"CAIRN_PDB_INDEX_CHILD=" + p, "CAIRN_PDB_MODE=stream"}, "", os.Args[0], child...)
	if _, err := exec.LookPath(llvmPDBUtil); err == nil {
		measure("llvm-pdbutil dump --symbols --il", nil, "", llvmPDBUtil, "dump", "--symbols", "--il", p)
	}
	if _, err := exec.LookPath(llvmSymbolizer); err == nil {
		info := readPE(t, exe)
		var in strings.Builder
		rng := rand.New(rand.NewPCG(1, 1))
		in.WriteString(strconv.FormatUint(info.base+info.textStart, 16) + "\n")
		measure("llvm-symbolizer: 1 address", nil, "0x"+in.String(), llvmSymbolizer, "--inlines", "--obj="+exe)
		in.Reset()
		for range 1000 {
			fmt.Fprintf(&in, "0x%x\n", info.base+info.textStart+rng.Uint64N(info.textEnd-info.textStart))
		}
		measure("llvm-symbolizer: 1,000 addresses", nil, in.String(), llvmSymbolizer, "--inlines", "--obj="+exe)
	}
}

// TestBenchAgainstLLVMSymbolizer runs the oracle comparison of
// oracle_test.go on the large benchmark PDB.
func TestBenchAgainstLLVMSymbolizer(t *testing.T) {
	exe, p := benchInput(t)
	needTool(t, llvmSymbolizer)
	img := image{name: "bench", exe: exe, pdb: p}
	info := readPE(t, exe)
	o, err := pdb.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	s, err := o.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := s.AllFunctions()
	if err != nil {
		t.Fatal(err)
	}
	// Random addresses only: the function starts of a large program
	// would be most of the sample.
	rng := rand.New(rand.NewPCG(3, 4))
	var addrs, abs []uint64
	for range randomAddrs {
		a := info.textStart + rng.Uint64N(info.textEnd-info.textStart)
		addrs, abs = append(addrs, a), append(abs, a+info.base)
	}
	want := symoracle.Symbolize(t, exe, abs)
	r := compare(debugfiles.NewIndex(fns), symoracle.NewPDBOracle(t, img.exe, img.pdb, fns), addrs, want)
	t.Log(r)
	logResult(t, r)
}
