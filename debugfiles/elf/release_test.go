package elf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// TestReleaseMappedKeepsContents checks that releasing pages never changes
// what the bytes read: pages of the file mapping come back from the file,
// and bytes outside it (heap copies, whose pages would come back zeroed)
// are left alone.
func TestReleaseMappedKeepsContents(t *testing.T) {
	page := os.Getpagesize()
	want := make([]byte, 5*page+123)
	for i := range want {
		want[i] = byte(i*7 + 1)
	}
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mmapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mapped := m.Bytes()
	heap := bytes.Clone(want)
	tests := []struct {
		name string
		b    []byte
	}{
		{"whole mapping", mapped},
		{"unaligned middle", mapped[page/2 : 3*page+page/3]},
		{"less than a page", mapped[10 : page-10]},
		{"empty", mapped[page:page]},
		{"heap copy", heap},
		{"heap part", heap[page : 3*page]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			releaseMapped(mapped, tt.b)
			if !bytes.Equal(mapped, want) {
				t.Error("the mapping reads differently after release")
			}
			if !bytes.Equal(heap, want) {
				t.Error("heap bytes changed: release touched memory outside the mapping")
			}
		})
	}
}
