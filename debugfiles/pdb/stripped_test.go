package pdb_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
)

// TestStripped takes the module streams away from a PDB, as a public
// ("stripped") PDB has none: the object then has a symbol table but no
// debug information, and its session yields the public symbols as
// functions without lines, one starting at each code public.
func TestStripped(t *testing.T) {
	img := buildOwn(t, variant{"x86_64", "O2"})
	orig, err := pdb.Open(img.pdb)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	streams := make([][]byte, orig.NumStreams())
	for i := range streams {
		streams[i], _ = orig.RawStream(i)
	}
	dbi := bytes.Clone(streams[3])
	le := binary.LittleEndian
	end := 64 + int(le.Uint32(dbi[24:]))
	for off := 64; off+64 <= end; {
		le.PutUint16(dbi[off+34:], 0xffff) // the module's symbol stream
		p := off + 64
		p += bytes.IndexByte(dbi[p:], 0) + 1
		p += bytes.IndexByte(dbi[p:], 0) + 1
		off = (p + 3) &^ 3
	}
	streams[3] = dbi
	file := pdb.WriteMSF(streams, 4096)
	o, err := pdb.NewObject(bytes.NewReader(file), int64(len(file)), "stripped.pdb")
	if err != nil {
		t.Fatal(err)
	}
	if o.Features() != debugfiles.FeatureSymtab {
		t.Errorf("features %s, want symtab", o.Features())
	}
	fns := allFunctions(t, o)
	starts := map[uint64]string{}
	for _, f := range fns {
		if len(f.Lines) != 0 || len(f.Inlinees) != 0 {
			t.Errorf("%s has lines or inlinees", f.Name)
		}
		starts[f.Address] = f.Name
	}
	n := 0
	for s := range o.Symbols() {
		n++
		if starts[s.Address] != s.Name {
			t.Errorf("no function %s at %#x (found %q)", s.Name, s.Address, starts[s.Address])
		}
	}
	if n == 0 {
		t.Fatal("no symbols")
	}
}
