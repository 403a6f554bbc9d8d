package symoracle

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// Addresses draws n random addresses from [start, end) and adds the start
// of every function and inlinee of fns that falls inside (their addresses
// are relative to load; the result is absolute, sorted and deduplicated),
// so that range boundaries are always covered. The same seed gives the
// same addresses.
func Addresses(seed string, start, end uint64, n int, fns []*debugfiles.Function, load uint64) []uint64 {
	var h uint64
	for _, c := range seed {
		h = h*131 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(h, 7))
	set := map[uint64]bool{}
	for range n {
		set[start+rng.Uint64N(end-start)] = true
	}
	var walk func(f *debugfiles.Function)
	walk = func(f *debugfiles.Function) {
		if a := f.Address + load; a >= start && a < end {
			set[a] = true
		}
		for _, c := range f.Inlinees {
			if c != nil {
				walk(c)
			}
		}
	}
	for _, f := range fns {
		if f != nil {
			walk(f)
		}
	}
	out := make([]uint64, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// FixtureClasses explains the disagreements with llvm-symbolizer-14 on the
// project's fixtures that come from what that version cannot read; Cairn's
// answer is the right one in each.
var FixtureClasses = map[string]string{
	"llvm14-no-zstd": "LLVM 14 cannot decompress ELFCOMPRESS_ZSTD sections (zstd support arrived in " +
		"LLVM 16), so llvm-symbolizer answers from the symbol table alone; Cairn reads the DWARF",
	"llvm14-no-minidebuginfo": "llvm-symbolizer does not read .gnu_debugdata (MiniDebugInfo), so on a " +
		"fully stripped binary it knows no names; Cairn names the function from the embedded symbol table",
}

// FixtureOptions are the comparison options for the fixture of that name
// (a fixtures recipe name): its split-DWARF shape, the known classes it may
// show, and the classification of FixtureClasses.
func FixtureOptions(fixture string, symtab func(name string, addr uint64) bool) Options {
	opts := Options{
		SymtabName: symtab,
		Split:      strings.HasSuffix(fixture, "-split") || strings.HasSuffix(fixture, "-dwp"),
		Allowed:    map[string]bool{"split-ranges-base": true},
		Extra: func(addr uint64, ours []debugfiles.Frame, want []Frame) string {
			// Only where llvm has the symbol table's answer (or none).
			if len(ours) == 0 || len(want) != 1 || want[0].Line != 0 {
				return ""
			}
			switch {
			case strings.HasSuffix(fixture, "-zstd"):
				return "llvm14-no-zstd"
			case strings.HasSuffix(fixture, "-minidebuginfo") && want[0].FunctionName == "":
				return "llvm14-no-minidebuginfo"
			}
			return ""
		},
	}
	for c := range FixtureClasses {
		opts.Allowed[c] = true
	}
	return opts
}

// ObjectFunctions reads every function tree of obj's debug session, the
// answers a comparison checks Cairn's lookups against.
func ObjectFunctions(t testing.TB, obj debugfiles.Object) []*debugfiles.Function {
	t.Helper()
	s, err := obj.DebugSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var fns []*debugfiles.Function
	for f, err := range s.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		fns = append(fns, f)
	}
	return fns
}
