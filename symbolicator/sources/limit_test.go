package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/symbolicator/cache"
)

// blobSource serves fixed bytes at every location and counts fetches.
type blobSource struct {
	data    []byte
	fetches atomic.Int32
}

func (s *blobSource) ID() string { return "blob" }
func (s *blobSource) Candidates(context.Context, FileID, []FileType) []Location {
	return []Location{{SourceID: "blob", Type: FilePDB, Path: "x"}}
}
func (s *blobSource) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	s.fetches.Add(1)
	// Small writes, as a network copy makes them.
	for b := s.data; len(b) > 0; {
		n := min(len(b), 1000)
		if _, err := w.Write(b[:n]); err != nil {
			return fmt.Errorf("sources: blob: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func TestDownloadLimited(t *testing.T) {
	plain := compressible(50_000, 3)
	bomb := gzipped(make([]byte, 64<<20)) // 64 MiB of zeros in ~64 KiB
	cab := writeCAB(t, true, false, map[string][]byte{"crash.pdb": plain}, []string{"crash.pdb"})
	tests := []struct {
		name    string
		data    []byte
		max     int64
		wantErr bool
		want    []byte
	}{
		{"raw exactly at limit", plain, int64(len(plain)), false, plain},
		{"raw over limit", plain, int64(len(plain)) - 1, true, nil},
		{"no limit", plain, 0, false, plain},
		{"gzip bomb", bomb, 1 << 20, true, nil},
		{"gzip exactly at limit", gzipped(plain), int64(len(plain)), false, plain},
		{"gzip output over limit", gzipped(plain), int64(len(plain)) - 1, true, nil},
		{"zstd output over limit", zstded(plain), int64(len(plain)) - 1, true, nil},
		{"zstd exactly at limit", zstded(plain), int64(len(plain)), false, plain},
		{"cab output over limit", cab, int64(len(plain)) - 1, true, nil},
		{"cab exactly at limit", cab, int64(len(plain)), false, plain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.max > 0 && int64(len(tc.data)) > tc.max && !tc.wantErr {
				t.Fatal("bad test: raw data above the cap")
			}
			dir := t.TempDir()
			dst := filepath.Join(dir, "out")
			src := &blobSource{data: tc.data}
			err := DownloadLimited(t.Context(), src, src.Candidates(t.Context(), FileID{}, nil)[0], dst, tc.max)
			if tc.wantErr {
				if !errors.Is(err, ErrTooLarge) || StatusOf(err) != StatusTooLarge || StatusOf(err).String() != "toolarge" {
					t.Fatalf("err %v, want ErrTooLarge", err)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("refused download left %v", ents)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dst); !bytes.Equal(b, tc.want) {
				t.Errorf("got %d bytes, want %d", len(b), len(tc.want))
			}
		})
	}
}

func TestCachedFetchLimited(t *testing.T) {
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	src := &blobSource{data: gzipped(make([]byte, 1<<20))}
	loc := src.Candidates(t.Context(), FileID{}, nil)[0]
	fetch := CachedFetchLimited(c, 1, 1000)
	for i := range 2 {
		_, err := fetch(t.Context(), src, loc)
		if !errors.Is(err, ErrTooLarge) || StatusOf(err) != StatusTooLarge {
			t.Fatalf("fetch %d: %v", i, err)
		}
	}
	if n := src.fetches.Load(); n != 1 {
		t.Errorf("the refusal was not remembered: %d fetches", n)
	}
	// Find lists the remembered refusal as "toolarge".
	cands, best := Find(t.Context(), []Source{src}, FileID{}, nil, 1, fetch)
	if best != -1 || cands[0].Status != StatusTooLarge || !strings.Contains(cands[0].Reason, "too large") {
		t.Errorf("Find: %d %+v", best, cands)
	}
	// A file cached without a cap is refused under one.
	small := &blobSource{data: []byte("0123456789")}
	if p, err := CachedFetch(c, 2)(t.Context(), small, loc); err != nil || p == "" {
		t.Fatalf("uncapped: %q %v", p, err)
	}
	if _, err := CachedFetchLimited(c, 2, 5)(t.Context(), small, loc); !errors.Is(err, ErrTooLarge) {
		t.Errorf("cached file over the cap: %v", err)
	}
	if p, err := CachedFetchLimited(c, 2, 10)(t.Context(), small, loc); err != nil || p == "" {
		t.Errorf("cached file at the cap: %q %v", p, err)
	}
}

func TestStatusNamesKept(t *testing.T) {
	want := []string{"unknown", "ok", "notfound", "permissiondenied", "error", "toolarge"}
	for i, w := range want {
		if got := Status(i).String(); got != w {
			t.Errorf("Status(%d) = %q, want %q", i, got, w)
		}
	}
}
