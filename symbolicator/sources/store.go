package sources

import (
	"context"
	"fmt"
	"io"
)

// UploadStore is what the internal store of uploaded debug files must offer
// for lookups; the storage package implements it. Keys are whatever the
// store uses (a blob id); Open returns ErrNotFound for an unknown key.
type UploadStore interface {
	// Lookup lists the keys of uploaded files of type t matching id, best
	// first.
	Lookup(ctx context.Context, id FileID, t FileType) ([]string, error)
	// Open returns the content of one key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Uploaded is the source of files uploaded to Cairn itself (the "sentry"
// source type of the Symbolicator API).
type Uploaded struct {
	id      string
	store   UploadStore
	filters Filters
}

// NewUploaded returns a source over the upload store.
func NewUploaded(id string, store UploadStore, filters Filters) *Uploaded {
	return &Uploaded{id: id, store: store, filters: filters}
}

// ID implements Source.
func (s *Uploaded) ID() string { return s.id }

// Candidates implements Source. The store is asked here (under ctx), because uploaded
// files have no layout to compute paths from; a failing lookup yields no
// candidates and the failure shows when nothing is found.
func (s *Uploaded) Candidates(ctx context.Context, id FileID, types []FileType) []Location {
	var out []Location
	for _, t := range types {
		if !s.filters.Allows(id, t) {
			continue
		}
		keys, err := s.store.Lookup(ctx, id, t)
		if err != nil {
			continue
		}
		for _, k := range keys {
			out = append(out, Location{SourceID: s.id, Type: t, Path: k})
		}
	}
	return out
}

// Fetch implements Source.
func (s *Uploaded) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	r, err := s.store.Open(ctx, loc.Path)
	if err != nil {
		return fmt.Errorf("sources: %s: open %s: %w", s.id, loc.Path, err)
	}
	defer r.Close()
	if _, err := io.Copy(w, contextReader{ctx, r}); err != nil {
		return fmt.Errorf("sources: %s: read %s: %w", s.id, loc.Path, err)
	}
	return nil
}
