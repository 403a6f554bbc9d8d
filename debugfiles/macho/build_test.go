package macho

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The test binaries are built from testdata/hello.c and testdata/names.cpp
// with LLVM 14 (there is no macOS SDK here, so the sources are freestanding):
// thin executables for several architectures, a fat file, a dylib, a bundle,
// object files, dSYM bundles made by dsymutil, and a few synthetic headers
// for architectures clang no longer targets (PowerPC).

const installHint = "apt-get install clang-14 lld-14 llvm-14"

var llvmTools = []string{"clang-14", "ld64.lld-14", "llvm-lipo-14", "dsymutil-14", "llvm-nm-14", "llvm-objdump-14", "llvm-dwarfdump-14", "llvm-strip-14"}

// variant is one built test file.
type variant struct {
	name string
	path string
	// bundle is true for a dSYM directory; file is its DWARF file.
	bundle bool
	file   string
	// synthetic files have no DWARF, symbols or unwind information.
	synthetic bool
}

var (
	fixturesOnce sync.Once
	fixturesDir  string
	fixturesList []variant
	fixturesErr  error
)

// fixtures builds every variant once per test binary; it skips the test when
// the LLVM tools are missing (and fails under CI=true).
func fixtures(t testing.TB) []variant {
	t.Helper()
	requireTools(t)
	fixturesOnce.Do(func() {
		fixturesDir, fixturesErr = os.MkdirTemp("", "cairn-macho-")
		if fixturesErr == nil {
			fixturesList, fixturesErr = build(fixturesDir)
		}
	})
	if fixturesErr != nil {
		t.Fatalf("building test binaries: %v", fixturesErr)
	}
	return fixturesList
}

func fixture(t testing.TB, name string) variant {
	t.Helper()
	for _, v := range fixtures(t) {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no fixture %q", name)
	return variant{}
}

func toolsPresent() bool {
	for _, tool := range llvmTools {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

func requireTools(t testing.TB) {
	t.Helper()
	for _, tool := range llvmTools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found; install with `%s`", tool, installHint)
			}
			t.Skipf("%s not found; install with `%s`", tool, installHint)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixturesDir != "" {
		os.RemoveAll(fixturesDir)
	}
	os.Exit(code)
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// target describes how to build for one architecture.
type target struct {
	arch     string // ld64.lld -arch, and the name of the files
	triple   string
	platform []string // ld64.lld -platform_version arguments; nil: object file only
}

var targets = []target{
	{"arm64", "arm64-apple-macos11", []string{"macos", "11.0", "11.0"}},
	{"x86_64", "x86_64-apple-macos11", []string{"macos", "11.0", "11.0"}},
	{"arm64e", "arm64e-apple-ios14", []string{"ios", "14.0", "14.0"}},
	{"arm64_32", "arm64_32-apple-watchos7", []string{"watchos", "7.0", "7.0"}},
	{"x86_64h", "x86_64h-apple-macos11", nil},
	{"i386", "i386-apple-macos10.12", nil},
	{"armv7", "armv7-apple-ios9", nil},
	{"armv7s", "armv7s-apple-ios9", nil},
	{"armv7k", "armv7k-apple-watchos5", nil},
}

func build(dir string) ([]variant, error) {
	src, err := filepath.Abs("testdata")
	if err != nil {
		return nil, err
	}
	// dsymutil runs `lipo` to assemble fat dSYMs.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	lipo, err := exec.LookPath("llvm-lipo-14")
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(lipo, filepath.Join(bin, "lipo")); err != nil {
		return nil, err
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	c := func(args ...string) error { return run(dir, env, "clang-14", args...) }
	ld := func(args ...string) error { return run(dir, env, "ld64.lld-14", args...) }
	var vs []variant
	add := func(name string) { vs = append(vs, variant{name: name, path: filepath.Join(dir, name)}) }
	cflags := []string{"-g", "-O1", "-nostdinc", "-c"}

	for _, tg := range targets {
		ho, no := "hello-"+tg.arch+".o", "names-"+tg.arch+".o"
		if err := c(append([]string{"--target=" + tg.triple, filepath.Join(src, "hello.c"), "-o", ho}, cflags...)...); err != nil {
			return nil, err
		}
		add(ho)
		if tg.platform == nil {
			continue
		}
		if err := c(append([]string{"--target=" + tg.triple, "-x", "c++", "-fno-exceptions", "-fno-rtti", filepath.Join(src, "names.cpp"), "-o", no}, cflags...)...); err != nil {
			return nil, err
		}
		link := append([]string{"-arch", tg.arch, "-platform_version"}, tg.platform...)
		exe := "hello-" + tg.arch
		if err := ld(append(link, "-e", "_main", "-o", exe, ho, no)...); err != nil {
			return nil, err
		}
		add(exe)
		if err := run(dir, env, "dsymutil-14", exe, "-o", exe+".dSYM"); err != nil {
			return nil, err
		}
		vs = append(vs, variant{name: exe + ".dSYM", path: filepath.Join(dir, exe+".dSYM"), bundle: true,
			file: filepath.Join(dir, exe+".dSYM", "Contents", "Resources", "DWARF", exe)})
		if tg.arch == "arm64" {
			if err := ld(append(link, "-dylib", "-o", "libhello.dylib", ho, no)...); err != nil {
				return nil, err
			}
			add("libhello.dylib")
			if err := ld(append(link, "-bundle", "-o", "hello.bundle", ho, no)...); err != nil {
				return nil, err
			}
			add("hello.bundle")
			if err := run(dir, env, "llvm-strip-14", exe, "-o", exe+"-stripped"); err != nil {
				return nil, err
			}
			add(exe + "-stripped")
			// DWARF 5 (.debug_str_offsets, .debug_addr, .debug_line_str) as
			// an object file: dsymutil-14 cannot link DWARF 5.
			if err := c(append([]string{"--target=" + tg.triple, "-gdwarf-5", filepath.Join(src, "hello.c"), "-o", "hello-dwarf5.o"}, cflags...)...); err != nil {
				return nil, err
			}
			add("hello-dwarf5.o")
		}
	}
	if err := run(dir, env, "llvm-lipo-14", "-create", "hello-arm64", "hello-x86_64", "-output", "hello-fat"); err != nil {
		return nil, err
	}
	add("hello-fat")
	if err := run(dir, env, "dsymutil-14", "hello-fat", "-o", "hello-fat.dSYM"); err != nil {
		return nil, err
	}
	vs = append(vs, variant{name: "hello-fat.dSYM", path: filepath.Join(dir, "hello-fat.dSYM"), bundle: true,
		file: filepath.Join(dir, "hello-fat.dSYM", "Contents", "Resources", "DWARF", "hello-fat")})

	for _, s := range synthetic {
		p := filepath.Join(dir, s.name)
		if err := os.WriteFile(p, s.data(), 0o644); err != nil {
			return nil, err
		}
		vs = append(vs, variant{name: s.name, path: p, synthetic: true})
	}
	return vs, nil
}

// syntheticHeader is a minimal Mach-O image: a header and an LC_UUID.
type syntheticHeader struct {
	name     string
	be       bool
	is64     bool
	cpu, sub uint32
	filetype uint32
}

var synthetic = []syntheticHeader{
	{name: "synth-ppc", be: true, cpu: cpuPPC, sub: 0, filetype: mhExecute},
	{name: "synth-ppc64", be: true, is64: true, cpu: cpuPPC64, sub: 0, filetype: mhDylib},
	{name: "synth-arm64e-ptrauth", is64: true, cpu: cpuARM64, sub: 0x80000002, filetype: mhExecute},
	{name: "synth-arm64v8", is64: true, cpu: cpuARM64, sub: 1, filetype: mhBundle},
	{name: "synth-arm64_32-all", cpu: cpuARM64_32, sub: 0, filetype: mhExecute},
	{name: "synth-x86_64-unknown", is64: true, cpu: cpuX86_64, sub: 0x55, filetype: mhDSYM},
	{name: "synth-armv6m", cpu: cpuARM, sub: 14, filetype: mhExecute},
	{name: "synth-core", is64: true, cpu: cpuARM64, sub: 0, filetype: mhCore},
}

func (s syntheticHeader) data() []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if s.be {
		bo = binary.BigEndian
	}
	magic, hsize := uint32(magic32), 28
	if s.is64 {
		magic, hsize = magic64, 32
	}
	b := make([]byte, hsize+24)
	bo.PutUint32(b[0:], magic)
	bo.PutUint32(b[4:], s.cpu)
	bo.PutUint32(b[8:], s.sub)
	bo.PutUint32(b[12:], s.filetype)
	bo.PutUint32(b[16:], 1)  // ncmds
	bo.PutUint32(b[20:], 24) // sizeofcmds
	lc := b[hsize:]
	bo.PutUint32(lc[0:], 0x1b) // LC_UUID
	bo.PutUint32(lc[4:], 24)
	for i := range 16 {
		lc[8+i] = byte(len(s.name)*17 + i*29 + int(s.cpu))
	}
	return b
}
