package pdb_test

import (
	"bytes"
	"os"
	"runtime"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
)

// fuzzSeeds are PDBs built for the fuzz target: the package's own program
// at -O2 for x86_64 and x86 (small: 80–100 KB). Without the tools the
// corpus starts from the hand-made files alone.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, v := range []variant{{"x86_64", "O2"}, {"i686", "O2"}} {
		if !haveTools(clang, lldLink) {
			break
		}
		img := buildOwn(f, v)
		b, err := os.ReadFile(img.pdb)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func haveTools(names ...string) bool {
	for _, n := range names {
		if _, err := execLookPath(n); err != nil {
			return false
		}
	}
	return true
}

// FuzzPDB opens mutated PDBs and reads everything an Object offers: none
// may panic, and the memory a run allocates stays within a fixed multiple
// of the input's size.
func FuzzPDB(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Add(pdb.WriteMSF([][]byte{nil, nil, nil, nil}, 512))
	f.Add(pdb.SynthPDB(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		exercise(data)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(200*len(data))+8<<20 {
			t.Errorf("allocated %d bytes for %d bytes of input", grew, len(data))
		}
	})
}

// exercise reads everything from a PDB held in data.
func exercise(data []byte) {
	o, err := pdb.NewObject(bytes.NewReader(data), int64(len(data)), "fuzz.pdb")
	if err != nil {
		return
	}
	_ = o.DebugID()
	_ = o.Arch()
	_ = o.Features()
	for range o.Symbols() {
	}
	o.Globals()
	o.SectionContributions()
	o.SectionMap()
	o.FrameData()
	o.FPO()
	s, err := o.NewSession()
	if err != nil {
		return
	}
	defer s.Close()
	var fns []*debugfiles.Function
	for f, err := range s.Functions() {
		if err != nil {
			break
		}
		fns = append(fns, f)
	}
	ix := debugfiles.NewIndex(fns)
	for _, f := range fns {
		ix.Lookup(f.Address)
	}
}
