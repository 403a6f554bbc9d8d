package cficache

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
)

// peFixtures lists the PE fixtures a full run builds.
func peFixtures() []string {
	var out []string
	for _, n := range fixtures.Default() {
		if strings.HasPrefix(n, "pe-") {
			out = append(out, n)
		}
	}
	return out
}

// TestPELegacyIdentical builds the cficache of every x64 PE fixture
// through the generic path (the image's unwind.Table and AddTables) and
// through the builder's former x64 path (pe_legacy_test.go), and requires
// the same bytes. It then checks, at every address of every exception
// table entry, that the table's Lookup agrees with the cache, which tests
// Lookup's decoding of a single entry against Rows' decoding of all.
func TestPELegacyIdentical(t *testing.T) {
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o, err := pe.Open(fixtures.Get(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			old := NewBuilder(InfoOf(o))
			if err := old.legacyAddPE(o); err != nil {
				t.Fatal(err)
			}
			want, err := old.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Build(o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if o.Machine() != pe.MachineAMD64 {
				// The former path read x64 images only.
				if old.Stats().Rows != 0 {
					t.Errorf("former path gave %d rows for machine %#x", old.Stats().Rows, o.Machine())
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("cficache differs from the former path's: %d bytes, want %d; stats %+v, want %+v", len(got), len(want), b.Stats(), old.Stats())
			}
			tables, err := o.UnwindTables()
			if err != nil || len(tables) != 1 {
				t.Fatalf("%d tables, %v", len(tables), err)
			}
			c := build(t, b)
			ut, err := o.UnwindTable()
			if err != nil {
				t.Fatal(err)
			}
			var row unwind.Row
			checked := 0
			for _, rf := range ut.Functions() {
				for addr := uint64(rf.Begin); addr < uint64(rf.End); addr++ {
					want, ok, _ := tables[0].Lookup(addr)
					inCache := c.Lookup(addr, &row)
					if ok != inCache {
						t.Fatalf("%#x: table has a row: %v, cache: %v", addr, ok, inCache)
					}
					if ok && !sameRow(unwind.ArchAMD64, &want, &row) {
						t.Fatalf("%#x: table %+v, cache %+v", addr, want, row)
					}
					checked++
				}
			}
			t.Logf("%d bytes identical; %d addresses agree", len(got), checked)
			if checked == 0 {
				t.Error("no address checked")
			}
		})
	}
}
