package pdb_test

import (
	"bytes"
	"debug/pe"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// TestAgainstDWARFTwin settles the class llvm14-inline-row-ahead with an
// oracle that shares nothing with LLVM's PDB reader. clang writes CodeView
// and DWARF for the same code; one link puts the CodeView in a PDB, another
// (/debug:dwarf) puts the DWARF in the image, and the test checks that both
// have the same .text. At every address where llvm-symbolizer's PDB reader
// gives an inlined frame another line than we do, llvm-symbolizer's DWARF
// reader on the twin must give our lines (or line 0, which DWARF uses for
// instructions it attributes to no line and CodeView cannot express), and
// never the PDB reader's.
//
// The twin is no oracle for everything: the producer describes inline
// ranges and function starts differently in DWARF and CodeView, so whole
// lookups are not compared.
func TestAgainstDWARFTwin(t *testing.T) {
	needTool(t, llvmSymbolizer)
	for _, v := range ownVariants {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			img, twin := buildOwnTwin(t, v, true)
			if !bytes.Equal(textBytes(t, img.exe), textBytes(t, twin)) {
				t.Fatal("the DWARF link has different code; it cannot serve as oracle")
			}
			info := readPE(t, img.exe)
			o, err := pdb.Open(img.pdb)
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
			addrs := addresses(info, fns, img.name)
			abs := make([]uint64, len(addrs))
			for i, a := range addrs {
				abs[i] = a + info.base
			}
			wantPDB := symoracle.Symbolize(t, img.exe, abs)
			wantDWARF := symoracle.Symbolize(t, twin, abs)
			ix := debugfiles.NewIndex(fns)
			oracle := symoracle.NewPDBOracle(t, img.exe, img.pdb, fns)
			var ahead, ours, line0, theirs, other int
			for i, a := range addrs {
				fr := ix.Lookup(a)
				if oracle.Classify(fr, wantPDB[i], a) != "llvm14-inline-row-ahead" {
					continue
				}
				ahead++
				switch {
				case sameLines(fr, wantDWARF[i]):
					ours++
				case hasLine0(wantDWARF[i]):
					line0++
				case sameLines(oracle.LLVMView(fr, a), wantDWARF[i]):
					theirs++
					t.Errorf("%#x: DWARF agrees with llvm's PDB reader %s, not with us %s", abs[i], symoracle.FormatLLVM(wantPDB[i]), symoracle.FormatOurs(fr))
				default:
					other++
					t.Errorf("%#x: DWARF %s agrees with neither us %s nor llvm's PDB reader %s", abs[i], symoracle.FormatLLVM(wantDWARF[i]), symoracle.FormatOurs(fr), symoracle.FormatLLVM(wantPDB[i]))
				}
			}
			t.Logf("%d addresses of class llvm14-inline-row-ahead: DWARF agrees with us at %d, has line 0 at %d, agrees with llvm's PDB reader at %d, with neither at %d",
				ahead, ours, line0, theirs, other)
		})
	}
}

// sameLines compares frame counts, files and lines.
func sameLines(ours []debugfiles.Frame, want []symoracle.Frame) bool {
	if len(ours) != len(want) {
		return false
	}
	for i := range ours {
		if ours[i].File.Path() != want[i].FileName || ours[i].Line != want[i].Line {
			return false
		}
	}
	return true
}

func hasLine0(fs []symoracle.Frame) bool {
	for _, f := range fs {
		if f.Line == 0 {
			return true
		}
	}
	return false
}

// textBytes returns the contents of a PE image's .text section.
func textBytes(t testing.TB, exe string) []byte {
	t.Helper()
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil {
		t.Fatalf("%s: no .text", exe)
	}
	b, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	return b[:min(len(b), int(s.VirtualSize))]
}
