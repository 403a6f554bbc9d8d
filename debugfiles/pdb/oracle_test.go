package pdb_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// The oracle test looks up 10,000 random addresses of each image's .text
// (deduplicated), plus every function and inlinee start, in the functions
// of its PDB through debugfiles.Index, and compares each answer with
// llvm-symbolizer-14 reading the same PDB through the image
// (--obj=demo.exe: LLVM's native PDB reader, not DIA): the function name,
// file and line of every frame of the inline chain.
//
// What llvm-symbolizer 14 does with a PDB, and the classes of its known
// faults, are symoracle.PDBClasses; symoracle.PDBOracle explains them.

const (
	randomAddrs  = 10000
	minAgreement = 0.995
)

// addresses picks random RVAs in .text and adds every function and
// inlinee start inside it.
func addresses(info peInfo, fns []*debugfiles.Function, seed string) []uint64 {
	return symoracle.Addresses(seed, info.textStart, info.textEnd, randomAddrs, fns, 0)
}

// compare looks every RVA up and compares it with llvm-symbolizer's answer
// for the absolute address, explaining llvm 14's known PDB faults.
func compare(ix *debugfiles.Index, oracle *symoracle.PDBOracle, addrs []uint64, want [][]symoracle.Frame) *symoracle.Result {
	abs := make([]uint64, len(addrs))
	for i, a := range addrs {
		abs[i] = a + oracle.Base
	}
	var frames []debugfiles.Frame
	return symoracle.Compare(abs, want, func(a uint64) []debugfiles.Frame {
		frames = ix.AppendLookup(frames[:0], a-oracle.Base)
		return frames
	}, oracle.Options())
}

// logResult logs a comparison and fails below the required agreement.
func logResult(t *testing.T, r *symoracle.Result) {
	t.Helper()
	for _, e := range r.Unexplained() {
		t.Logf("(UNEXPLAINED) %s", e)
	}
	if r.ExplainedPct() < 100*minAgreement {
		t.Errorf("%s, want at least %.1f%% agreement", r, 100*minAgreement)
	}
}

func TestAgainstLLVMSymbolizer(t *testing.T) {
	needTool(t, llvmSymbolizer)
	var mu sync.Mutex
	var summary []string
	t.Cleanup(func() {
		slices.Sort(summary)
		for _, s := range summary {
			t.Log(s)
		}
	})
	names := imageNames()
	for i, get := range allImages(t) {
		t.Run(names[i], func(t *testing.T) {
			t.Parallel()
			img := get(t)
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
			want := symoracle.Symbolize(t, img.exe, abs)
			ix := debugfiles.NewIndex(fns)
			r := compare(ix, symoracle.NewPDBOracle(t, img.exe, img.pdb, fns), addrs, want)
			mu.Lock()
			summary = append(summary, fmt.Sprintf("%-28s %s", img.name, r))
			mu.Unlock()
			logResult(t, r)
		})
	}
}
