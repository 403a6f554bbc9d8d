// Package store keeps uploaded debug files: given what package identify
// found in an uploaded file, it stores its bytes once in the blob store (named by their
// SHA-1, so the same file uploaded to several projects or twice is kept
// once), and indexes every object by debug id, code id and architecture.
// The symbolicator's internal source looks files up through it.
package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

// Object is what identification found in one object of a file, as the
// index records it.
type Object = identify.Object

// BlobKey is where a file with this SHA-1 lives in the blob store.
func BlobKey(sha1hex string) string { return "difs/" + sha1hex[:2] + "/" + sha1hex }

// Store adds and finds debug files.
type Store struct {
	Blobs blob.Store
	Index meta.DebugFiles
}

// Add stores the file at p (already verified to have the SHA-1 checksum)
// for a project and indexes the given objects. The bytes are written once:
// a blob already present under the checksum is reused. With consume, the
// file may be moved into the blob store instead of copied (the caller's
// temporary file is then gone).
func (s *Store) Add(ctx context.Context, projectID int64, name, p, checksum string, size int64, objs []Object, consume bool) ([]meta.DebugFile, error) {
	key := BlobKey(checksum)
	if n, err := s.Blobs.Size(ctx, key); err != nil || n != size {
		if fp, ok := s.Blobs.(blob.FilePutter); ok && consume {
			if err := fp.PutFile(ctx, key, p); err != nil {
				return nil, fmt.Errorf("store: put %s: %w", key, err)
			}
			return s.index(ctx, projectID, name, checksum, key, size, objs)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		err = s.Blobs.Put(ctx, key, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("store: put %s: %w", key, err)
		}
	}
	return s.index(ctx, projectID, name, checksum, key, size, objs)
}

func (s *Store) index(ctx context.Context, projectID int64, name, checksum, key string, size int64, objs []Object) ([]meta.DebugFile, error) {
	var out []meta.DebugFile
	for _, o := range objs {
		row, err := s.Index.AddDebugFile(ctx, meta.DebugFile{ProjectID: projectID, Checksum: checksum, BlobKey: key,
			Name: SafeName(name), DebugID: o.DebugID, CodeID: o.CodeID, Arch: o.Arch, Format: o.Format, Kind: o.Kind,
			Features: o.Features, Size: size})
		if err != nil {
			return out, fmt.Errorf("store: %w", err)
		}
		out = append(out, row)
	}
	return out, nil
}

// Lookup finds a project's files by debug id (any spelling debugid.Parse
// reads, Breakpad's included) or, when debugID is empty, by code id.
func (s *Store) Lookup(ctx context.Context, projectID int64, debugID, codeID string) ([]meta.DebugFile, error) {
	q := meta.DebugFileQuery{CodeID: strings.ToLower(codeID)}
	if debugID != "" {
		id, err := debugid.Parse(debugID)
		if err != nil {
			return nil, fmt.Errorf("store: debug id %q: %w", debugID, err)
		}
		q = meta.DebugFileQuery{DebugID: id.String()}
	}
	files, err := s.Index.ListDebugFiles(ctx, projectID, q)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return files, nil
}

// Open returns a reader of an indexed file's bytes.
func (s *Store) Open(ctx context.Context, f meta.DebugFile) (io.ReadCloser, error) {
	rc, err := s.Blobs.Open(ctx, f.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", f.DebugID, err)
	}
	return rc, nil
}

// Delete removes one indexed object and frees the blob when no other row
// of any project refers to it.
func (s *Store) Delete(ctx context.Context, projectID int64, f meta.DebugFile) error {
	if err := s.Index.DeleteDebugFile(ctx, projectID, f.ID); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	used, err := s.Index.DebugFileBlobUsed(ctx, f.BlobKey)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !used {
		if err := s.Blobs.Delete(ctx, f.BlobKey); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// SafeName reduces a client-supplied file name to its last path element
// of printable characters, at most 200 bytes, so it can never name another
// path or break a log line or a header.
func SafeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == ".." {
		name = ""
	}
	if len(name) > 200 {
		name = strings.ToValidUTF8(name[:200], "")
	}
	return name
}
