package msvc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// The oracle is llvm-undname from LLVM 14, fed many names over stdin in one
// process, the way pprof drives llvm-symbolizer.

const undnameInstall = "apt-get install llvm-14"

func undnamePath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/llvm-undname-14", "/usr/lib/llvm-14/bin/llvm-undname"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("llvm-undname-14"); err == nil {
		return p
	}
	testtools.Missing(t, "llvm-undname-14", undnameInstall)
	return ""
}

// undnameResult is the oracle's answer for one name; ok is false when it
// reported "Invalid mangled name".
type undnameResult struct {
	out string
	ok  bool
}

// runUndname demangles names with llvm-undname-14 and the given options.
// With input from a pipe it echoes each line, then prints the demangled name
// (nothing on failure, with the error on stderr) and an empty line.
func runUndname(t testing.TB, path string, names []string, opts ...string) []undnameResult {
	t.Helper()
	var in bytes.Buffer
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "\r\n") || strings.TrimSpace(n) != n || strings.IndexByte(n, 0) >= 0 {
			t.Fatalf("name %q cannot be passed to llvm-undname line by line", n)
		}
		in.WriteString(n)
		in.WriteByte('\n')
	}
	cmd := exec.Command(path, opts...)
	cmd.Stdin = &in
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = new(bytes.Buffer)
	// llvm-undname exits 1 when any name failed; the output is still complete.
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("llvm-undname: %v", err)
		}
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	res := make([]undnameResult, len(names))
	for i, n := range names {
		echo, ok := line()
		if !ok || echo != n {
			t.Fatalf("llvm-undname output out of step at name %d %q: got echo %q", i, n, echo)
		}
		l, ok := line()
		if !ok {
			t.Fatalf("llvm-undname output ends early at name %d %q", i, n)
		}
		if l == "" {
			continue
		}
		res[i] = undnameResult{out: l, ok: true}
		if blank, ok := line(); !ok || blank != "" {
			t.Fatalf("llvm-undname output out of step after name %d %q: %q", i, n, blank)
		}
	}
	return res
}

// readCorpus returns the hand-picked names of testdata/corpus.txt: one per
// line, '#' starts a comment line.
func readCorpus(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		names = append(names, l)
	}
	return names
}

// compiled caches compiledNames for the test binary: compiling the sources
// twice for two targets takes a few seconds.
var compiled struct {
	sync.Mutex
	names []string
}

// compiledNames compiles testdata/src/*.cpp for the MSVC targets with clang
// and returns every decorated symbol name llvm-nm lists (defined and
// undefined), sorted and without duplicates.
func compiledNames(t testing.TB) []string {
	t.Helper()
	compiled.Lock()
	defer compiled.Unlock()
	if compiled.names == nil {
		compiled.names = compileNames(t)
	}
	return compiled.names
}

func compileNames(t testing.TB) []string {
	t.Helper()
	clang, err := exec.LookPath("clang++-14")
	if err != nil {
		testtools.Missing(t, "clang++-14", "apt-get install clang-14")
	}
	nm, err := exec.LookPath("llvm-nm-14")
	if err != nil {
		testtools.Missing(t, "llvm-nm-14", undnameInstall)
	}
	srcs, err := filepath.Glob(filepath.Join("testdata", "src", "*.cpp"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no C++ sources in testdata/src: %v", err)
	}
	dir := t.TempDir()
	type job struct{ src, target string }
	var jobs []job
	for _, s := range srcs {
		for _, tg := range []string{"x86_64-pc-windows-msvc", "i686-pc-windows-msvc"} {
			jobs = append(jobs, job{s, tg})
		}
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		seen  = map[string]bool{}
		errs  []string
		limit = make(chan struct{}, 4)
	)
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit <- struct{}{}
			defer func() { <-limit }()
			obj := filepath.Join(dir, fmt.Sprintf("%d.o", i))
			args := []string{"--target=" + j.target, "-std=c++20", "-c", "-O1", "-fno-exceptions",
				"-Wno-everything", "-I", filepath.Join("testdata", "src"), j.src, "-o", obj}
			if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s (%s): %v\n%s", j.src, j.target, err, out))
				mu.Unlock()
				return
			}
			out, err := exec.Command(nm, "--format=just-symbols", obj).Output()
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("llvm-nm %s: %v", j.src, err))
				mu.Unlock()
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, "?") {
					seen[l] = true
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("compiling the test sources failed:\n%s", strings.Join(errs, "\n"))
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fixtureCache caches fixtureNames for the test binary.
var fixtureCache struct {
	sync.Mutex
	done  bool
	names []string
}

// publicName is a decorated name as llvm-pdbutil prints it: in backquotes.
var publicName = regexp.MustCompile("`(\\?[^`]*)`")

// fixtureNames returns the decorated names in the public symbols of the
// project's PE fixtures (clang-14 and lld-link-14 for the MSVC targets),
// read from their PDBs with llvm-pdbutil-14. A fixture that cannot be built
// here is logged and left out, or fails the test under CI.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	fixtureCache.Lock()
	defer fixtureCache.Unlock()
	if fixtureCache.done {
		return fixtureCache.names
	}
	fixtureCache.done = true
	pdbutil, err := exec.LookPath("llvm-pdbutil-14")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("llvm-pdbutil-14 not found; install it with: %s", undnameInstall)
		}
		t.Logf("llvm-pdbutil-14 not found (%s); fixture names left out", undnameInstall)
		return nil
	}
	seen := map[string]bool{}
	for _, name := range fixtures.Names() {
		if !strings.HasPrefix(name, "pe-") {
			continue
		}
		dir, err := fixtures.BuildDir(context.Background(), name)
		if err != nil {
			var missing *fixtures.MissingToolError
			if errors.As(err, &missing) && os.Getenv("CI") != "true" {
				t.Logf("fixture %s left out: %v", name, err)
				continue
			}
			t.Fatalf("fixture %s: %v", name, err)
		}
		pdbs, _ := filepath.Glob(filepath.Join(dir, "*.pdb"))
		for _, pdb := range pdbs {
			out, err := exec.Command(pdbutil, "dump", "--publics", pdb).Output()
			if err != nil {
				t.Fatalf("llvm-pdbutil dump --publics %s: %v", pdb, err)
			}
			for _, m := range publicName.FindAllStringSubmatch(string(out), -1) {
				seen[m[1]] = true
			}
		}
	}
	for n := range seen {
		fixtureCache.names = append(fixtureCache.names, n)
	}
	sort.Strings(fixtureCache.names)
	return fixtureCache.names
}
