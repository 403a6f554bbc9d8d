package pe

import (
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// BenchmarkOpen maps a fixture and decodes its identity (headers, debug
// directory, CodeView, exports for the features).
func BenchmarkOpen(b *testing.B) {
	path := fixtures.Get(b, "pe-x86_64-mingw-O2")
	b.ReportAllocs()
	for b.Loop() {
		o, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		o.Close()
	}
}

// benchUnwind opens a fixture and decodes the unwind information of every
// entry of its exception table, per iteration.
func benchUnwind(b *testing.B, name string) {
	path := fixtures.Get(b, name)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		o, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t, err := o.UnwindTable()
		if err != nil {
			b.Fatal(err)
		}
		for _, rf := range t.Functions() {
			if o.Machine() == MachineARM64 {
				_, err = o.ARM64UnwindInfo(rf)
			} else {
				_, err = o.X64UnwindChain(rf)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		n = len(t.Functions())
		o.Close()
	}
	b.ReportMetric(float64(n), "entries")
}

func BenchmarkUnwindX64(b *testing.B)   { benchUnwind(b, "pe-x86_64-mingw-O2") }
func BenchmarkUnwindARM64(b *testing.B) { benchUnwind(b, "pe-aarch64-clang-O2") }

// BenchmarkUnwindLookup looks up every entry's start in the table.
func BenchmarkUnwindLookup(b *testing.B) {
	o, err := Open(fixtures.Get(b, "pe-x86_64-mingw-O2"))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	t, err := o.UnwindTable()
	if err != nil {
		b.Fatal(err)
	}
	fns := t.Functions()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := t.Lookup(fns[i%len(fns)].Begin); !ok {
			b.Fatal("not found")
		}
		i++
	}
}

// BenchmarkTableLookup looks up the row of an address through the unwind
// table: one entry's unwind codes decoded into rows per lookup.
func BenchmarkTableLookup(b *testing.B) {
	o, err := Open(fixtures.Get(b, "pe-x86_64-clang-O2"))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	tables, err := o.UnwindTables()
	if err != nil || len(tables) == 0 {
		b.Fatalf("%d tables, %v", len(tables), err)
	}
	ut, _ := o.UnwindTable()
	funcs := ut.Functions()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rf := funcs[i%len(funcs)]
		i++
		// Entries with a machine frame have no rows: ok may be false.
		if _, _, err := tables[0].Lookup(uint64(rf.Begin + (rf.End-rf.Begin)/2)); err != nil {
			b.Fatalf("%#x: %v", rf.Begin, err)
		}
	}
}

// BenchmarkTableRows iterates over every row of the unwind table.
func BenchmarkTableRows(b *testing.B) {
	o, err := Open(fixtures.Get(b, "pe-x86_64-clang-O2"))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	tables, err := o.UnwindTables()
	if err != nil || len(tables) == 0 {
		b.Fatalf("%d tables, %v", len(tables), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range tables[0].Rows() {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
