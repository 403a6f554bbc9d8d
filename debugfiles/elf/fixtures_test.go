package elf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles"
)

// variant is one test binary built from the C sources in testdata.
type variant struct {
	// name is the file the commands produce in the build directory.
	name string
	// cmds run in order in the build directory; alt, when set, is tried
	// instead if cmds fail (e.g. an option the compiler lacks).
	cmds [][]string
	alt  [][]string
	// kind is what Kind must report.
	kind debugfiles.Kind
	// debugLink is the .gnu_debuglink name the file must carry.
	debugLink string
}

// miniDebugInfoScript builds "minidebug" the way distributions add
// MiniDebugInfo: the function symbols missing from .dynsym are kept in an
// xz-compressed ELF file stored in .gnu_debugdata of the stripped binary.
const miniDebugInfoScript = `set -e
nm -D pie --format=posix --defined-only | awk '{print $1}' | sort > dynsyms
nm pie --format=posix --defined-only | awk '$2 == "T" || $2 == "t" {print $1}' | sort > funcsyms
comm -13 dynsyms funcsyms > keep_symbols
objcopy --only-keep-debug pie mini.full
objcopy -S --remove-section .gdb_index --remove-section .comment --keep-symbols=keep_symbols mini.full mini
strip --strip-all -R .comment -o minidebug pie
xz -k -f mini
objcopy --add-section .gnu_debugdata=mini.xz minidebug
`

func cross(target, out string, extra ...string) []string {
	args := []string{"clang-14", "--target=" + target, "-g", "-O1", "-fuse-ld=/usr/bin/ld.lld-14", "-nostdlib", "-static", "-Wl,--build-id=sha1", "-Wl,-e,_start"}
	return append(append(args, extra...), "-o", out, "bare.c")
}

var variants = []variant{
	{name: "pie", cmds: [][]string{{"gcc", "-g", "-O1", "-o", "pie", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "nopie", cmds: [][]string{{"gcc", "-g", "-O1", "-no-pie", "-o", "nopie", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "gz-zlib", cmds: [][]string{{"gcc", "-g", "-O1", "-gz=zlib", "-o", "gz-zlib", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "gz-zstd", cmds: [][]string{{"gcc", "-g", "-O1", "-gz=zstd", "-o", "gz-zstd", "prog.c"}},
		alt: [][]string{{"objcopy", "--compress-debug-sections=zstd", "pie", "gz-zstd"}}, kind: debugfiles.KindExecutable},
	{name: "zdebug", cmds: [][]string{{"objcopy", "--compress-debug-sections=zlib-gnu", "pie", "zdebug"}}, kind: debugfiles.KindExecutable},
	{name: "pie.debug", cmds: [][]string{{"objcopy", "--only-keep-debug", "pie", "pie.debug"}}, kind: debugfiles.KindDebug},
	{name: "stripped", cmds: [][]string{{"strip", "-g", "-o", "stripped", "pie"}, {"objcopy", "--add-gnu-debuglink=pie.debug", "stripped"}},
		kind: debugfiles.KindExecutable, debugLink: "pie.debug"},
	{name: "sstripped", cmds: [][]string{{"strip", "-s", "-o", "sstripped", "pie"}}, kind: debugfiles.KindExecutable},
	{name: "nobuildid", cmds: [][]string{{"gcc", "-g", "-O1", "-Wl,--build-id=none", "-o", "nobuildid", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "nobuildid.debug", cmds: [][]string{{"objcopy", "--only-keep-debug", "nobuildid", "nobuildid.debug"}}, kind: debugfiles.KindDebug},
	{name: "lib.so", cmds: [][]string{{"gcc", "-g", "-O1", "-shared", "-fPIC", "-o", "lib.so", "lib.c"}}, kind: debugfiles.KindLibrary},
	{name: "prog.o", cmds: [][]string{{"gcc", "-g", "-O1", "-c", "-o", "prog.o", "prog.c"}}, kind: debugfiles.KindRelocatable},
	{name: "static", cmds: [][]string{{"gcc", "-g", "-O1", "-static", "-o", "static", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "static-pie", cmds: [][]string{{"gcc", "-g", "-O1", "-static-pie", "-o", "static-pie", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "split", cmds: [][]string{{"gcc", "-g", "-O1", "-gsplit-dwarf", "-o", "split", "prog.c"}}, kind: debugfiles.KindExecutable},
	{name: "csplit", cmds: [][]string{{"clang-14", "-g", "-O1", "-gsplit-dwarf", "-o", "csplit", "prog.c"},
		{"llvm-dwp-14", "-e", "csplit", "-o", "csplit.dwp"}, {"rm", "prog.dwo"}}, kind: debugfiles.KindExecutable},
	{name: "split4", cmds: [][]string{{"gcc", "-g", "-gdwarf-4", "-O1", "-gsplit-dwarf", "-o", "split4", "prog.c"},
		{"dwp", "-e", "split4", "-o", "split4.dwp"}, {"rm", "split4-prog.dwo"}}, kind: debugfiles.KindExecutable},
	{name: "minidebug", cmds: [][]string{{"sh", "-c", miniDebugInfoScript}}, kind: debugfiles.KindExecutable},
	{name: "m32.o", cmds: [][]string{{"gcc", "-m32", "-g", "-O1", "-c", "-o", "m32.o", "bare.c"}}, kind: debugfiles.KindRelocatable},
	{name: "m32", cmds: [][]string{{"gcc", "-m32", "-g", "-O1", "-nostdlib", "-static", "-Wl,--build-id", "-o", "m32", "bare.c"}}, kind: debugfiles.KindExecutable},
	{name: "arm64", cmds: [][]string{{"aarch64-linux-gnu-gcc", "-g", "-O1", "-o", "arm64", "prog.c"}},
		alt: [][]string{cross("aarch64-linux-gnu", "arm64")}, kind: debugfiles.KindExecutable},
	{name: "ppc64.o", cmds: [][]string{{"clang-14", "--target=powerpc64-linux-gnu", "-g", "-O1", "-c", "-o", "ppc64.o", "bare.c"}}, kind: debugfiles.KindRelocatable},
	{name: "ppc64", cmds: [][]string{cross("powerpc64-linux-gnu", "ppc64")}, kind: debugfiles.KindExecutable},
	{name: "ppc", cmds: [][]string{cross("powerpc-linux-gnu", "ppc")}, kind: debugfiles.KindExecutable},
	{name: "mips64", cmds: [][]string{cross("mips64-linux-gnuabi64", "mips64")}, kind: debugfiles.KindExecutable},
	{name: "riscv64", cmds: [][]string{cross("riscv64-linux-gnu", "riscv64")}, kind: debugfiles.KindExecutable},
	{name: "arm", cmds: [][]string{cross("armv7a-linux-gnueabihf", "arm", "-mthumb")}, kind: debugfiles.KindExecutable},
}

// builtSet is the build directory and the variants that could be built.
type builtSet struct {
	dir    string
	ok     map[string]bool
	failed map[string]string
	err    error
}

var (
	buildOnce sync.Once
	built     builtSet
	buildRoot string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildRoot != "" {
		os.RemoveAll(buildRoot)
	}
	os.Exit(code)
}

// fixtures builds every variant once per test binary and returns the set;
// it skips the test when no C compiler is available.
func fixtures(t testing.TB) *builtSet {
	t.Helper()
	buildOnce.Do(buildAll)
	if built.err != nil {
		t.Skipf("cannot build test binaries: %v", built.err)
	}
	return &built
}

// builtFixtures is fixtures for fuzz seeds: nil instead of a skip when
// nothing can be built.
func builtFixtures() *builtSet {
	buildOnce.Do(buildAll)
	if built.err != nil {
		return nil
	}
	return &built
}

func buildAll() {
	if _, err := exec.LookPath("gcc"); err != nil {
		built.err = err
		return
	}
	dir, err := os.MkdirTemp("", "cairn-elf-test-")
	if err != nil {
		built.err = err
		return
	}
	buildRoot = dir
	built.dir = dir
	built.ok = map[string]bool{}
	built.failed = map[string]string{}
	for _, src := range []string{"prog.c", "lib.c", "bare.c"} {
		b, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			built.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, src), b, 0o644); err != nil {
			built.err = err
			return
		}
	}
	for _, v := range variants {
		err := runAll(dir, v.cmds)
		if err != nil && v.alt != nil {
			err = runAll(dir, v.alt)
		}
		if err != nil {
			built.failed[v.name] = err.Error()
			continue
		}
		built.ok[v.name] = true
	}
}

func runAll(dir string, cmds [][]string) error {
	for _, c := range cmds {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, firstLine(string(out)))
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// path returns the built variant's path, skipping the test when it could
// not be built here.
func (b *builtSet) path(t testing.TB, name string) string {
	t.Helper()
	if !b.ok[name] {
		t.Skipf("%s not built here: %s", name, b.failed[name])
	}
	return filepath.Join(b.dir, name)
}

// open opens a built variant and closes it with the test.
func (b *builtSet) open(t testing.TB, name string) *Object {
	t.Helper()
	o, err := Open(b.path(t, name))
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}
