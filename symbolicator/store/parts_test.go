package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// Identification through a ReaderAt agrees with identification of the
// file on disk, for every format the upload path sees.
func TestIdentifyReaderAtMatchesIdentify(t *testing.T) {
	paths := []string{
		fixtures.Get(t, "elf-x86_64-gcc-O2"),
		filepath.Join(fixtures.GetDir(t, "macho-fat"), "demo.dSYM", "Contents", "Resources", "DWARF", "demo"),
		filepath.Join(t.TempDir(), "notes.txt"),
	}
	os.WriteFile(paths[2], []byte("hello"), 0o644)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := store.Identify(p)
		got, gerr := store.IdentifyReaderAt(bytes.NewReader(b), int64(len(b)), filepath.Base(p))
		if !reflect.DeepEqual(got, want) || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: IdentifyReaderAt = %+v, %v; Identify = %+v, %v", p, got, gerr, want, werr)
		}
	}
}
