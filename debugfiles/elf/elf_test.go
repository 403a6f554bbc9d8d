package elf

import (
	"bytes"
	"cmp"
	stdelf "debug/elf"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

// sentryKind is how Sentry's symbolic classifies an ELF file: every ET_DYN
// file is a library unless it has no .text contents, every ET_EXEC file
// without PT_INTERP a debug companion.
func sentryKind(t *testing.T, o *Object) string {
	t.Helper()
	hasInterp := slices.ContainsFunc(o.f.Progs, func(p *stdelf.Prog) bool { return p.Type == stdelf.PT_INTERP })
	hasText := o.findSection(".text") != nil
	switch o.f.Type {
	case stdelf.ET_REL:
		return "object"
	case stdelf.ET_EXEC:
		if !hasInterp {
			return "debug companion"
		}
		return "executable"
	case stdelf.ET_DYN:
		if !hasText {
			return "debug companion"
		}
		return "library"
	}
	t.Fatalf("no Sentry kind model for %v", o.f.Type)
	return ""
}

// sentryArch is the architecture Sentry reports: 64-bit MIPS only with an
// O64/EABI64 flag, no names for RISC-V and s390.
func sentryArch(o *Object) string {
	switch a := o.Arch(); {
	case a == "mips64" && o.headerFlags()&efMIPSABI64Flags == 0:
		return "mips"
	case strings.HasPrefix(a, "riscv"), strings.HasPrefix(a, "s390"):
		return "unknown"
	default:
		return a
	}
}

// TestSentryAgreement compares every variant's identity with the real
// sentry-cli: debug id, code id and features must agree; arch and kind must
// agree up to the documented differences, which the models above encode.
func TestSentryAgreement(t *testing.T) {
	fx := fixtures(t)
	cli := sentryCLI(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			o := fx.open(t, v.name)
			got := runSentryCheck(t, cli, fx.path(t, v.name))
			if got.Type != "elf" {
				t.Errorf("sentry-cli type %q", got.Type)
			}
			if s := o.DebugID().String(); s != got.DebugID {
				t.Errorf("debug id %s, sentry-cli %s", s, got.DebugID)
			}
			if o.CodeID() != got.CodeID {
				t.Errorf("code id %q, sentry-cli %q", o.CodeID(), got.CodeID)
			}
			if f := o.Features().String(); f != got.Features {
				t.Errorf("features %q, sentry-cli %q", f, got.Features)
			}
			if a := sentryArch(o); a != got.Arch {
				t.Errorf("arch %q (Sentry model %q), sentry-cli %q", o.Arch(), a, got.Arch)
			}
			if k := sentryKind(t, o); k != got.Kind {
				t.Errorf("Sentry kind model %q, sentry-cli %q", k, got.Kind)
			}
			if o.Kind() != v.kind {
				t.Errorf("kind %v, want %v", o.Kind(), v.kind)
			}
			t.Logf("%s: %s %s arch=%s features=%q kind=%s (sentry-cli kind %q, arch %q)",
				v.name, o.DebugID(), o.CodeID(), o.Arch(), o.Features().String(), o.Kind().Describe(), got.Kind, got.Arch)
		})
	}
}

// TestReadelfAgreement checks build id, load address, sections and function
// symbols against binutils' readelf.
func TestReadelfAgreement(t *testing.T) {
	fx := fixtures(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			o := fx.open(t, v.name)
			path := fx.path(t, v.name)
			if want := readelfBuildID(t, path); o.CodeID() != want {
				t.Errorf("build id %q, readelf %q", o.CodeID(), want)
			}
			if want := readelfLoadAddress(t, path); o.LoadAddress() != want {
				t.Errorf("load address %#x, readelf %#x", o.LoadAddress(), want)
			}
			if o.Format() != debugfiles.FormatELF || o.Name() != path {
				t.Errorf("format %v name %q", o.Format(), o.Name())
			}
			if o.DebugFile() != v.debugLink {
				t.Errorf("debug file %q, want %q", o.DebugFile(), v.debugLink)
			}
			for _, s := range readelfSections(t, path) {
				if s.name != ".eh_frame" && s.name != ".eh_frame_hdr" && s.name != ".debug_frame" && s.name != ".debug_info" {
					continue
				}
				data, addr, err := o.Section(s.name)
				if s.typ == "NOBITS" {
					if !errors.Is(err, ErrNoSection) {
						t.Errorf("Section(%s) of NOBITS: %v", s.name, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("Section(%s): %v", s.name, err)
					continue
				}
				if addr != s.addr {
					t.Errorf("Section(%s) address %#x, readelf %#x", s.name, addr, s.addr)
				}
				// readelf shows the stored size; compare with the
				// decompressed size only for uncompressed sections.
				if !strings.Contains(s.flags, "C") && uint64(len(data)) != s.size {
					t.Errorf("Section(%s) has %d bytes, readelf %d", s.name, len(data), s.size)
				}
			}
			want := readelfFuncs(t, path, o.LoadAddress(), o.f.Machine == stdelf.EM_ARM)
			if v.name == "minidebug" {
				for a, n := range readelfFuncs(t, filepath.Join(fx.dir, "mini"), o.LoadAddress(), false) {
					want[a] = append(want[a], n...)
				}
			}
			syms, err := o.SymbolTable()
			if err != nil {
				t.Errorf("SymbolTable: %v", err)
			}
			if !slices.IsSortedFunc(syms, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) }) {
				t.Errorf("symbols not sorted")
			}
			if len(syms) != len(want) {
				t.Errorf("%d function symbols, readelf %d", len(syms), len(want))
			}
			for _, s := range syms {
				if !slices.Contains(want[s.Address], s.Name) {
					t.Errorf("symbol %s at %#x not in readelf's %v", s.Name, s.Address, want[s.Address])
				}
			}
		})
	}
}

// TestSymbolsFindFunctions checks that the test program's functions are
// found where the unstripped binary has them, in every variant built from
// it, including the one whose only symbols are in .gnu_debugdata.
func TestSymbolsFindFunctions(t *testing.T) {
	fx := fixtures(t)
	ref := symbolMap(fx.open(t, "pie"))
	for _, name := range []string{"main", "compute", "helper"} {
		if _, ok := ref[name]; !ok {
			t.Fatalf("pie has no symbol %s", name)
		}
	}
	for _, v := range []string{"gz-zlib", "gz-zstd", "zdebug", "pie.debug", "stripped", "minidebug"} {
		t.Run(v, func(t *testing.T) {
			got := symbolMap(fx.open(t, v))
			for _, name := range []string{"main", "compute", "helper"} {
				if got[name] != ref[name] {
					t.Errorf("%s at %#x, pie has it at %#x", name, got[name], ref[name])
				}
			}
		})
	}
	if fx.ok["sstripped"] {
		if got := symbolMap(fx.open(t, "sstripped")); len(got) != 0 {
			t.Errorf("fully stripped binary has function symbols %v", got)
		}
	}
}

// TestSymbolFiles checks which source file each function symbol reports:
// a local symbol the STT_FILE entry before it (the static helper, prog.c),
// a global symbol none, as llvm-symbolizer reads the table.
func TestSymbolFiles(t *testing.T) {
	fx := fixtures(t)
	for _, v := range []string{"pie", "pie.debug"} {
		t.Run(v, func(t *testing.T) {
			files := map[string]string{}
			for s := range fx.open(t, v).Symbols() {
				files[s.Name] = s.File
			}
			for name, want := range map[string]string{"helper": "prog.c", "main": "", "compute": ""} {
				if got, ok := files[name]; !ok || got != want {
					t.Errorf("%s: file %q (found %v), want %q", name, got, ok, want)
				}
			}
		})
	}
}

func symbolMap(o *Object) map[string]uint64 {
	m := map[string]uint64{}
	for s := range o.Symbols() {
		m[s.Name] = s.Address
	}
	return m
}

// TestCompressedSections checks that every compression variant decompresses
// to the uncompressed binary's bytes.
func TestCompressedSections(t *testing.T) {
	fx := fixtures(t)
	ref := fx.open(t, "pie")
	for _, v := range []string{"gz-zstd", "zdebug"} {
		t.Run(v, func(t *testing.T) {
			o := fx.open(t, v)
			for _, name := range []string{".debug_info", ".debug_abbrev", ".debug_line", ".debug_str"} {
				want, _, err := ref.Section(name)
				if err != nil {
					t.Fatalf("pie: %v", err)
				}
				got, _, err := o.Section(name)
				if err != nil {
					t.Fatalf("Section(%s): %v", name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs after decompression (%d bytes, want %d)", name, len(got), len(want))
				}
			}
		})
	}
	// The gcc -gz variant is a separate link; compare with debug/elf.
	o := fx.open(t, "gz-zlib")
	for _, s := range o.f.Sections {
		if s.Flags&stdelf.SHF_COMPRESSED == 0 {
			continue
		}
		want, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := o.Section(s.Name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, debug/elf %d (%v)", s.Name, len(got), len(want), err)
		}
	}
}

// TestTextHashDebugID recomputes the debug id of a file without build id
// from .text as extracted by objcopy.
func TestTextHashDebugID(t *testing.T) {
	fx := fixtures(t)
	path := fx.path(t, "nobuildid")
	text := filepath.Join(t.TempDir(), "text.bin")
	if out, err := exec.Command(tool(t, "objcopy"), "-O", "binary", "--only-section=.text", path, text).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v: %s", err, out)
	}
	b, err := os.ReadFile(text)
	if err != nil {
		t.Fatal(err)
	}
	var h [16]byte
	for i := 0; i < len(b) && i < 4096; i++ {
		h[i%16] ^= b[i]
	}
	o := fx.open(t, "nobuildid")
	if want := debugid.FromBuildID(h[:]); o.DebugID() != want {
		t.Errorf("debug id %s, want %s", o.DebugID(), want)
	}
	if o.CodeID() != "" || o.BuildIDPath() != "" || o.BuildID() != nil {
		t.Errorf("file without build id has code id %q, build-id path %q", o.CodeID(), o.BuildIDPath())
	}
	if d := fx.open(t, "nobuildid.debug"); !d.DebugID().IsZero() {
		t.Errorf("debug file with NOBITS .text has debug id %s", d.DebugID())
	}
}

// TestBigEndianDebugID checks that a big-endian build id keeps its byte
// order in the debug id, as Sentry does.
func TestBigEndianDebugID(t *testing.T) {
	fx := fixtures(t)
	o := fx.open(t, "ppc64")
	if o.f.ByteOrder.String() != "BigEndian" {
		t.Fatalf("ppc64 is %v", o.f.ByteOrder)
	}
	var u [16]byte
	copy(u[:], o.BuildID())
	if want := debugid.FromUUID(u); o.DebugID() != want {
		t.Errorf("debug id %s, want %s", o.DebugID(), want)
	}
	if o.Arch() != "ppc64" {
		t.Errorf("arch %s", o.Arch())
	}
}

// TestDebugLink covers .gnu_debuglink, its CRC check and the gdb search
// order of FindDebugFile.
func TestDebugLink(t *testing.T) {
	fx := fixtures(t)
	debugFile := fx.path(t, "pie.debug")
	stripped := fx.path(t, "stripped")
	o := fx.open(t, "stripped")
	name, _, ok := o.DebugLink()
	if !ok || name != "pie.debug" {
		t.Fatalf("DebugLink = %q, %v", name, ok)
	}
	if err := o.VerifyDebugLink(debugFile); err != nil {
		t.Errorf("VerifyDebugLink(pie.debug): %v", err)
	}
	if err := o.VerifyDebugLink(stripped); !errors.Is(err, ErrDebugLinkMismatch) {
		t.Errorf("VerifyDebugLink(wrong file) = %v", err)
	}
	if err := fx.open(t, "pie").VerifyDebugLink(debugFile); !errors.Is(err, ErrNoDebugLink) {
		t.Errorf("VerifyDebugLink without link = %v", err)
	}
	h := readelfBuildID(t, stripped)
	if want := ".build-id/" + h[:2] + "/" + h[2:] + ".debug"; o.BuildIDPath() != want {
		t.Errorf("BuildIDPath %q, want %q", o.BuildIDPath(), want)
	}

	debugBytes, err := os.ReadFile(debugFile)
	if err != nil {
		t.Fatal(err)
	}
	strippedBytes, err := os.ReadFile(stripped)
	if err != nil {
		t.Fatal(err)
	}
	put := func(t *testing.T, path string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each case lays out a fresh tree: bin/app is the stripped binary.
	cases := []struct {
		name string
		// place returns where the debug file goes, given the tree root.
		place func(root string) string
	}{
		{"beside", func(root string) string { return filepath.Join(root, "bin", "pie.debug") }},
		{"dot-debug", func(root string) string { return filepath.Join(root, "bin", ".debug", "pie.debug") }},
		{"global-dir", func(root string) string {
			return filepath.Join(root, "global", filepath.Join(root, "bin"), "pie.debug")
		}},
		{"build-id", func(root string) string { return filepath.Join(root, "global", o.BuildIDPath()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			bin := filepath.Join(root, "bin", "app")
			put(t, bin, strippedBytes)
			want := c.place(root)
			put(t, want, debugBytes)
			app, err := Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			got, err := app.FindDebugFile([]string{filepath.Join(root, "global")})
			if err != nil || got != want {
				t.Errorf("FindDebugFile = %q, %v; want %q", got, err, want)
			}
		})
	}
	t.Run("wrong-crc", func(t *testing.T) {
		root := t.TempDir()
		bin := filepath.Join(root, "bin", "app")
		put(t, bin, strippedBytes)
		put(t, filepath.Join(root, "bin", "pie.debug"), strippedBytes)
		app, err := Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		if got, err := app.FindDebugFile([]string{filepath.Join(root, "global")}); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindDebugFile = %q, %v; want ErrNotFound", got, err)
		}
	})
}

// TestDebugSessionSymbols checks the session of a file without DWARF: the
// symbol table as functions, sizes filled in.
func TestDebugSessionSymbols(t *testing.T) {
	fx := fixtures(t)
	o := fx.open(t, "stripped")
	if o.Features()&debugfiles.FeatureDebug != 0 {
		t.Fatalf("stripped binary has debug information")
	}
	s, err := o.DebugSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref := symbolMap(o)
	seen := map[string]bool{}
	var prevEnd uint64
	for fn, err := range s.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		if fn.Size == 0 {
			t.Errorf("%s has no size", fn.Name)
		}
		if fn.Address < prevEnd {
			t.Errorf("%s at %#x overlaps the previous function ending at %#x", fn.Name, fn.Address, prevEnd)
		}
		prevEnd = fn.End()
		if ref[fn.Name] != fn.Address {
			t.Errorf("%s at %#x, symbol at %#x", fn.Name, fn.Address, ref[fn.Name])
		}
		seen[fn.Name] = true
	}
	for _, name := range []string{"main", "compute", "helper"} {
		if !seen[name] {
			t.Errorf("session has no function %s", name)
		}
	}
}

// TestDebugSessionDWARF opens DWARF sessions of every variant with debug
// information. Function contents are the dwarf package's business; here
// the session must open and, once that package reads functions, report the
// program's functions at their symbol addresses.
func TestDebugSessionDWARF(t *testing.T) {
	fx := fixtures(t)
	for _, v := range []string{"pie", "nopie", "gz-zlib", "gz-zstd", "zdebug", "pie.debug", "split", "m32", "ppc64", "lib.so", "prog.o", "m32.o", "ppc64.o"} {
		t.Run(v, func(t *testing.T) {
			o := fx.open(t, v)
			if o.Features()&debugfiles.FeatureDebug == 0 {
				t.Fatalf("no debug feature")
			}
			s, err := o.DebugSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			syms := symbolMap(o)
			n := 0
			for fn, err := range s.Functions() {
				if err != nil {
					t.Skipf("dwarf session cannot read functions yet: %v", err)
				}
				if a, ok := syms[fn.Name]; ok && a != fn.Address {
					t.Errorf("%s at %#x, symbol at %#x", fn.Name, fn.Address, a)
				}
				n++
			}
			if n == 0 {
				t.Errorf("no functions")
			}
		})
	}
}

// TestSectionNotFound checks the error of an absent section.
func TestSectionNotFound(t *testing.T) {
	fx := fixtures(t)
	o := fx.open(t, "pie")
	if _, _, err := o.Section(".no_such_section"); !errors.Is(err, ErrNoSection) {
		t.Errorf("Section = %v", err)
	}
	d := fx.open(t, "pie.debug")
	if _, _, err := d.Section(".eh_frame"); !errors.Is(err, ErrNoSection) {
		t.Errorf("Section(.eh_frame) of a debug file = %v", err)
	}
	if d.Features()&debugfiles.FeatureUnwind != 0 {
		t.Errorf("debug file reports unwind information")
	}
}

// TestNewObjectReader opens a variant from an io.ReaderAt that is not
// memory-mapped and checks it reads the same identity and symbols.
func TestNewObjectReader(t *testing.T) {
	fx := fixtures(t)
	for _, v := range []string{"pie", "minidebug", "gz-zstd"} {
		b, err := os.ReadFile(fx.path(t, v))
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewObject(bytes.NewReader(b), int64(len(b)), v)
		if err != nil {
			t.Fatal(err)
		}
		ref := fx.open(t, v)
		if o.DebugID() != ref.DebugID() || o.Features() != ref.Features() || o.Kind() != ref.Kind() {
			t.Errorf("%s: NewObject and Open disagree", v)
		}
		if !maps.Equal(symbolMap(o), symbolMap(ref)) {
			t.Errorf("%s: symbols differ", v)
		}
		if _, err := NewObject(bytes.NewReader(b[:100]), 100, v); err == nil {
			t.Errorf("%s: truncated file opened", v)
		}
	}
}

// TestThumbSymbols checks that 32-bit ARM function addresses lose the Thumb
// bit.
func TestThumbSymbols(t *testing.T) {
	fx := fixtures(t)
	o := fx.open(t, "arm")
	n := 0
	for s := range o.Symbols() {
		if s.Address&1 != 0 {
			t.Errorf("%s at odd address %#x", s.Name, s.Address)
		}
		n++
	}
	if n == 0 {
		t.Errorf("no symbols")
	}
}
