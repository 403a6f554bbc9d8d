package pdb_test

import (
	"bytes"
	"os"
	"runtime"
	"slices"
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
	f.Fuzz(exerciseBounded)
}

// exerciseBounded runs exercise on the PDB in data and fails when the run
// allocates more than a fixed multiple of its size.
func exerciseBounded(t *testing.T, data []byte) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	exercise(data)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(200*len(data))+8<<20 {
		t.Errorf("allocated %d bytes for %d bytes of input", grew, len(data))
	}
}

// FuzzPDBStreams mutates one stream of a PDB at a time and lays the
// streams out again as a valid MSF file. FuzzPDB's mutations mostly break
// the MSF layout, which is checked first, so few reach the parsers of the
// streams' contents: the DBI stream, module symbols and their C13 lines,
// the type and id streams, publics, globals, frame data and the names.
// Here every input does. The input picks a base PDB (the seeds' x86_64
// and x86 PDBs and the synthetic one) and a stream of it, modulo their
// counts, and gives the stream's new contents.
func FuzzPDBStreams(f *testing.F) {
	var bases [][][]byte
	for _, b := range append(fuzzSeeds(f), pdb.SynthPDB(f)) {
		o, err := pdb.NewObject(bytes.NewReader(b), int64(len(b)), "seed.pdb")
		if err != nil {
			f.Fatal(err)
		}
		streams := make([][]byte, o.StreamCount())
		for i := range streams {
			if streams[i], err = o.RawStream(i); err != nil {
				f.Fatalf("stream %d: %v", i, err)
			}
		}
		for i, s := range streams {
			if len(s) > 0 {
				f.Add(uint8(len(bases)), uint16(i), s)
			}
		}
		bases = append(bases, streams)
	}
	f.Fuzz(func(t *testing.T, base uint8, index uint16, data []byte) {
		streams := slices.Clone(bases[int(base)%len(bases)])
		streams[int(index)%len(streams)] = data
		exerciseBounded(t, pdb.WriteMSF(streams, 4096))
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
