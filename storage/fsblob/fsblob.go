// Package fsblob stores blobs as files in a directory: the embedded blob
// backend. Each Put writes a temporary file, fsyncs it, renames it over the
// final name and fsyncs the directory, so a blob is either wholly present
// or absent after a crash, and present for certain once Put returns.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
)

// Store is a blob.Store over a directory tree: key "a/b/c" is the file
// DIR/a/b/c, or, when composed from other blobs (Compose), the directory
// DIR/a/b/c~ of links to their files. Temporary files live in DIR/.tmp,
// which keys cannot name (segments starting with a dot are allowed, but
// ".tmp" at the top level is reserved and refused).
type Store struct {
	dir string
	tmp string
}

var _ blob.Store = (*Store)(nil)

// staleTemp is how old a temporary file must be before Open removes it:
// another process (a running server, while a command such as `cairn token
// create` opens the same directory) may be writing the younger ones.
const staleTemp = time.Hour

// Open prepares dir (creating it when missing) and removes temporary files
// a crash left behind, once they are older than any write in progress.
func Open(dir string) (*Store, error) {
	tmp := filepath.Join(dir, ".tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("fsblob: clean %s: %w", tmp, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
				return nil, fmt.Errorf("fsblob: clean %s: %w", tmp, err)
			}
		}
	}
	return &Store{dir: dir, tmp: tmp}, nil
}

func (s *Store) path(key string) (string, error) {
	if !blob.ValidKey(key) || key == ".tmp" || len(key) > 4 && key[:5] == ".tmp/" {
		return "", fmt.Errorf("fsblob: %q: %w", key, blob.ErrInvalidKey)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsblob: put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("fsblob: put %s: sync dir: %w", key, err)
	}
	// The new file shadows an older composition of the key, which would
	// only hold its parts' bytes from now on.
	if err := s.removeComposed(p); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	return nil
}

// Open implements blob.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsblob: open %s: %w", key, err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		c, err := openComposed(p + composedSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("fsblob: open %s: %w", key, blob.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("fsblob: open %s: %w", key, err)
		}
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fsblob: open %s: %w", key, err)
	}
	return f, nil
}

// Size implements blob.Store.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fsblob: size %s: %w", key, err)
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		n, _, err := composedSize(p + composedSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("fsblob: size %s: %w", key, blob.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("fsblob: size %s: %w", key, err)
		}
		return n, nil
	}
	if err == nil && st.IsDir() {
		return 0, fmt.Errorf("fsblob: size %s: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("fsblob: size %s: %w", key, err)
	}
	return st.Size(), nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: delete %s: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: delete %s: %w", key, err)
	}
	if err := s.removeComposed(p); err != nil {
		return fmt.Errorf("fsblob: delete %s: %w", key, err)
	}
	return nil
}

// mkdirAllSync is os.MkdirAll that also syncs the parent of every directory
// it creates, so the new path survives a crash together with the blob.
func mkdirAllSync(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
