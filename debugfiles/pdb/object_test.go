package pdb_test

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
)

// codeView reads the RSDS CodeView record of a PE image's debug
// directory: the GUID and age the image expects of its PDB.
func codeView(t testing.TB, exe string) debugid.ID {
	t.Helper()
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dd pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		dd = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_DEBUG]
	case *pe.OptionalHeader32:
		dd = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_DEBUG]
	}
	raw, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Sections {
		if dd.VirtualAddress < s.VirtualAddress || dd.VirtualAddress >= s.VirtualAddress+s.VirtualSize {
			continue
		}
		off := s.Offset + (dd.VirtualAddress - s.VirtualAddress)
		for e := off; e+28 <= off+dd.Size; e += 28 {
			typ := binary.LittleEndian.Uint32(raw[e+12:])
			ptr := binary.LittleEndian.Uint32(raw[e+24:])
			if typ != 2 || !bytes.HasPrefix(raw[ptr:], []byte("RSDS")) {
				continue
			}
			var g [16]byte
			copy(g[:], raw[ptr+4:])
			return debugid.FromGUID(g, binary.LittleEndian.Uint32(raw[ptr+20:]))
		}
	}
	t.Fatalf("%s: no RSDS record", exe)
	return debugid.ID{}
}

// peArch names a PE machine in Sentry's spelling.
func peArch(t testing.TB, exe string) string {
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "x86_64", pe.IMAGE_FILE_MACHINE_I386: "x86", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
}

// TestObject checks the identity and view of every image's PDB: the
// debug id must be the one the image's CodeView record asks for (GUID of
// the info stream, age of the DBI stream), the architecture the image's,
// the symbols the code publics sorted by address; unwind information is
// announced exactly for x86, whose frame data lld copies into the PDB.
func TestObject(t *testing.T) {
	names := imageNames()
	for i, get := range allImages(t) {
		t.Run(names[i], func(t *testing.T) {
			t.Parallel()
			img := get(t)
			o, err := pdb.Open(img.pdb)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if got, want := o.DebugID(), codeView(t, img.exe); got != want {
				t.Errorf("debug id %s, the image asks for %s", got, want)
			}
			if got, want := o.Arch(), peArch(t, img.exe); got != want {
				t.Errorf("arch %s, want %s", got, want)
			}
			if o.Format() != debugfiles.FormatPDB || o.Kind() != debugfiles.KindDebug || o.CodeID() != "" || o.LoadAddress() != 0 || o.Name() != img.pdb || o.DebugFile() != "" {
				t.Errorf("format %s kind %s code id %q load %#x name %q debug file %q", o.Format(), o.Kind(), o.CodeID(), o.LoadAddress(), o.Name(), o.DebugFile())
			}
			want := debugfiles.FeatureSymtab | debugfiles.FeatureDebug
			if o.Arch() == "x86" {
				want |= debugfiles.FeatureUnwind
			}
			if o.Features() != want {
				t.Errorf("features %s, want %s", o.Features(), want)
			}
			var syms []debugfiles.Symbol
			for s := range o.Symbols() {
				syms = append(syms, s)
			}
			if len(syms) == 0 || !slices.IsSortedFunc(syms, func(a, b debugfiles.Symbol) int { return int(a.Address) - int(b.Address) }) {
				t.Errorf("%d symbols, sorted: %v", len(syms), slices.IsSortedFunc(syms, func(a, b debugfiles.Symbol) int { return int(a.Address) - int(b.Address) }))
			}
			info := readPE(t, img.exe)
			for _, s := range syms {
				if s.Address < info.textStart || s.Address >= info.textEnd+0x1000 {
					t.Errorf("symbol %s at %#x outside the code", s.Name, s.Address)
				}
			}
		})
	}
}

var reFrameData = regexp.MustCompile(`(?m)^([0-9A-F]{8}) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(true|false) \|\s+(true|false) \|\s+(true|false) \| (.*?)\s*$`)

// TestFrameData compares the x86 frame data with llvm-pdbutil's.
func TestFrameData(t *testing.T) {
	needTool(t, llvmPDBUtil)
	names := imageNames()
	for i, get := range allImages(t) {
		if !strings.Contains(names[i], "i686") {
			continue
		}
		t.Run(names[i], func(t *testing.T) {
			img := get(t)
			o, err := pdb.Open(img.pdb)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			fd, err := o.FrameData()
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, f := range fd {
				got = append(got, fmt.Sprintf("%08X %d %d %d %d %d %d %v %v %v %s", f.RVA, f.CodeSize, f.LocalSize, f.ParamsSize, f.MaxStackSize,
					f.PrologSize, f.SavedRegsSize, f.Flags&pdb.FrameDataHasSEH != 0, f.Flags&pdb.FrameDataHasEH != 0, f.Flags&pdb.FrameDataIsFunctionStart != 0, strings.TrimSpace(f.Program)))
			}
			for _, m := range reFrameData.FindAllStringSubmatch(pdbutil(t, "dump", "--fpo", img.pdb), -1) {
				want = append(want, strings.Join(m[1:], " "))
			}
			if len(want) == 0 {
				t.Fatal("llvm-pdbutil shows no frame data")
			}
			if !slices.Equal(got, want) {
				t.Errorf("frame data differs: %d records, llvm-pdbutil %d", len(got), len(want))
				for k := range min(len(got), len(want)) {
					if got[k] != want[k] {
						t.Errorf("first difference: ours %q, llvm-pdbutil %q", got[k], want[k])
						break
					}
				}
			}
		})
	}
}

// TestLoader opens a PDB through the loader: the MSF 7.0 magic is
// recognised and the pdb Object returned.
func TestLoader(t *testing.T) {
	img := buildOwn(t, variant{"x86_64", "O2"})
	f, err := os.Open(img.pdb)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 64)
	io.ReadFull(f, head)
	f.Close()
	if got := loader.Sniff(head); got != debugfiles.FormatPDB {
		t.Fatalf("Sniff: %s", got)
	}
	a, err := loader.Open(img.pdb)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Format != debugfiles.FormatPDB || len(a.Objects) != 1 {
		t.Fatalf("format %s, %d objects", a.Format, len(a.Objects))
	}
	o := a.Objects[0]
	if _, ok := o.(*pdb.Object); !ok {
		t.Fatalf("object is a %T", o)
	}
	if o.DebugID() != codeView(t, img.exe) {
		t.Errorf("debug id %s", o.DebugID())
	}
	s, err := o.DebugSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for f, err := range s.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "" {
			n++
		}
	}
	if n == 0 {
		t.Error("no functions")
	}
}
