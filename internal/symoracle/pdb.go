package symoracle

import (
	"bufio"
	"debug/pe"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// What llvm-symbolizer 14 does with a PE image read through its PDB
// (--obj=demo.exe: LLVM's native PDB reader, not DIA), and what Cairn's
// PDB reader therefore does:
//   - The outermost frame is named by the public symbol at the function's
//     start when there is one (its decorated name: --functions=linkage
//     asks for linkage names), else by the procedure's own name.
//   - Inlined frames are named by the IPI record of the inline site,
//     qualified with the LF_FUNC_ID's scope string or the LF_MFUNC_ID's
//     class name.
//   - The outermost frame's line is the procedure's line row at the
//     address; an inlined frame's line is its binary-annotation row at the
//     address. The caller's line of an inlined frame is therefore the
//     parent's row at the address, which is where Cairn's inlinees'
//     CallLine comes from.
//   - An address in no procedure gets the nearest public symbol before it
//     in its section, without a line: padding between functions and code
//     without debug information. Cairn's functions made of publics cover
//     exactly those addresses.

// PDBClasses are llvm-symbolizer 14's known faults on PDBs, each with its
// reason; PDBOracle.Options counts them as explained.
var PDBClasses = map[string]string{
	"llvm14-inline-row-ahead": "llvm-symbolizer 14 (NativeInlineSiteSymbol::getLineOffset) runs an inline " +
		"site's binary annotations until the code offset reaches the address, so inside a row that another " +
		"row of the same range follows it reports that next row's line (and file): the line of the " +
		"instruction after the row, not the row's own. The oracle recomputes what that rule gives from our " +
		"rows and counts the address here only when it reproduces llvm's answer exactly",
	"llvm14-first-of-duplicate-rows": "where a line table has several rows at one address (clang writes the " +
		"function's opening line and its first statement at the function's start), llvm-symbolizer's PDB " +
		"reader answers for exactly that address with the first of them and for the following addresses " +
		"with the last; we give the whole range to the last, the row the code belongs to, as Sentry's " +
		"symbolic (which skips zero-sized rows) and llvm-symbolizer's own DWARF reader do. The rows come " +
		"from llvm-pdbutil dump --l; counted here only when the first row's line reproduces llvm's answer",
}

// PDBUtil is the llvm-pdbutil the oracle runs for the rows of a PDB's line
// tables.
const PDBUtil = "llvm-pdbutil-14"

// PDBOracle explains llvm-symbolizer 14's known faults (PDBClasses) on a
// PE image read through its PDB: it knows the inlined functions of Cairn's
// reading of the PDB, and the rows llvm-pdbutil prints at addresses that
// hold several.
type PDBOracle struct {
	// Base is the image base: a compared address minus Base is an RVA,
	// the addresses of Cairn's functions and frames.
	Base     uint64
	inlinees map[inlineeKey]*debugfiles.Function
	dups     map[uint64]pdbRow
}

// inlineeKey finds the inlined function (or piece) a frame came from.
type inlineeKey struct {
	addr uint64
	name string
}

// pdbRow is a line table row as llvm-pdbutil prints it.
type pdbRow struct {
	file string
	line uint32
}

// NewPDBOracle reads the image base and sections of exe and the line
// tables of pdbFile (with llvm-pdbutil, skipping the test, or failing it
// under CI, when the tool is missing), and indexes the inlined functions
// of fns, Cairn's functions of the PDB.
func NewPDBOracle(t testing.TB, exe, pdbFile string, fns []*debugfiles.Function) *PDBOracle {
	t.Helper()
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := &PDBOracle{inlinees: map[inlineeKey]*debugfiles.Function{}}
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		o.Base = h.ImageBase
	case *pe.OptionalHeader32:
		o.Base = uint64(h.ImageBase)
	}
	var walk func(f *debugfiles.Function, inl bool)
	walk = func(f *debugfiles.Function, inl bool) {
		if inl {
			if _, ok := o.inlinees[inlineeKey{f.Address, f.Name}]; !ok {
				o.inlinees[inlineeKey{f.Address, f.Name}] = f
			}
		}
		for _, c := range f.Inlinees {
			walk(c, true)
		}
	}
	for _, f := range fns {
		walk(f, false)
	}
	o.dups = duplicateRows(t, f.Sections, pdbFile)
	return o
}

var (
	pdbutilBlock = regexp.MustCompile(`^\s+([0-9A-F]{4}):([0-9A-F]{8})-([0-9A-F]{8}), line/addr entries = (\d+)`)
	pdbutilRow   = regexp.MustCompile(`(\d+) ([0-9A-F]{8}) [! ]`)
	pdbutilFile  = regexp.MustCompile(`^(\S.*) \((MD5|SHA1|SHA256|None)[:)]`)
)

// duplicateRows reads the line tables of pdbFile with llvm-pdbutil and
// returns, for every RVA holding several rows, the first of them.
func duplicateRows(t testing.TB, secs []*pe.Section, pdbFile string) map[uint64]pdbRow {
	t.Helper()
	if _, err := exec.LookPath(PDBUtil); err != nil {
		testtools.Missing(t, PDBUtil, Install)
	}
	out, err := exec.Command(PDBUtil, "dump", "--l", pdbFile).Output()
	if err != nil {
		t.Fatalf("%s dump --l %s: %v", PDBUtil, pdbFile, err)
	}
	count := map[uint64]int{}
	first := map[uint64]pdbRow{}
	var file string
	var segVA uint64
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := pdbutilFile.FindStringSubmatch(line); m != nil {
			file = m[1]
			continue
		}
		if m := pdbutilBlock.FindStringSubmatch(line); m != nil {
			seg, _ := strconv.ParseUint(m[1], 16, 16)
			segVA = 0
			if seg >= 1 && int(seg) <= len(secs) {
				segVA = uint64(secs[seg-1].VirtualAddress)
			}
			continue
		}
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		for _, m := range pdbutilRow.FindAllStringSubmatch(line, -1) {
			ln, _ := strconv.ParseUint(m[1], 10, 32)
			off, _ := strconv.ParseUint(m[2], 16, 32)
			rva := segVA + off
			if count[rva] == 0 {
				first[rva] = pdbRow{file: file, line: uint32(ln)}
			}
			count[rva]++
		}
	}
	for a, n := range count {
		if n < 2 {
			delete(first, a)
		}
	}
	return first
}

// rowAhead is llvm-symbolizer 14's line for an inlined frame at addr: the
// row containing addr when addr starts it or it ends its range, else the
// row after it.
func rowAhead(lines []debugfiles.LineInfo, addr uint64) (debugfiles.LineInfo, bool) {
	for i, l := range lines {
		if addr < l.Address || addr >= l.Address+l.Size {
			continue
		}
		if addr != l.Address && i+1 < len(lines) && lines[i+1].Address == l.Address+l.Size {
			return lines[i+1], true
		}
		return l, true
	}
	return debugfiles.LineInfo{}, false
}

// LLVMView rewrites frames, Cairn's answer at the RVA rva, the way
// llvm-symbolizer 14 computes the lines of inlined frames (see the class
// llvm14-inline-row-ahead).
func (o *PDBOracle) LLVMView(frames []debugfiles.Frame, rva uint64) []debugfiles.Frame {
	out := slices.Clone(frames)
	for i := range out {
		if !out[i].Inlined {
			continue
		}
		n := o.inlinees[inlineeKey{out[i].Address, out[i].Function}]
		if n == nil {
			continue
		}
		if l, ok := rowAhead(n.Lines, rva); ok {
			out[i].File, out[i].Line = l.File, l.Line
		}
	}
	return out
}

// Classify compares Cairn's answer at the RVA rva with llvm-symbolizer's
// and names the disagreement: "" for agreement, a class of PDBClasses
// where one explains it, else "no-function", "frame-count", "name", "file"
// or "line".
func (o *PDBOracle) Classify(ours []debugfiles.Frame, want []Frame, rva uint64) string {
	c := classifyPDBFrames(ours, want)
	if c != "line" && c != "file" {
		return c
	}
	ahead := o.LLVMView(ours, rva)
	if classifyPDBFrames(ahead, want) == "" {
		return "llvm14-inline-row-ahead"
	}
	if first, ok := o.dups[rva]; ok && len(ours) > 0 {
		for _, v := range [][]debugfiles.Frame{ours, ahead} {
			v = slices.Clone(v)
			last := &v[len(v)-1]
			last.File, last.Line = debugfiles.FileInfo{Name: first.file}, first.line
			if classifyPDBFrames(v, want) == "" {
				return "llvm14-first-of-duplicate-rows"
			}
		}
	}
	return c
}

// classifyPDBFrames compares names, files and lines frame by frame.
func classifyPDBFrames(ours []debugfiles.Frame, want []Frame) string {
	if len(ours) == 0 {
		if len(want) == 1 && want[0].FunctionName == "" && want[0].Line == 0 {
			return ""
		}
		return "no-function"
	}
	if len(ours) != len(want) {
		return "frame-count"
	}
	for i := range ours {
		o, w := ours[i], want[i]
		if o.Function != w.FunctionName {
			return "name"
		}
		if o.File.Path() != w.FileName {
			return "file"
		}
		if o.Line != w.Line {
			return "line"
		}
	}
	return ""
}

// Options are the comparison's options for addresses of the image (RVAs
// plus Base): the classes of PDBClasses are explained, as Classify finds
// them.
func (o *PDBOracle) Options() Options {
	allowed := map[string]bool{}
	for c := range PDBClasses {
		allowed[c] = true
	}
	return Options{
		Allowed: allowed,
		Extra: func(a uint64, ours []debugfiles.Frame, want []Frame) string {
			return o.Classify(ours, want, a-o.Base)
		},
	}
}
