package loader_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

const (
	fixtureAddrs     = 10000
	fixtureAgreement = 0.995
)

var (
	fixtureSummaryMu sync.Mutex
	fixtureSummary   []string
)

// TestFixturesAgainstLLVMSymbolizer opens every ELF and Mach-O fixture the
// way Cairn's commands do (loader.Open, the separate debug file by build id
// or debuglink, split DWARF through .dwo files and .dwp packages, a dSYM's
// DWARF for a Mach-O binary) and compares the lookups of 10,000 random code
// addresses plus every function and inlinee start with llvm-symbolizer-14
// run on the fixture's binary: function, file, line and the whole inline
// chain must agree for at least 99.5% of the addresses, counting only the
// explained classes of symoracle.KnownClasses and symoracle.FixtureClasses.
func TestFixturesAgainstLLVMSymbolizer(t *testing.T) {
	t.Cleanup(func() {
		fixtureSummaryMu.Lock()
		defer fixtureSummaryMu.Unlock()
		slices.Sort(fixtureSummary)
		for _, s := range fixtureSummary {
			t.Log(s)
		}
	})
	for _, name := range fixtures.Default() {
		r, _ := fixtures.Lookup(name)
		if r.Format != fixtures.FormatELF && r.Format != fixtures.FormatMachO {
			continue // PE and PDB have their own oracle tests
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := fixtures.GetDir(t, name)
			bin := filepath.Join(dir, r.Outputs[0])
			ranges, err := fixtures.TextRanges(bin)
			if err != nil {
				t.Fatal(err)
			}
			for _, cr := range ranges {
				label := name
				if len(ranges) > 1 {
					label += "/" + cr.Arch
				}
				res := compareFixture(t, r, dir, bin, cr, len(ranges) > 1)
				fixtureSummaryMu.Lock()
				fixtureSummary = append(fixtureSummary, fmt.Sprintf("%-40s %s", label, res))
				fixtureSummaryMu.Unlock()
				for _, e := range res.Unexplained() {
					t.Logf("%s (UNEXPLAINED) %s", label, e)
				}
				if res.ExplainedPct() < 100*fixtureAgreement {
					t.Errorf("%s: %s, want at least %.1f%%", label, res, 100*fixtureAgreement)
				}
			}
		})
	}
}

// compareFixture compares one architecture of a fixture.
func compareFixture(t *testing.T, r fixtures.Recipe, dir, bin string, cr fixtures.CodeRange, fat bool) *symoracle.Result {
	t.Helper()
	obj, load := openFixtureObject(t, r, dir, bin, cr.Arch)
	fns := symoracle.ObjectFunctions(t, obj)
	addrs := symoracle.Addresses(r.Name+cr.Arch, cr.Start, cr.End, fixtureAddrs, fns, load)
	var extra []string
	if fat {
		extra = append(extra, "--default-arch="+cr.Arch)
	}
	want := symoracle.Symbolize(t, bin, addrs, extra...)
	symtab, err := symoracle.SymbolTable(bin, cr.Arch)
	if err != nil {
		t.Fatal(err)
	}
	ix := debugfiles.NewIndex(fns)
	var frames []debugfiles.Frame
	opts := symoracle.FixtureOptions(r.Name, symtab)
	return symoracle.Compare(addrs, want, func(a uint64) []debugfiles.Frame {
		frames = ix.AppendLookup(frames[:0], a-load)
		return frames
	}, opts)
}

// openFixtureObject opens the object Cairn symbolicates the fixture's
// binary with, and returns it with its load address.
func openFixtureObject(t *testing.T, r fixtures.Recipe, dir, bin, arch string) (debugfiles.Object, uint64) {
	t.Helper()
	path := bin
	if r.Format == fixtures.FormatMachO {
		// The dSYM's DWARF file, found where llvm-symbolizer finds it.
		path = filepath.Join(bin+".dSYM", "Contents", "Resources", "DWARF", filepath.Base(bin))
	}
	a, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	objs := a.Objects
	var obj debugfiles.Object
	for _, o := range objs {
		if len(objs) == 1 || o.Arch() == arch {
			obj = o
		}
	}
	if obj == nil {
		t.Fatalf("%s: no %s object", path, arch)
	}
	obj, err = a.WithDebugFile(obj, []string{filepath.Join(dir, "debug")})
	if err != nil {
		t.Fatal(err)
	}
	return obj, obj.LoadAddress()
}
