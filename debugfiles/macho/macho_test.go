package macho

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

const sentryCLIDefault = "/opt/cairn-tools/node_modules/@sentry/cli-linux-x64/bin/sentry-cli"

const sentryCLIInstall = "mkdir -p /opt/cairn-tools && cd /opt/cairn-tools && npm install --no-audit --no-fund @sentry/cli@3.8.0"

func sentryCLI(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CAIRN_SENTRY_CLI")
	if p == "" {
		p = sentryCLIDefault
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sentry-cli not found at %s; install with `%s`", p, sentryCLIInstall)
		}
		t.Skipf("sentry-cli not found at %s; install with `%s`", p, sentryCLIInstall)
	}
	return p
}

func openVariant(t *testing.T, v variant) []*Object {
	t.Helper()
	objs, err := Open(v.path)
	if err != nil {
		t.Fatalf("Open(%s): %v", v.name, err)
	}
	t.Cleanup(func() {
		for _, o := range objs {
			if err := o.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return objs
}

// sentryCheck is the output of `sentry-cli debug-files check --json`.
type sentryCheck struct {
	Type     string `json:"type"`
	Variants []struct {
		DebugID string  `json:"debug_id"`
		CodeID  *string `json:"code_id"`
		Arch    string  `json:"arch"`
	} `json:"variants"`
	Features string `json:"features"`
}

// sentryKinds maps the kind sentry-cli prints after "Type: dsym".
var sentryKinds = map[string]debugfiles.Kind{
	"object":          debugfiles.KindRelocatable,
	"executable":      debugfiles.KindExecutable,
	"library":         debugfiles.KindLibrary,
	"debug companion": debugfiles.KindDebug,
	"memory dump":     debugfiles.KindDump,
}

var typeLine = regexp.MustCompile(`(?m)^\s*Type:\s*dsym (.+)$`)

// TestSentryCLIAgreement compares identity and features with the real
// sentry-cli for every variant, fat files and dSYMs included.
func TestSentryCLIAgreement(t *testing.T) {
	cli := sentryCLI(t)
	for _, v := range fixtures(t) {
		t.Run(v.name, func(t *testing.T) {
			objs := openVariant(t, v)
			file := v.path
			if v.bundle {
				file = v.file // sentry-cli checks single files only
			}
			// sentry-cli exits with 1 for files it deems unusable (no
			// debug id), after printing its report.
			out, err := exec.Command(cli, "debug-files", "check", "--json", file).Output()
			if len(out) == 0 {
				t.Fatalf("sentry-cli: %v", err)
			}
			var want sentryCheck
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("sentry-cli output: %v\n%s", err, out)
			}
			if want.Type != "dsym" {
				t.Errorf("sentry-cli type %q, want dsym (its name for Mach-O)", want.Type)
			}
			if len(objs) != len(want.Variants) {
				t.Fatalf("%d objects, sentry-cli has %d variants", len(objs), len(want.Variants))
			}
			var features debugfiles.Features
			for i, o := range objs {
				w := want.Variants[i]
				wantCode := ""
				if w.CodeID != nil {
					wantCode = *w.CodeID
				}
				if o.DebugID().String() != w.DebugID || o.CodeID() != wantCode || o.Arch() != w.Arch {
					t.Errorf("variant %d: got (%s, %q, %s), sentry-cli (%s, %q, %s)", i,
						o.DebugID(), o.CodeID(), o.Arch(), w.DebugID, wantCode, w.Arch)
				}
				if o.Format() != debugfiles.FormatMachO {
					t.Errorf("variant %d: format %v", i, o.Format())
				}
				features |= o.Features()
			}
			// sentry-cli prints the union of its variants' features.
			if got := features.String(); got != want.Features {
				t.Errorf("features %q, sentry-cli %q", got, want.Features)
			}
			text, err := exec.Command(cli, "debug-files", "check", file).Output()
			if len(text) == 0 {
				t.Fatalf("sentry-cli: %v", err)
			}
			m := typeLine.FindSubmatch(text)
			if m == nil {
				t.Fatalf("no Type line in\n%s", text)
			}
			kind, ok := sentryKinds[string(m[1])]
			if !ok {
				t.Fatalf("unexpected sentry-cli kind %q", m[1])
			}
			if objs[0].Kind() != kind {
				t.Errorf("kind %v, sentry-cli %q", objs[0].Kind(), m[1])
			}
			t.Logf("%s: %d variant(s), kind %v, features %v", v.name, len(objs), objs[0].Kind(), features)
		})
	}
}

var dwarfdumpUUID = regexp.MustCompile(`UUID: ([0-9A-F-]{36}) \((\S+)\)`)

// TestUUIDAndArchAgainstLLVM checks the LC_UUID and the architecture against
// llvm-dwarfdump --uuid.
func TestUUIDAndArchAgainstLLVM(t *testing.T) {
	// llvm-dwarfdump names arm64e "arm64e", armv7k "armv7k", i386 "i386".
	llvmArch := map[string]string{"x86": "i386", "arm64_32_v8": "arm64_32"}
	for _, v := range fixtures(t) {
		if v.synthetic {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			objs := openVariant(t, v)
			file := v.path
			if v.bundle {
				file = v.file
			}
			out, err := exec.Command("llvm-dwarfdump-14", "--uuid", file).Output()
			if err != nil {
				t.Fatalf("llvm-dwarfdump: %v", err)
			}
			ms := dwarfdumpUUID.FindAllSubmatch(out, -1)
			var got, want []string
			for _, m := range ms {
				want = append(want, strings.ToLower(string(m[1]))+" "+string(m[2]))
			}
			for _, o := range objs {
				id, ok := o.UUID()
				if !ok {
					continue
				}
				a := o.Arch()
				if n, ok := llvmArch[a]; ok {
					a = n
				}
				got = append(got, o.DebugID().String()+" "+a)
				if o.CodeID() != strings.ReplaceAll(o.DebugID().String(), "-", "") || id != o.DebugID().GUID {
					t.Errorf("code id %s and debug id %s disagree", o.CodeID(), o.DebugID())
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, llvm-dwarfdump %q", got, want)
			}
		})
	}
}

// nmSymbol is a line of llvm-nm output.
type nmSymbol struct {
	addr uint64
	typ  byte
	name string
}

func llvmNM(t *testing.T, file, arch string) []nmSymbol {
	t.Helper()
	args := []string{"-n", "--defined-only"}
	if arch != "" {
		args = append(args, "--arch="+arch)
	}
	out, err := exec.Command("llvm-nm-14", append(args, file)...).Output()
	if err != nil {
		t.Fatalf("llvm-nm: %v", err)
	}
	var syms []nmSymbol
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || len(f[1]) != 1 {
			continue
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		syms = append(syms, nmSymbol{a, f[1][0], f[2]})
	}
	return syms
}

// textRange is the address range of __TEXT,__text from llvm-objdump.
func textRange(t *testing.T, file, arch string) (uint64, uint64) {
	t.Helper()
	args := []string{"--macho", "--section-headers"}
	if arch != "" {
		args = append(args, "--arch="+arch)
	}
	out, err := exec.Command("llvm-objdump-14", append(args, file)...).Output()
	if err != nil {
		t.Fatalf("llvm-objdump: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == "__text" {
			size, _ := strconv.ParseUint(f[2], 16, 64)
			addr, _ := strconv.ParseUint(f[3], 16, 64)
			return addr, addr + size
		}
	}
	t.Fatalf("no __text in\n%s", out)
	return 0, 0
}

// TestSymbolsAgainstNM checks Symbols against llvm-nm: the same addresses in
// __text, one of llvm-nm's names at each (without the leading underscore),
// and sizes that tile the section up to its end.
func TestSymbolsAgainstNM(t *testing.T) {
	for _, v := range fixtures(t) {
		if v.synthetic || strings.HasSuffix(v.name, "-stripped") {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			objs := openVariant(t, v)
			file := v.path
			if v.bundle {
				file = v.file
			}
			for _, o := range objs {
				arch := ""
				if len(objs) > 1 {
					arch = o.Arch()
				}
				start, end := textRange(t, file, arch)
				names := make(map[uint64][]string)
				var addrs []uint64
				for _, s := range llvmNM(t, file, arch) {
					if (s.typ != 'T' && s.typ != 't') || s.addr < start || s.addr >= end {
						continue
					}
					if len(names[s.addr]) == 0 {
						addrs = append(addrs, s.addr)
					}
					names[s.addr] = append(names[s.addr], s.name)
				}
				var got []debugfiles.Symbol
				for s := range o.Symbols() {
					got = append(got, s)
				}
				if len(got) != len(addrs) {
					t.Fatalf("%s: %d symbols, llvm-nm %d: %+v", o.Arch(), len(got), len(addrs), got)
				}
				load := o.LoadAddress()
				for i, s := range got {
					if s.Address+load != addrs[i] {
						t.Errorf("%s: symbol %d at %#x, llvm-nm %#x", o.Arch(), i, s.Address+load, addrs[i])
						continue
					}
					found := false
					for _, n := range names[addrs[i]] {
						found = found || strings.TrimPrefix(n, "_") == s.Name
					}
					if !found {
						t.Errorf("%s: %#x named %q, llvm-nm %q", o.Arch(), addrs[i], s.Name, names[addrs[i]])
					}
					next := end
					if i+1 < len(addrs) {
						next = addrs[i+1]
					}
					if s.Address+load+s.Size != next {
						t.Errorf("%s: %s size %#x, want %#x", o.Arch(), s.Name, s.Size, next-s.Address-load)
					}
				}
				if o.Kind() != debugfiles.KindRelocatable {
					want := []string{"add", "compute", "helper", "main", "_ZN5cairn4frobEi", "_ZNK5cairn6Widget5scaleEi", "names_entry"}
					for _, w := range want {
						if !slices.ContainsFunc(got, func(s debugfiles.Symbol) bool { return s.Name == w }) {
							t.Errorf("%s: no symbol %q", o.Arch(), w)
						}
					}
				}
			}
		})
	}
}

func TestLoadAddressAndKinds(t *testing.T) {
	cases := map[string]struct {
		kind debugfiles.Kind
		load uint64
	}{
		"hello-arm64":          {debugfiles.KindExecutable, 0x100000000},
		"hello-arm64.dSYM":     {debugfiles.KindDebug, 0x100000000},
		"hello-arm64.o":        {debugfiles.KindRelocatable, 0},
		"libhello.dylib":       {debugfiles.KindLibrary, 0},
		"hello.bundle":         {debugfiles.KindLibrary, 0},
		"synth-core":           {debugfiles.KindDump, 0},
		"synth-arm64e-ptrauth": {debugfiles.KindExecutable, 0},
	}
	for name, c := range cases {
		objs := openVariant(t, fixture(t, name))
		if objs[0].Kind() != c.kind || objs[0].LoadAddress() != c.load {
			t.Errorf("%s: kind %v load %#x, want %v %#x", name, objs[0].Kind(), objs[0].LoadAddress(), c.kind, c.load)
		}
		if objs[0].DebugFile() != "" {
			t.Errorf("%s: debug file %q", name, objs[0].DebugFile())
		}
	}
	objs := openVariant(t, fixture(t, "hello-fat.dSYM"))
	if len(objs) != 2 || !strings.HasSuffix(objs[0].Name(), "/Contents/Resources/DWARF/hello-fat") {
		t.Errorf("fat dSYM: %d objects, name %q", len(objs), objs[0].Name())
	}
}

func TestSection(t *testing.T) {
	exe := openVariant(t, fixture(t, "hello-x86_64"))[0]
	for _, name := range []string{"__unwind_info", "__eh_frame"} {
		b, addr, ok := exe.Section("__TEXT", name)
		if !ok || len(b) == 0 {
			t.Fatalf("x86_64 executable: no %s", name)
		}
		raw, err := os.ReadFile(fixture(t, "hello-x86_64").path)
		if err != nil {
			t.Fatal(err)
		}
		// __TEXT starts at file offset 0 in a linked image, so the address
		// relative to the load address is the file offset.
		if !bytes.Equal(raw[addr:addr+uint64(len(b))], b) {
			t.Errorf("%s bytes differ from the file at %#x", name, addr)
		}
	}
	if b, _, _ := exe.Section("__TEXT", "__unwind_info"); len(b) < 4 || b[0] != 1 {
		t.Errorf("__unwind_info does not start with version 1: % x", b[:min(len(b), 4)])
	}
	if _, _, ok := exe.Section("__DATA", "__bss"); ok {
		t.Error("zero-fill __bss has bytes")
	}
	dsym := openVariant(t, fixture(t, "hello-arm64.dSYM"))[0]
	if _, _, ok := dsym.Section("__TEXT", "__unwind_info"); ok {
		t.Error("dSYM: data-less __unwind_info header reported as present")
	}
	if dsym.Features()&debugfiles.FeatureUnwind != 0 {
		t.Error("arm64 dSYM has unwind feature")
	}
}

// TestDWARF reads the subprograms of every variant with DWARF through the
// standard library and checks their addresses against the symbol table.
func TestDWARF(t *testing.T) {
	for _, v := range fixtures(t) {
		if v.synthetic {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			for _, o := range openVariant(t, v) {
				d, err := o.DWARF()
				if o.Features()&debugfiles.FeatureDebug == 0 {
					if !errors.Is(err, ErrNoDWARF) {
						t.Errorf("%s: no debug feature but DWARF() = %v", o.Arch(), err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", o.Arch(), err)
				}
				funcs := subprograms(t, d)
				if len(funcs) == 0 {
					t.Fatalf("%s: no subprograms", o.Arch())
				}
				for _, n := range []string{"add", "helper", "compute", "main"} {
					if _, ok := funcs[n]; !ok {
						t.Errorf("%s: no DWARF subprogram %q in %v", o.Arch(), n, funcs)
					}
				}
				for s := range o.Symbols() {
					name := s.Name
					if strings.HasPrefix(name, "_Z") {
						continue // DWARF names C++ functions by their plain name
					}
					lo, ok := funcs[name]
					if !ok {
						t.Errorf("%s: no DWARF subprogram %q", o.Arch(), name)
					} else if lo-o.LoadAddress() != s.Address {
						t.Errorf("%s: %s DWARF %#x, symbol %#x", o.Arch(), name, lo-o.LoadAddress(), s.Address)
					}
				}
			}
		})
	}
}

func TestDebugSession(t *testing.T) {
	exe := openVariant(t, fixture(t, "hello-arm64"))[0]
	s, err := exe.DebugSession()
	if err != nil {
		t.Fatal(err)
	}
	var funcs []*debugfiles.Function
	for f, err := range s.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		funcs = append(funcs, f)
	}
	s.Close()
	var syms []debugfiles.Symbol
	for sym := range exe.Symbols() {
		syms = append(syms, sym)
	}
	if len(funcs) != len(syms) || len(funcs) == 0 {
		t.Fatalf("%d functions for %d symbols", len(funcs), len(syms))
	}
	for i, f := range funcs {
		if f.Name != syms[i].Name || f.Address != syms[i].Address || f.Size != syms[i].Size || len(f.Lines) != 0 {
			t.Errorf("function %+v for symbol %+v", f, syms[i])
		}
	}

	for _, name := range []string{"hello-arm64.dSYM", "hello-dwarf5.o", "hello-fat.dSYM"} {
		for _, o := range openVariant(t, fixture(t, name)) {
			s, err := o.DebugSession()
			if err != nil {
				t.Fatalf("%s %s: %v", name, o.Arch(), err)
			}
			if _, ok := s.(*symbolSession); ok {
				t.Errorf("%s: DWARF object got a symbol session", name)
			}
			addrs := make(map[string]uint64)
			for f, err := range s.Functions() {
				if err != nil {
					t.Fatalf("%s: dwarf session: %v", name, err)
				}
				if f.Name == "" {
					// Code no subprogram covers (padding, assembler) is
					// reported as a nameless function with its lines.
					continue
				}
				addrs[f.Name] = f.Address
			}
			if len(addrs) > 0 {
				for sym := range o.Symbols() {
					if a, ok := addrs[sym.Name]; ok && a != sym.Address {
						t.Errorf("%s %s: function %s at %#x, symbol at %#x", name, o.Arch(), sym.Name, a, sym.Address)
					}
				}
				if _, ok := addrs["main"]; !ok {
					t.Errorf("%s %s: no function main", name, o.Arch())
				}
			}
			s.Close()
		}
	}
}

// TestCompressedDWARF rewrites a dSYM so that __debug_info is a __zdebug_info
// section ("ZLIB" header and zlib stream) appended to the file, and checks
// that DWARF reads the same subprograms.
func TestCompressedDWARF(t *testing.T) {
	v := fixture(t, "hello-arm64.dSYM")
	raw, err := os.ReadFile(v.file)
	if err != nil {
		t.Fatal(err)
	}
	plain := openVariant(t, v)[0]
	d, err := plain.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	want := subprograms(t, d)

	zipped, err := compressSection(raw, "__debug_info")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := NewObjects(bytes.NewReader(zipped), int64(len(zipped)), "zipped")
	if err != nil {
		t.Fatal(err)
	}
	o := objs[0]
	if o.Features()&debugfiles.FeatureDebug == 0 {
		t.Fatal("no debug feature with __zdebug_info")
	}
	d, err = o.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	got := subprograms(t, d)
	if len(got) != len(want) {
		t.Fatalf("%d subprograms, uncompressed %d", len(got), len(want))
	}
	for n, a := range want {
		if got[n] != a {
			t.Errorf("%s at %#x, uncompressed %#x", n, got[n], a)
		}
	}

	// A header that promises more than the stream holds is an error.
	if _, err := inflate(append([]byte("ZLIB\x00\x00\x00\x00\xff\xff\xff\xff"), zlibBytes(t, []byte("short"))...)); err == nil {
		t.Error("inflate accepted a wrong size")
	}
}

func TestNewObjectsErrors(t *testing.T) {
	cases := map[string][]byte{
		"empty":      nil,
		"text":       []byte("hello, world\n"),
		"java class": {0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x3d, 0, 0, 0, 0},
		"fat outside": func() []byte {
			b := []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1}
			return append(b, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 0, 12)
		}(),
		"long java class": func() []byte {
			b := make([]byte, 4096)
			copy(b, []byte{0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x41, 0x00, 0x2f, 0x0a, 0x00, 0x02, 0x00, 0x03, 0x07})
			return b
		}(),
		"truncated thin": {0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1},
		"load commands past the end": func() []byte {
			b := synthetic[2].data()
			b[20] = 0xff
			return b
		}(),
	}
	for name, data := range cases {
		if objs, err := NewObjects(bytes.NewReader(data), int64(len(data)), name); err == nil {
			t.Errorf("%s: %d objects, no error", name, len(objs))
		}
	}
	for _, name := range []string{"empty", "text", "java class", "long java class", "fat outside"} {
		data := cases[name]
		if _, err := NewObjects(bytes.NewReader(data), int64(len(data)), name); !errors.Is(err, debugfiles.ErrUnknownFormat) {
			t.Errorf("%s: %v, want ErrUnknownFormat", name, err)
		}
	}
	var fe *FormatError
	if _, err := NewObjects(bytes.NewReader(cases["fat outside"]), int64(len(cases["fat outside"])), "x"); !errors.As(err, &fe) || fe.Off != 8 {
		t.Errorf("fat outside: %v, want a FormatError at 8", err)
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotBundle) {
		t.Errorf("empty directory: %v, want ErrNotBundle", err)
	}
}

// TestOpenBundleSharesMapping checks that closing one object of a fat file
// leaves the others readable.
func TestOpenBundleSharesMapping(t *testing.T) {
	objs, err := Open(fixture(t, "hello-fat").path)
	if err != nil {
		t.Fatal(err)
	}
	if err := objs[0].Close(); err != nil {
		t.Fatal(err)
	}
	objs[0].Close()
	n := 0
	for range objs[1].Symbols() {
		n++
	}
	if n == 0 {
		t.Error("second architecture has no symbols after closing the first")
	}
	if b, _, ok := objs[1].Section("__TEXT", "__unwind_info"); !ok || len(b) == 0 {
		t.Error("second architecture lost __unwind_info")
	}
	if err := objs[1].Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReaderPaths checks that a plain io.ReaderAt (copies) and a
// memory-backed one (slices) read the same symbols and sections.
func TestReaderPaths(t *testing.T) {
	for _, name := range []string{"hello-fat", "hello-x86_64.dSYM", "hello-arm64.o"} {
		v := fixture(t, name)
		p := v.path
		if v.bundle {
			p = v.file
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewObjects(bytes.NewReader(raw), int64(len(raw)), name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewObjects(memReader{raw}, int64(len(raw)), name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !slices.Equal(slices.Collect(a[i].Symbols()), slices.Collect(b[i].Symbols())) {
				t.Errorf("%s: symbols differ between readers", name)
			}
			for _, s := range [][2]string{{"__TEXT", "__unwind_info"}, {"__TEXT", "__eh_frame"}, {"__DWARF", "__debug_info"}} {
				x, ax, okx := a[i].Section(s[0], s[1])
				y, ay, oky := b[i].Section(s[0], s[1])
				if okx != oky || ax != ay || !bytes.Equal(x, y) {
					t.Errorf("%s: %s,%s differs between readers", name, s[0], s[1])
				}
			}
		}
	}
}
