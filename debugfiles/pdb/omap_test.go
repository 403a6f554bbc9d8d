package pdb_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// TestOMAP rewrites a PDB as a post-link optimizer leaves it: the two
// halves of .text swapped, its last 16 bytes removed, an OMAP from the
// original addresses to the new ones and the original section headers
// added to the DBI stream's optional debug header. Every lookup of an
// address with a line in the original must give the same frames at the
// address the OMAP moved it to.
func TestOMAP(t *testing.T) {
	img := buildOwn(t, variant{"x86_64", "O2"})
	orig, err := pdb.Open(img.pdb)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	var text pdb.SectionHeader
	for _, s := range orig.SectionHeaders() {
		if s.Name == ".text" {
			text = s
		}
	}
	a := uint64(text.VirtualAddress)
	e := a + uint64(text.VirtualSize)
	m := (a + (e-a)/2) &^ 15
	removed := e - 16
	moved := func(x uint64) (uint64, bool) {
		switch {
		case x < a:
			return 0, false
		case x < m:
			return x + (e - m), true
		case x < removed:
			return x - (m - a), true
		case x < e:
			return 0, false
		}
		return x, true
	}
	var omap []byte
	for _, p := range [][2]uint64{{a, a + (e - m)}, {m, a}, {removed, 0}, {e, e}} {
		omap = binary.LittleEndian.AppendUint32(omap, uint32(p[0]))
		omap = binary.LittleEndian.AppendUint32(omap, uint32(p[1]))
	}

	streams := make([][]byte, orig.NumStreams())
	for i := range streams {
		streams[i], _ = orig.RawStream(i)
	}
	dbi := bytes.Clone(streams[3])
	le := binary.LittleEndian
	opt := 64 + int(le.Uint32(dbi[24:])) + int(le.Uint32(dbi[28:])) + int(le.Uint32(dbi[32:])) +
		int(le.Uint32(dbi[36:])) + int(le.Uint32(dbi[40:])) + int(le.Uint32(dbi[52:]))
	if int(le.Uint32(dbi[48:])) < 22 {
		t.Fatal("the optional debug header has fewer than 11 slots")
	}
	secHdr := le.Uint16(dbi[opt+2*5:])
	le.PutUint16(dbi[opt+2*4:], uint16(len(streams)))    // OMAP from source
	le.PutUint16(dbi[opt+2*10:], uint16(len(streams)+1)) // original section headers
	streams[3] = dbi
	streams = append(streams, omap, streams[secHdr])
	file := pdb.WriteMSF(streams, 4096)
	o, err := pdb.NewObject(bytes.NewReader(file), int64(len(file)), "omap.pdb")
	if err != nil {
		t.Fatal(err)
	}
	if !o.HasOMAP() {
		t.Fatal("the OMAP was not found")
	}

	fnsOrig := allFunctions(t, orig)
	fnsOMAP := allFunctions(t, o)
	ixOrig, ixOMAP := debugfiles.NewIndex(fnsOrig), debugfiles.NewIndex(fnsOMAP)
	rng := rand.New(rand.NewPCG(7, 7))
	checked := 0
	for range 5000 {
		x := a + rng.Uint64N(e-a)
		want := ixOrig.Lookup(x)
		y, ok := moved(x)
		if !ok || len(want) == 0 || want[0].Line == 0 {
			continue
		}
		got := ixOMAP.Lookup(y)
		checked++
		if !sameFrames(got, want) {
			t.Errorf("%#x (moved to %#x): got %s, want %s", x, y, symoracle.FormatOurs(got), symoracle.FormatOurs(want))
		}
	}
	t.Logf("%d addresses checked; %d functions, %d after the OMAP", checked, len(fnsOrig), len(fnsOMAP))
	if checked < 1000 {
		t.Errorf("only %d addresses checked", checked)
	}
	// Publics move too.
	pubs, _ := orig.Publics()
	moves := map[string]uint64{}
	for _, p := range pubs {
		if y, ok := moved(p.RVA); ok && p.HasRVA {
			moves[p.Name] = y
		}
	}
	pubs2, _ := o.Publics()
	for _, p := range pubs2 {
		if y, ok := moves[p.Name]; ok && (!p.HasRVA || p.RVA != y) {
			t.Errorf("public %s at %#x, want %#x", p.Name, p.RVA, y)
		}
	}
}

func allFunctions(t *testing.T, o *pdb.Object) []*debugfiles.Function {
	t.Helper()
	s, err := o.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := s.AllFunctions()
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// sameFrames compares frames without their start addresses, which differ
// where the OMAP split a function.
func sameFrames(a, b []debugfiles.Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Function != b[i].Function || a[i].File != b[i].File || a[i].Line != b[i].Line || a[i].Inlined != b[i].Inlined {
			return false
		}
	}
	return true
}
