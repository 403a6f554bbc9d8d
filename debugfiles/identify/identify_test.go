package identify_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/fixtures"
)

// Identification through a ReaderAt agrees with identification of the
// file on disk, for every format the upload path sees.
func TestReaderAtMatchesFile(t *testing.T) {
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
		want, werr := identify.File(p)
		got, gerr := identify.ReaderAt(bytes.NewReader(b), int64(len(b)), filepath.Base(p))
		if !reflect.DeepEqual(got, want) || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: ReaderAt = %+v, %v; File = %+v, %v", p, got, gerr, want, werr)
		}
	}
}

func TestFileRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("hello"), 0o644)
	if _, err := identify.File(p); !errors.Is(err, identify.ErrNotDebugFile) {
		t.Fatalf("text file: %v", err)
	}
}

func TestSourceBundle(t *testing.T) {
	p := filepath.Join(t.TempDir(), "demo.src.zip")
	f, _ := os.Create(p)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("manifest.json")
	w.Write([]byte(`{"files":{},"attributes":{"debug_id":"5b15c193-165f-4c2b-7ecf-ea57ab8e00cf","arch":"x86_64"}}`))
	zw.Close()
	f.Close()
	objs, err := identify.File(p)
	if err != nil || len(objs) != 1 || objs[0].Format != "sourcebundle" || objs[0].Features[0] != "sources" {
		t.Fatalf("File = %+v, %v", objs, err)
	}
}
