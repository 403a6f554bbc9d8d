package store

import (
	"context"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

// AddParts is Add for a file that is already in the blob store as the
// blobs under parts, in order (upload chunks whose joined bytes were
// verified to have the SHA-1 checksum). A store that can compose blobs
// (blob.Composer) makes the file from them without copying a byte; others
// get one copy. The parts' keys may be deleted afterwards: the stored file
// keeps its bytes.
func (s *Store) AddParts(ctx context.Context, projectID int64, name, checksum string, size int64, parts []string, objs []Object) ([]meta.DebugFile, error) {
	key := BlobKey(checksum)
	if n, err := s.Blobs.Size(ctx, key); err != nil || n != size {
		if err := s.compose(ctx, key, parts); err != nil {
			return nil, fmt.Errorf("store: put %s: %w", key, err)
		}
	}
	return s.index(ctx, projectID, name, checksum, key, size, objs)
}

func (s *Store) compose(ctx context.Context, key string, parts []string) error {
	if c, ok := s.Blobs.(blob.Composer); ok {
		return c.Compose(ctx, key, parts)
	}
	readers := make([]io.Reader, 0, len(parts))
	for _, p := range parts {
		rc, err := s.Blobs.Open(ctx, p)
		if err != nil {
			return err
		}
		defer rc.Close()
		readers = append(readers, rc)
	}
	return s.Blobs.Put(ctx, key, io.MultiReader(readers...))
}
