package breakpad_test

import (
	"bytes"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
)

// TestWriteObjectMatchesModule checks that the streaming writer writes
// exactly what converting to a Module and writing it does, on programs of
// one unit batch and of many (large), and with split units.
func TestWriteObjectMatchesModule(t *testing.T) {
	dem := func(s string) string { return demangle.Demangle(s, demangle.Full) }
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O2", "macho-arm64", "elf-x86_64-gcc-O2-large", "elf-x86_64-clang-O2-split"} {
		for _, opts := range []breakpad.ConvertOptions{
			{},
			{Demangle: dem, Multiple: true},
			{Demangle: dem, NoInlines: true, Publics: breakpad.PublicsNotAtFuncs},
		} {
			bin := fixtures.Get(t, name)
			a, err := loader.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			obj := a.Objects[0]
			m, err := breakpad.FromObject(obj, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want, got bytes.Buffer
			if err := breakpad.WriteModule(&want, m); err != nil {
				t.Fatal(err)
			}
			if err := breakpad.WriteObject(&got, obj, opts); err != nil {
				t.Fatal(err)
			}
			a.Close()
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s %+v: WriteObject differs from WriteModule(FromObject) (%d vs %d bytes)", name, opts.NoInlines, got.Len(), want.Len())
			}
			if opts.NoInlines && bytes.Contains(got.Bytes(), []byte("\nINLINE")) {
				t.Errorf("%s: NoInlines wrote INLINE records", name)
			}
		}
	}
}
