package breakpad

import (
	"bytes"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// peerWinFiles are the peers' symbol files of Breakpad's Windows dump_syms:
// FrameData records with programs, and FPO records.
var peerWinFiles = []string{
	"breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
	"breakpad/symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym",
}

// TestStackWinRoundTrip reads every STACK WIN line of dump_syms' output
// into frame data and writes it back: the line must come back byte for
// byte. Through the symbol file's unwind table, StackWin must give back
// the same lines (as a multiset: the table orders them by address).
func TestStackWinRoundTrip(t *testing.T) {
	root := peersDir(t)
	for _, rel := range peerWinFiles {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "STACK WIN ") {
					want = append(want, strings.TrimSuffix(l, "\r"))
				}
			}
			if len(want) == 0 {
				t.Fatal("no STACK WIN lines")
			}
			rd := NewReader(bytes.NewReader(data))
			n := 0
			for rd.Next() {
				rec := rd.Record()
				if rec.Kind != KindStackWin {
					continue
				}
				w := rec.Win.WinFrame()
				got := string(AppendStackWin(nil, rec.Win.RVA, rec.Win.CodeSize, &w))
				if n >= len(want) {
					t.Fatalf("more records than lines")
				}
				if got != want[n] {
					t.Errorf("line %d:\n got %s\nwant %s", n, got, want[n])
				}
				n++
			}
			if err := rd.Err(); err != nil {
				t.Fatal(err)
			}
			if n != len(want) {
				t.Errorf("%d records read, %d lines", n, len(want))
			}

			table, err := ReadStackTable(NewReader(bytes.NewReader(data)), unwind.ArchX86)
			if err != nil {
				t.Fatal(err)
			}
			got, malformed := StackWin([]unwind.Table{table})
			if malformed != 0 {
				t.Errorf("%d malformed", malformed)
			}
			// Records of size 0 are not unwind rows.
			var kept []string
			for _, l := range want {
				if strings.Fields(l)[4] != "0" {
					kept = append(kept, l)
				}
			}
			slices.Sort(got)
			slices.Sort(kept)
			if !slices.Equal(got, kept) {
				t.Errorf("through the table: %d lines, want %d", len(got), len(kept))
			}
			t.Logf("%d STACK WIN lines round-trip", n)
		})
	}
}

// TestAppendStackWin pins the field order and the last field's two forms.
func TestAppendStackWin(t *testing.T) {
	for _, tc := range []struct {
		rva, size uint64
		w         unwind.WinFrame
		want      string
	}{
		{0x41b0, 0x86, unwind.WinFrame{Type: 4, PrologSize: 0x13, ParamSize: 8, LocalSize: 0xe0, Program: "$T0 $ebp = $eip $T0 4 + ^ ="},
			"STACK WIN 4 41b0 86 13 0 8 0 e0 0 1 $T0 $ebp = $eip $T0 4 + ^ ="},
		{0x1000, 0x13, unwind.WinFrame{Type: 0, ParamSize: 4}, "STACK WIN 0 1000 13 0 0 4 0 0 0 0 0"},
		{0x2000, 0x20, unwind.WinFrame{Type: 0, PrologSize: 3, EpilogSize: 1, SavedRegisterSize: 0xc, MaxStackSize: 0x10, AllocatesBasePointer: true},
			"STACK WIN 0 2000 20 3 1 0 c 0 10 0 1"},
		{0x3000, 0x10, unwind.WinFrame{Type: 4}, "STACK WIN 4 3000 10 0 0 0 0 0 0 0 0"},
	} {
		if got := string(AppendStackWin(nil, tc.rva, tc.size, &tc.w)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// winTable is an unwind table of frame data rows only.
type winTable []unwind.Row

func (t winTable) Arch() unwind.Arch { return unwind.ArchX86 }

func (t winTable) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		for _, r := range t {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (t winTable) Lookup(addr uint64) (unwind.Row, bool, error) { return unwind.Row{}, false, nil }

// TestWriteObjectStackWinLineBreaks checks that a frame's program holding
// line breaks (a PDB's string table can hold anything) is written on its
// STACK WIN line, breaks made spaces, by WriteObject as by WriteModule.
func TestWriteObjectStackWinLineBreaks(t *testing.T) {
	sym := "MODULE windows x86 5A9832E5287241C1838ED98914E9B7FF1 app.pdb\nFUNC 1000 20 0 f\n1000 20 1 0\nFILE 0 a.c\n"
	obj, err := NewObject(strings.NewReader(sym), int64(len(sym)), "app.sym")
	if err != nil {
		t.Fatal(err)
	}
	table := winTable{
		{Start: 0x1000, End: 0x1010, Entry: unwind.Range{Start: 0x1000, End: 0x1010}, Win: &unwind.WinFrame{Type: 4, Program: "$T0 .raSearch =\n$eip $T0 ^ =\r$esp $T0 4 + ="}},
		{Start: 0x1010, End: 0x1020, Entry: unwind.Range{Start: 0x1010, End: 0x1020}, Win: &unwind.WinFrame{Type: 0, AllocatesBasePointer: true}},
	}
	opts := ConvertOptions{CFI: true, UnwindTables: []unwind.Table{table}}
	var direct bytes.Buffer
	if err := WriteObject(&direct, obj, opts); err != nil {
		t.Fatal(err)
	}
	m, err := FromObject(obj, opts)
	if err != nil {
		t.Fatal(err)
	}
	var viaModule bytes.Buffer
	if err := WriteModule(&viaModule, m); err != nil {
		t.Fatal(err)
	}
	if direct.String() != viaModule.String() {
		t.Errorf("WriteObject:\n%s\nWriteModule:\n%s", direct.String(), viaModule.String())
	}
	want := []string{
		"STACK WIN 4 1000 10 0 0 0 0 0 0 1 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =",
		"STACK WIN 0 1010 10 0 0 0 0 0 0 0 1",
	}
	var got []string
	for _, l := range strings.Split(direct.String(), "\n") {
		if strings.HasPrefix(l, "STACK ") {
			got = append(got, l)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("STACK lines %q, want %q", got, want)
	}
}
