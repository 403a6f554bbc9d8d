package breakpad_test

import (
	"io"
	"os"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
)

// BenchmarkWriteObject measures what `cairn dump-syms --no-cfi` does on
// the large bench fixture (a generated C program, 23.6 MiB of DWARF):
// open the file, read every function and write the .sym text. It runs only
// with CAIRN_FIXTURES_BENCH=1, which builds that fixture.
func BenchmarkWriteObject(b *testing.B) {
	if os.Getenv("CAIRN_FIXTURES_BENCH") == "" {
		b.Skip("set CAIRN_FIXTURES_BENCH=1 to build the bench fixture")
	}
	bin := fixtures.Get(b, "elf-x86_64-gcc-O2-bench")
	opts := breakpad.ConvertOptions{Demangle: func(s string) string { return demangle.Demangle(s, demangle.Full) }}
	b.ReportAllocs()
	for b.Loop() {
		a, err := loader.Open(bin)
		if err != nil {
			b.Fatal(err)
		}
		if err := breakpad.WriteObject(io.Discard, a.Objects[0], opts); err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}
