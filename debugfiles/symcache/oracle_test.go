package symcache_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

var (
	oracleMu      sync.Mutex
	oracleSummary []string
)

// TestAgainstLLVMSymbolizer compares symcache lookups with
// llvm-symbolizer-14 --inlines on every ELF, Mach-O and PE default
// fixture, at 100,000 random code addresses plus every function and
// inlinee start: function, file, line and the whole inline chain must agree
// for at least 99.5% of the addresses, counting only explained classes.
// The symcache is built from the object Cairn's commands open (a Mach-O
// binary's dSYM, a stripped binary's debug file, split DWARF through its
// .dwo/.dwp files, a PE image's PDB, or a mingw image's own DWARF);
// llvm-symbolizer reads the binary. With a PDB, llvm-symbolizer 14's faults
// are explained by symoracle.PDBOracle; a mingw image's COFF symbol table
// names the outermost frame where llvm-symbolizer takes it from there.
func TestAgainstLLVMSymbolizer(t *testing.T) {
	t.Cleanup(func() {
		oracleMu.Lock()
		defer oracleMu.Unlock()
		slices.Sort(oracleSummary)
		for _, s := range oracleSummary {
			t.Log(s)
		}
	})
	for _, name := range fixtures.Default() {
		r, _ := fixtures.Lookup(name)
		isPE := strings.HasPrefix(name, "pe-")
		if r.Format != fixtures.FormatELF && r.Format != fixtures.FormatMachO && !isPE {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := fixtures.GetDir(t, name)
			bin := filepath.Join(dir, r.Outputs[0])
			objs := fixtureObjects(t, name)
			for _, fo := range objs {
				// The object symbolicating the binary: the dSYM's for
				// Mach-O, the binary's own (with its companion) for ELF.
				// For PE, the PDB's when there is one (llvm-symbolizer finds
				// it through the image's CodeView record), else the image's
				// own DWARF (mingw).
				hasPDB := slices.ContainsFunc(r.Outputs, func(o string) bool { return strings.HasSuffix(o, ".pdb") })
				if r.Format == fixtures.FormatMachO && !strings.Contains(fo.output, ".dSYM") ||
					r.Format == fixtures.FormatELF && fo.output != bin ||
					isPE && hasPDB && !strings.HasSuffix(fo.output, ".pdb") ||
					isPE && !hasPDB && fo.output != bin {
					continue
				}
				arch := fo.obj.Arch()
				ranges, err := fixtures.TextRanges(bin)
				if err != nil {
					t.Fatal(err)
				}
				if len(ranges) == 0 {
					t.Fatalf("%s: no code range", bin)
				}
				var cr fixtures.CodeRange
				for _, x := range ranges {
					if len(ranges) == 1 || x.Arch == arch {
						cr = x
					}
				}
				c, _ := build(t, symcache.InfoOf(fo.obj), fo.fns, symcache.Options{})
				load := fo.obj.LoadAddress()
				if strings.HasSuffix(fo.output, ".pdb") {
					// A PDB knows relative addresses only; the image
					// gives the base llvm-symbolizer's addresses have.
					load = imageBase(t, bin)
				}
				addrs := symoracle.Addresses(name+arch, cr.Start, cr.End, randomAddrs, fo.fns, load)
				var extra []string
				if len(ranges) > 1 {
					extra = append(extra, "--default-arch="+arch)
				}
				want := symoracle.Symbolize(t, bin, addrs, extra...)
				symtab, err := symoracle.SymbolTable(bin, arch)
				if err != nil && !isPE {
					t.Fatal(err)
				}
				opts := symoracle.FixtureOptions(name, symtab)
				if strings.HasSuffix(fo.output, ".pdb") {
					// llvm-symbolizer 14's PDB reader has faults of its
					// own, explained from the PDB reader's trees.
					opts = symoracle.NewPDBOracle(t, bin, fo.output, fo.fns).Options()
				}
				var frames []symcache.Frame
				var conv []debugfiles.Frame
				res := symoracle.Compare(addrs, want, func(a uint64) []debugfiles.Frame {
					frames = c.Lookup(a-load, frames[:0])
					conv = conv[:0]
					for _, f := range frames {
						conv = append(conv, debugfiles.Frame{Function: f.Function, File: debugfiles.FileInfo{Name: f.Path()}, Line: f.Line, Address: f.Address, Inlined: f.Inlined})
					}
					return conv
				}, opts)
				label := name
				if len(ranges) > 1 {
					label += "/" + arch
				}
				oracleMu.Lock()
				oracleSummary = append(oracleSummary, fmt.Sprintf("%-40s %s", label, res))
				oracleMu.Unlock()
				for _, e := range res.Unexplained() {
					t.Logf("%s (UNEXPLAINED) %s", label, e)
				}
				if res.ExplainedPct() < 99.5 {
					t.Errorf("%s: %s, want at least 99.5%%", label, res)
				}
			}
		})
	}
}

// imageBase is the preferred load address of a PE image, read through the
// loader.
func imageBase(t *testing.T, path string) uint64 {
	t.Helper()
	a, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return a.Objects[0].LoadAddress()
}
