package cfi_test

import (
	"os/exec"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

func largeTables(b *testing.B) (string, []unwind.Table) {
	path := fixtures.Get(b, "elf-x86_64-gcc-O2-large")
	o, err := elf.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	tables, err := o.UnwindTables()
	if err != nil {
		b.Fatal(err)
	}
	return path, tables
}

// BenchmarkRowsLarge indexes and executes every FDE of the large fixture.
func BenchmarkRowsLarge(b *testing.B) {
	path, _ := largeTables(b)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		o, err := elf.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		tables, _ := o.UnwindTables()
		rows = 0
		for _, t := range tables {
			for _, err := range t.Rows() {
				if err != nil {
					b.Fatal(err)
				}
				rows++
			}
		}
		o.Close()
	}
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkLookupLarge looks addresses up through .eh_frame_hdr.
func BenchmarkLookupLarge(b *testing.B) {
	path, tables := largeTables(b)
	addrs, err := fixtures.RandomTextAddrs(path, 4096, 1)
	if err != nil {
		b.Fatal(err)
	}
	t := tables[len(tables)-1].(*cfi.Table)
	if !t.HasSearchTable() {
		b.Fatal("no .eh_frame_hdr")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t.Lookup(addrs[i%len(addrs)])
		i++
	}
}

// BenchmarkBreakpadDumpSyms runs Breakpad's dump_syms on the large fixture
// with CFI and without (-c), the reference for what CFI costs.
func BenchmarkBreakpadDumpSyms(b *testing.B) {
	tool := testtools.BreakpadTool(b, "dump_syms")
	path := fixtures.Get(b, "elf-x86_64-gcc-O2-large")
	for _, mode := range []struct{ name, flag string }{{"cfi", ""}, {"no-cfi", "-c"}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				args := []string{path}
				if mode.flag != "" {
					args = []string{mode.flag, path}
				}
				if err := exec.Command(tool, args...).Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
