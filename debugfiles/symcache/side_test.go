package symcache_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// TestSideBySide runs the whole-process comparisons recorded in
// BENCHMARKS.md ("SymCache") with hyperfine, on the ≥20 MB-DWARF bench
// fixture: `cairn symbolicate` against llvm-symbolizer-14 --inlines on the
// same 1,000,000 random code addresses, `cairn symcache build` against
// Breakpad's dump_syms, and the file sizes. It only measures and prints;
// it runs when CAIRN_SIDE_BY_SIDE=1 (`go tool task bench:symcache`).
func TestSideBySide(t *testing.T) {
	if os.Getenv("CAIRN_SIDE_BY_SIDE") != "1" {
		t.Skip("set CAIRN_SIDE_BY_SIDE=1 (and CAIRN_FIXTURES_BENCH=1) to run the side-by-side measurements")
	}
	hyperfine, err := exec.LookPath("hyperfine")
	if err != nil {
		testtools.Missing(t, "hyperfine", "apt-get install -y hyperfine")
	}
	if _, err := exec.LookPath(symoracle.Tool); err != nil {
		testtools.Missing(t, symoracle.Tool, symoracle.Install)
	}
	dumpSyms := testtools.BreakpadTool(t, "dump_syms")
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2-bench")
	dir := t.TempDir()
	cairn := filepath.Join(dir, "cairn")
	// The command-line build, as a CI runner or a developer installs it
	// (README): static, without the server's start-up cost.
	build := exec.Command("go", "build", "-tags", "cairncli", "-o", cairn, filepath.Join(testtools.RepoRoot(), "cmd", "cairn"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start, end, err := fixtures.TextRange(bin)
	if err != nil {
		t.Fatal(err)
	}
	addrs := filepath.Join(dir, "addrs.txt")
	f, err := os.Create(addrs)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		fmt.Fprintf(w, "0x%x\n", start+rng.Uint64N(end-start))
	}
	w.Flush()
	f.Close()

	sc := filepath.Join(dir, "bench.symcache")
	sym := filepath.Join(dir, "bench.sym")
	cacheDir := filepath.Join(dir, "cache")
	sh := func(cmd string) {
		t.Helper()
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		t.Logf("$ %s\n%s", cmd, out)
	}
	sh(fmt.Sprintf("%s symcache build %s -o %s", cairn, bin, sc))
	sh(fmt.Sprintf("%s -c -d %s > %s", dumpSyms, bin, sym))
	sh(fmt.Sprintf("%s symbolicate --cache-dir %s --obj %s 0x%x", cairn, cacheDir, bin, start)) // fills the cache
	// The outputs agree with llvm-symbolizer's where the data does (see
	// TestSymbolicateAgainstLLVMSymbolizer); here only their sizes.
	sh(fmt.Sprintf("%s symbolicate --obj %s < %s | wc -c; %s --inlines --obj=%s < %s | wc -c", cairn, sc, addrs, symoracle.Tool, bin, addrs))

	hf := func(args ...string) {
		t.Helper()
		cmd := exec.Command(hyperfine, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hyperfine: %v\n%s", err, out)
		}
		t.Logf("$ hyperfine %s\n%s", strings.Join(args, " "), out)
	}
	hf("-w", "1", "-r", "3",
		fmt.Sprintf("%s --inlines --obj=%s < %s > /dev/null", symoracle.Tool, bin, addrs),
		fmt.Sprintf("%s symbolicate --obj %s < %s > /dev/null", cairn, sc, addrs),
		fmt.Sprintf("%s symbolicate --cache-dir %s --obj %s < %s > /dev/null", cairn, cacheDir, bin, addrs),
		fmt.Sprintf("%s symbolicate --no-cache --obj %s < %s > /dev/null", cairn, bin, addrs))
	// Thirty rounds each: on the two-core machines measured, a build
	// takes 48-70 ms as the second core comes and goes (BENCHMARKS.md).
	hf("-N", "-w", "2", "-r", "30",
		fmt.Sprintf("%s -c -d %s", dumpSyms, bin),
		fmt.Sprintf("%s symcache build %s -o %s", cairn, bin, filepath.Join(dir, "b.symcache")))
	hf("-N", "-w", "3", "-r", "30",
		fmt.Sprintf("%s --inlines --obj=%s 0x%x", symoracle.Tool, bin, start),
		fmt.Sprintf("%s symbolicate --obj %s 0x%x", cairn, sc, start))
	sh(fmt.Sprintf("/usr/bin/time -f 'llvm-symbolizer max RSS %%M KB' %s --inlines --obj=%s < %s > /dev/null", symoracle.Tool, bin, addrs))
	sh(fmt.Sprintf("/usr/bin/time -f 'cairn symbolicate (symcache) max RSS %%M KB' %s symbolicate --obj %s < %s > /dev/null", cairn, sc, addrs))
	sh(fmt.Sprintf("/usr/bin/time -f 'dump_syms max RSS %%M KB' %s -c -d %s > /dev/null", dumpSyms, bin))
	sh(fmt.Sprintf("/usr/bin/time -f 'cairn symcache build max RSS %%M KB' %s symcache build %s -o %s", cairn, bin, filepath.Join(dir, "c.symcache")))
	sh(fmt.Sprintf("ls -l %s %s", sc, sym))
	if gsym, err := exec.LookPath("llvm-gsymutil-14"); err == nil {
		sh(fmt.Sprintf("%s --convert %s --out-file %s > /dev/null && ls -l %s", gsym, bin, filepath.Join(dir, "b.gsym"), filepath.Join(dir, "b.gsym")))
	}
}
