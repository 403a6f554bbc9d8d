package dwarf_test

import (
	"debug/elf"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// The benchmarks run on a generated C program of the size RESEARCH.md
// measured llvm-symbolizer on: 20,000 functions in 8 files, each calling
// static inline helpers two levels deep, built with gcc -O2 -g (about
// 14 MB with 4 MB of .debug_info).
const (
	bigFiles = 8
	bigFuncs = 2500 // per file
)

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	bigDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// bigSource writes file k of the generated program.
func bigSource(k int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "/* generated: file %d */\n", k)
	for i := range bigFuncs {
		fmt.Fprintf(&sb, "static inline int leaf_%d_%d(int x) { return x * %d ^ (x >> 3); }\n", k, i, i+3)
		fmt.Fprintf(&sb, "static inline int mid_%d_%d(int x) { if (x & 1) return leaf_%d_%d(x) + (x >> 1); return leaf_%d_%d(x - 1) * 3; }\n", k, i, k, i, k, i)
		fmt.Fprintf(&sb, "int fn_%d_%d(int x) {\n  int s = 0;\n  for (int j = 0; j < (x & 7); j++) s += mid_%d_%d(x + j);\n", k, i, k, i)
		if i > 0 {
			fmt.Fprintf(&sb, "  if (x > 1000) s += fn_%d_%d(x / 2);\n", k, i-1)
		}
		sb.WriteString("  return s;\n}\n")
	}
	return sb.String()
}

func bigBinary(b *testing.B) string {
	b.Helper()
	needTool(b, "gcc", "gcc")
	bigOnce.Do(func() {
		// CAIRN_DWARF_BENCH_DIR keeps the build (a few minutes of gcc)
		// between runs.
		if dir := os.Getenv("CAIRN_DWARF_BENCH_DIR"); dir != "" {
			if _, err := os.Stat(filepath.Join(dir, "big")); err == nil {
				bigPath = filepath.Join(dir, "big")
				return
			}
			if bigErr = os.MkdirAll(dir, 0o755); bigErr != nil {
				return
			}
			defer func() { bigDir = "" }() // keep it
			bigDir = dir
		} else {
			bigDir, bigErr = os.MkdirTemp("", "cairn-dwarf-bench")
			if bigErr != nil {
				return
			}
		}
		var srcs []string
		var main strings.Builder
		main.WriteString("int main(int argc, char **argv) {\n  int s = 0;\n")
		for k := range bigFiles {
			name := fmt.Sprintf("gen%d.c", k)
			if bigErr = os.WriteFile(filepath.Join(bigDir, name), []byte(bigSource(k)), 0o644); bigErr != nil {
				return
			}
			srcs = append(srcs, name)
			fmt.Fprintf(&main, "  { extern int fn_%d_%d(int); s += fn_%d_%d(argc); }\n", k, bigFuncs-1, k, bigFuncs-1)
		}
		main.WriteString("  return s & 1;\n}\n")
		if bigErr = os.WriteFile(filepath.Join(bigDir, "main.c"), []byte(main.String()), 0o644); bigErr != nil {
			return
		}
		// Compile the files in parallel, then link.
		var wg sync.WaitGroup
		errs := make([]error, len(srcs))
		for i, s := range srcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command("gcc", "-O2", "-g", "-c", s)
				cmd.Dir = bigDir
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("gcc %s: %v\n%s", s, err, out)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				bigErr = err
				return
			}
		}
		args := []string{"-O2", "-g", "-o", "big", "main.c"}
		for _, s := range srcs {
			args = append(args, strings.TrimSuffix(s, ".c")+".o")
		}
		cmd := exec.Command("gcc", args...)
		cmd.Dir = bigDir
		if out, err := cmd.CombinedOutput(); err != nil {
			bigErr = fmt.Errorf("gcc link: %v\n%s", err, out)
			return
		}
		bigPath = filepath.Join(bigDir, "big")
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func loadBig(b *testing.B) (*binary, *dwarf.Sections) {
	b.Helper()
	bin := openBinary(b, bigBinary(b), "")
	return bin, bin.sec
}

// BenchmarkIndexBuild measures reading every function of the big binary
// (sections already in memory) and building the lookup index.
func BenchmarkIndexBuild(b *testing.B) {
	bin, sec := loadBig(b)
	size := 0
	if s := bin.elf.Section(".debug_info"); s != nil {
		size = int(s.Size)
	}
	b.Run("sections", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		cpu := cpuTime()
		for b.Loop() {
			s, err := dwarf.NewSessionFromSections(sec, dwarf.Options{LoadAddress: bin.load})
			if err != nil {
				b.Fatal(err)
			}
			fns, err := s.AllFunctions()
			if err != nil {
				b.Fatal(err)
			}
			n = debugfiles.NewIndex(fns).Len()
		}
		s, _ := dwarf.NewSessionFromSections(sec, dwarf.Options{LoadAddress: bin.load})
		fns, _ := s.AllFunctions()
		total, lines := 0, 0
		var walk func(f *debugfiles.Function)
		walk = func(f *debugfiles.Function) {
			total++
			for _, c := range f.Inlinees {
				walk(c)
			}
		}
		for _, f := range fns {
			walk(f)
			lines += len(f.Lines)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(n), "ranges")
		b.ReportMetric(float64(total), "functions")
		b.ReportMetric(float64(lines), "lines")
		b.ReportMetric(float64(size)/1e6, "MB_debug_info")
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			s, err := dwarf.NewSession(bin.std, dwarf.Options{LoadAddress: bin.load})
			if err != nil {
				b.Fatal(err)
			}
			fns, err := s.AllFunctions()
			if err != nil {
				b.Fatal(err)
			}
			debugfiles.NewIndex(fns)
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
}

// cpuTime is the process's user and system time in nanoseconds: on a
// shared machine it measures the work better than the wall clock, and it
// includes the garbage collector's background work.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkLookup measures symbolicating random .text addresses of the big
// binary, inline chain included, into a reused frame slice.
func BenchmarkLookup(b *testing.B) {
	bin, sec := loadBig(b)
	s, err := dwarf.NewSessionFromSections(sec, dwarf.Options{LoadAddress: bin.load})
	if err != nil {
		b.Fatal(err)
	}
	fns, err := s.AllFunctions()
	if err != nil {
		b.Fatal(err)
	}
	ix := debugfiles.NewIndex(fns)
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]uint64, 1<<16)
	for i := range addrs {
		addrs[i] = bin.text.Addr + rng.Uint64N(bin.text.Size) - bin.load
	}
	frames := make([]debugfiles.Frame, 0, 16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		frames = ix.AppendLookup(frames[:0], addrs[i&(len(addrs)-1)])
		i++
	}
	_ = elf.ET_EXEC
}
