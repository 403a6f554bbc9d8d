// Package blob defines the store for large immutable byte strings: minidumps
// and other attachments now, debug files and derived caches later.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound is returned for keys that hold no blob.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned for keys that ValidKey rejects.
var ErrInvalidKey = errors.New("blob: invalid key")

// Store keeps blobs under slash-separated keys. Put is durable when it
// returns: a crash right after loses nothing, which is what lets ingest
// answer 200 before the worker has seen the data. Writing an existing key
// replaces it atomically; readers see the old or the new blob, never a mix.
type Store interface {
	// Put stores the bytes read from r under key.
	Put(ctx context.Context, key string, r io.Reader) error
	// Open returns a reader of the blob; the caller closes it.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Size returns the length of the blob in bytes.
	Size(ctx context.Context, key string) (int64, error)
	// Delete removes the blob; deleting a missing key is not an error, so
	// cleanup can be retried.
	Delete(ctx context.Context, key string) error
}

// ValidKey reports whether key is usable by every backend: 1–512 bytes of
// [A-Za-z0-9._-] segments separated by single slashes, no segment "." or
// "..", no leading or trailing slash. The rule is strict so a key maps to a
// file path and an object name without escaping.
func ValidKey(key string) bool {
	if key == "" || len(key) > 512 {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			default:
				return false
			}
		}
	}
	return true
}

// ReadAll reads a whole blob. Callers use it for blobs they know to be
// bounded (ingest limits attachments), never for debug files.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("blob: read %s: %w", key, err)
	}
	return b, nil
}
