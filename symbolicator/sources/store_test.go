package sources

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/cairn-dev/cairn/symbolicator/cache"
)

// memStore is an upload store holding files by debug id and type.
type memStore map[string][]byte

func (m memStore) Lookup(_ context.Context, id FileID, t FileType) ([]string, error) {
	k := id.DebugID.String() + "/" + t.String()
	if _, ok := m[k]; ok {
		return []string{k}, nil
	}
	return nil, nil
}

func (m memStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("memstore: %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestUploadedSource(t *testing.T) {
	pe, _, _, _ := exampleIDs(t)
	store := memStore{pe.DebugID.String() + "/breakpad": gzipped([]byte("MODULE windows x86_64 X crash.pdb\n"))}
	src := NewUploaded("sentry:project", store, Filters{})
	c := src.Candidates(t.Context(), pe, FileTypesFor(ObjectPE))
	if len(c) != 1 || c[0].Type != FileBreakpad {
		t.Fatalf("candidates %+v", c)
	}
	b, err := download(t, src, c[0])
	if err != nil || !bytes.HasPrefix(b, []byte("MODULE windows")) {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := download(t, src, Location{SourceID: src.ID(), Path: "nope"}); StatusOf(err) != StatusNotFound {
		t.Errorf("unknown key: %v", err)
	}
}

// deniedSource refuses everything, counting requests.
type deniedSource struct{ n int }

func (d *deniedSource) ID() string { return "denied" }
func (d *deniedSource) Candidates(context.Context, FileID, []FileType) []Location {
	return []Location{{SourceID: "denied", Type: FilePDB, Path: "a.pdb/X/a.pdb"}}
}
func (d *deniedSource) Fetch(context.Context, Location, io.Writer) error {
	d.n++
	return fmt.Errorf("HTTP 403: %w", ErrDenied)
}

func TestCachedFetchKeepsDenied(t *testing.T) {
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	src := &deniedSource{}
	for range 2 {
		cands, best := Find(t.Context(), []Source{src}, FileID{}, nil, 1, CachedFetch(c, 1))
		if best != -1 || cands[0].Status != StatusDenied || cands[0].Reason == "" {
			t.Fatalf("%+v", cands)
		}
	}
	if src.n != 1 {
		t.Errorf("refusal not cached: %d fetches", src.n)
	}
}
