package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// TestDifsCheckAgainstSentryCLI compares `cairn difs check --json` with the
// real `sentry-cli debug-files check --json` on every default fixture (ELF,
// Mach-O and PE): the container type, every variant's debug id, code id and
// architecture, and the feature list; for PE images also the kind, which
// sentry-cli prints only in its text output.
func TestDifsCheckAgainstSentryCLI(t *testing.T) {
	cli := testtools.SentryCLI(t)
	for _, name := range fixtures.Default() {
		t.Run(name, func(t *testing.T) {
			path := fixtures.Get(t, name)
			out, err := exec.Command(cli, "debug-files", "check", "--json", path).Output()
			if err != nil {
				t.Fatalf("sentry-cli: %v", err)
			}
			var want difReport
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("sentry-cli output: %v\n%s", err, out)
			}
			got := checkDif(path)
			if got.Type != want.Type {
				t.Errorf("type %q, sentry-cli %q", got.Type, want.Type)
			}
			if got.Features != want.Features {
				t.Errorf("features %q, sentry-cli %q", got.Features, want.Features)
			}
			key := func(v difVariant) string { return v.Arch + " " + v.DebugID + " " + v.CodeID }
			var g, w []string
			for _, v := range got.Variants {
				g = append(g, key(v))
			}
			for _, v := range want.Variants {
				w = append(w, key(v))
			}
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("variants\n  cairn      %v\n  sentry-cli %v", g, w)
			}
			if got.Usable != want.Usable {
				t.Errorf("usable %v, sentry-cli %v", got.Usable, want.Usable)
			}
			if strings.HasPrefix(name, "pe-") {
				// The kind (executable or library) is only in the text
				// output: "Type: pe library".
				text, err := exec.Command(cli, "debug-files", "check", path).Output()
				if err != nil {
					t.Fatalf("sentry-cli: %v", err)
				}
				if line := "Type: pe " + got.Kind + "\n"; !strings.Contains(string(text), line) {
					t.Errorf("sentry-cli does not say %q:\n%s", line, text)
				}
			}
		})
	}
}

// TestDifsCheckNB10AgainstSentryCLI documents the one identifier Cairn
// computes where Sentry has none: a PE image whose CodeView record is the
// PDB 2.0 form (NB10, a 32-bit signature instead of a GUID). Sentry reads
// only RSDS records and reports the nil debug id (so sentry-cli calls the
// file unusable); Cairn puts the signature in the first four GUID bytes with
// the record's age, the id minidump processors give such modules, so that
// crashes of old images can still be matched with their PDB 2.0 files. The
// test patches an RSDS fixture (no toolchain here writes NB10) and checks
// that everything else agrees.
func TestDifsCheckNB10AgainstSentryCLI(t *testing.T) {
	cli := testtools.SentryCLI(t)
	data, err := os.ReadFile(fixtures.Get(t, "pe-x86_64-clang-O2"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("RSDS"))
	if i < 0 {
		t.Fatal("no RSDS record")
	}
	rec := append([]byte("NB10\x00\x00\x00\x00\x21\x9e\x5c\x3a\x07\x00\x00\x00"), "C:\\build\\old.pdb\x00"...)
	copy(data[i:], rec)
	path := filepath.Join(t.TempDir(), "nb10.exe")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cli, "debug-files", "check", "--json", path).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("sentry-cli: %v", err)
	}
	var want difReport
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("sentry-cli output: %v\n%s", err, out)
	}
	got := checkDif(path)
	if len(got.Variants) != 1 || len(want.Variants) != 1 {
		t.Fatalf("variants: cairn %v, sentry-cli %v", got.Variants, want.Variants)
	}
	g, w := got.Variants[0], want.Variants[0]
	if g.DebugID != "3a5c9e21-0000-0000-0000-000000000000-7" || !got.Usable {
		t.Errorf("cairn: debug id %s, usable %v", g.DebugID, got.Usable)
	}
	if w.DebugID != "00000000-0000-0000-0000-000000000000" || want.Usable {
		t.Errorf("sentry-cli now reads NB10 records (debug id %s, usable %v): compare them directly", w.DebugID, want.Usable)
	}
	if g.CodeID != w.CodeID || g.Arch != w.Arch || got.Type != want.Type || got.Features != want.Features {
		t.Errorf("cairn %+v %s %s, sentry-cli %+v %s %s", g, got.Type, got.Features, w, want.Type, want.Features)
	}
}

// symRecords is what the dump-syms comparison reads of a .sym file.
type symRecords struct {
	header []string           // MODULE and INFO lines
	funcs  map[uint64]symFunc // by address
	lines  []symLine          // sorted by address
}

type symFunc struct {
	size uint64
	name string
}

type symLine struct {
	addr, size uint64
	line       string
	file       string // base name: writers join directories differently
}

func readSym(t *testing.T, text string) symRecords {
	t.Helper()
	r := symRecords{funcs: map[uint64]symFunc{}}
	files := map[string]string{}
	type pending struct{ addr, size, line, file string }
	var lines []pending
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	inFunc := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "MODULE "), strings.HasPrefix(l, "INFO "):
			r.header = append(r.header, l)
		case strings.HasPrefix(l, "FILE "):
			if f := strings.SplitN(l, " ", 3); len(f) == 3 {
				files[f[1]] = path.Base(strings.ReplaceAll(f[2], `\`, "/"))
			}
		case strings.HasPrefix(l, "FUNC "):
			f := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(l, "FUNC "), "m "), " ", 4)
			if len(f) == 4 {
				a, _ := strconv.ParseUint(f[0], 16, 64)
				n, _ := strconv.ParseUint(f[1], 16, 64)
				if _, dup := r.funcs[a]; !dup {
					r.funcs[a] = symFunc{n, f[3]}
				}
			}
			inFunc = true
		case strings.HasPrefix(l, "PUBLIC "), strings.HasPrefix(l, "STACK "):
			inFunc = false
		case strings.HasPrefix(l, "INLINE"):
		case inFunc:
			if f := strings.Fields(l); len(f) == 4 {
				lines = append(lines, pending{f[0], f[1], f[2], f[3]})
			}
		}
	}
	for _, p := range lines {
		a, _ := strconv.ParseUint(p.addr, 16, 64)
		n, _ := strconv.ParseUint(p.size, 16, 64)
		r.lines = append(r.lines, symLine{a, n, p.line, files[p.file]})
	}
	slices.SortFunc(r.lines, func(x, y symLine) int { return cmp.Compare(x.addr, y.addr) })
	return r
}

// lineAt finds the line record covering addr.
func (r *symRecords) lineAt(addr uint64) (symLine, bool) {
	i := sort.Search(len(r.lines), func(i int) bool { return r.lines[i].addr+r.lines[i].size > addr })
	if i < len(r.lines) && r.lines[i].addr <= addr {
		return r.lines[i], true
	}
	return symLine{}, false
}

// compareFuncs reports the fraction of Breakpad's FUNCs Cairn writes with
// the same address, size and name. A FUNC whose Breakpad name is the last
// component of Cairn's counts as agreeing, in its own class: for functions
// without a linkage name (gcc's anonymous-namespace functions, lambdas'
// operator()) Breakpad writes the bare DW_AT_name, Cairn the qualified name
// llvm-symbolizer prints.
func compareFuncs(got, want symRecords) (agree float64, qualified int, missing []string) {
	n := 0
	for a, w := range want.funcs {
		g, ok := got.funcs[a]
		switch {
		case ok && g.size == w.size && g.name == w.name:
			n++
		case ok && g.size == w.size && strings.HasSuffix(g.name, "::"+w.name):
			n++
			qualified++
		default:
			if len(missing) < 5 {
				missing = append(missing, fmt.Sprintf("%x %x %s (cairn: %x %q)", a, w.size, w.name, g.size, g.name))
			}
		}
	}
	if len(want.funcs) == 0 {
		return 1, 0, nil
	}
	return float64(n) / float64(len(want.funcs)), qualified, missing
}

// compareLines reports the fraction of the code bytes Breakpad's line records
// cover for which Cairn's records give the same line and file. Comparing by
// bytes rather than records is what matters for symbolication: dump_syms
// merges some adjacent rows that Cairn keeps separate.
func compareLines(got, want symRecords) (agree float64, missing []string) {
	var total, same uint64
	for _, w := range want.lines {
		for a := w.addr; a < w.addr+w.size; a++ {
			total++
			if g, ok := got.lineAt(a); ok && g.line == w.line && g.file == w.file {
				same++
			} else if len(missing) < 5 {
				missing = append(missing, fmt.Sprintf("%x: breakpad %s:%s, cairn %s:%s", a, w.file, w.line, g.file, g.line))
				a = w.addr + w.size // one example per record
			}
		}
	}
	if total == 0 {
		return 1, nil
	}
	return float64(same) / float64(total), missing
}

// headerDifferences lists fixtures whose MODULE/INFO lines differ from
// Breakpad's on purpose.
var headerDifferences = map[string]string{
	// Without a build id both hash the first page of .text, but Breakpad's
	// dump_syms and Sentry fold the bytes differently; Cairn's id is
	// Sentry's (checked against sentry-cli), since Sentry-protocol clients
	// look symbols up by it. Breakpad also writes the hash as INFO CODE_ID,
	// where Sentry has no code id.
	"elf-x86_64-gcc-O2-nobuildid": "text-hash debug id follows Sentry, not Breakpad",
}

// TestDumpSymsAgainstBreakpad compares `cairn dump-syms` with Breakpad's
// dump_syms (-c: no CFI, -d: inline records) on every ELF fixture:
// MODULE and INFO lines exactly, FUNC address/size/name on ≥99.5% of
// Breakpad's functions, line records on ≥99%.
func TestDumpSymsAgainstBreakpad(t *testing.T) {
	tool := testtools.BreakpadTool(t, "dump_syms")
	for _, name := range fixtures.Default() {
		if !strings.HasPrefix(name, "elf-") {
			continue // Breakpad's Linux dump_syms reads only ELF
		}
		t.Run(name, func(t *testing.T) {
			dir := fixtures.GetDir(t, name)
			path := fixtures.Get(t, name)
			bp, err := exec.Command(tool, "-c", "-d", path, dir).Output()
			if err != nil {
				// dump_syms aborts on zstd sections and fails on legacy
				// .zdebug and MiniDebugInfo files; Cairn must still read them.
				if _, err := run(t, "dump-syms", path); err != nil {
					t.Fatalf("cairn dump-syms: %v", err)
				}
				t.Logf("Breakpad's dump_syms cannot read this file (%v); Cairn read it", err)
				return
			}
			ours, err := run(t, "dump-syms", path)
			if err != nil {
				t.Fatal(err)
			}
			want, got := readSym(t, string(bp)), readSym(t, ours)
			if reason, ok := headerDifferences[name]; ok {
				if slices.Equal(got.header, want.header) {
					t.Errorf("listed as differing (%s) but the headers now agree", reason)
				}
				t.Logf("known header difference: %s\n  cairn    %q\n  breakpad %q", reason, got.header, want.header)
			} else if !slices.Equal(got.header, want.header) {
				t.Errorf("header\n  cairn    %q\n  breakpad %q", got.header, want.header)
			}
			fa, qualified, fmiss := compareFuncs(got, want)
			la, lmiss := compareLines(got, want)
			t.Logf("FUNC %.2f%% of %d (%d by qualified name), line bytes %.2f%% (cairn wrote %d FUNCs)", 100*fa, len(want.funcs), qualified, 100*la, len(got.funcs))
			if fa < 0.995 {
				t.Errorf("FUNC agreement %.2f%% < 99.5%%; e.g. %q", 100*fa, fmiss)
			}
			if la < 0.99 {
				t.Errorf("line agreement %.2f%% < 99%%; e.g. %q", 100*la, lmiss)
			}
		})
	}
}
