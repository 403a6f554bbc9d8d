package pdb_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// winFields renders a frame as the fields of a STACK WIN line after the
// "STACK WIN", in decimal.
func winFields(start, end uint64, w *unwind.WinFrame) string {
	last := "0"
	if w.Program != "" {
		last = w.Program
	} else if w.AllocatesBasePointer {
		last = "1"
	}
	hasProgram := 0
	if w.Program != "" {
		hasProgram = 1
	}
	return fmt.Sprintf("%d %d %d %d %d %d %d %d %d %d %s", w.Type, start, end-start, w.PrologSize, w.EpilogSize,
		w.ParamSize, w.SavedRegisterSize, w.LocalSize, w.MaxStackSize, hasProgram, last)
}

// TestUnwindAgainstPDBUtil checks the frame data table of every i686 PDB
// against llvm-pdbutil's dump of the FrameData stream: every record it
// prints is a row with the fields Breakpad's dump_syms writes for it
// (epilog 0, has_program 1 with the program), except a repeat of the
// record before it, which dump_syms leaves out. Lookup must find, at the
// first address of every record, a record covering the address.
func TestUnwindAgainstPDBUtil(t *testing.T) {
	needTool(t, llvmPDBUtil)
	names := imageNames()
	checked := 0
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
			tables, err := o.UnwindTables()
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) != 1 || tables[0].Arch() != unwind.ArchX86 {
				t.Fatalf("%d tables", len(tables))
			}
			got := map[string]int{}
			rows := 0
			prevStart := uint64(0)
			for r, err := range tables[0].Rows() {
				if err != nil {
					t.Fatal(err)
				}
				if r.Win == nil || r.Start < prevStart {
					t.Fatalf("row %+v: no frame data or out of order", r)
				}
				prevStart = r.Start
				got[winFields(r.Start, r.End, r.Win)]++
				rows++
				if _, ok, err := tables[0].Lookup(r.Start); !ok || err != nil {
					t.Errorf("%#x: Lookup finds no record: %v", r.Start, err)
				}
			}
			var prevKey string
			want := 0
			for _, m := range reFrameData.FindAllStringSubmatch(pdbutil(t, "dump", "--fpo", img.pdb), -1) {
				var rva uint64
				fmt.Sscanf(m[1], "%X", &rva)
				// RVA Code Locals Params Stack Prolog SavedRegs SEH EH Start Program
				key := fmt.Sprintf("%d %s %s", rva, m[2], m[6])
				if key == prevKey {
					continue
				}
				prevKey = key
				want++
				prog := strings.TrimSpace(m[11])
				has := "1"
				if prog == "" {
					has, prog = "0", "0"
				}
				line := fmt.Sprintf("4 %d %s %s 0 %s %s %s %s %s %s", rva, m[2], m[6], m[4], m[7], m[3], m[5], has, prog)
				if got[line] == 0 {
					t.Errorf("no row for llvm-pdbutil's record %q", line)
					continue
				}
				got[line]--
			}
			if want == 0 {
				t.Fatal("llvm-pdbutil shows no frame data")
			}
			if rows != want {
				t.Errorf("%d rows, llvm-pdbutil %d records", rows, want)
			}
			checked += want
			t.Logf("%d records agree with llvm-pdbutil", want)
		})
	}
	if checked == 0 {
		t.Log("no i686 PDB checked")
	}
}

// TestUnwindNone checks that a PDB without frame data has no tables.
func TestUnwindNone(t *testing.T) {
	img := buildOwn(t, variant{"x86_64", "O2"})
	o, err := pdb.Open(img.pdb)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tables, err := o.UnwindTables()
	if err != nil || len(tables) != 0 {
		t.Errorf("%d tables, %v", len(tables), err)
	}
}
