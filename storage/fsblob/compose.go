package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-dev/cairn/storage/blob"
)

var (
	_ blob.Composer = (*Store)(nil)
	_ blob.Lister   = (*Store)(nil)
)

// composedSuffix marks the directory holding a composed blob's parts:
// key "a/b" composed is the directory DIR/a/b~ with one hard link per part,
// named by its index. Keys cannot contain '~', so the name never collides
// with another key's file or directory.
const composedSuffix = "~"

// Compose implements blob.Composer. Every part is hard-linked into a new
// directory that is synced and renamed into place, so no byte is copied,
// the blob appears whole or not at all, and the file system's link counts
// keep a part's bytes for as long as any blob (its own key or a composed
// one) still names them. A part that cannot be linked is copied.
func (s *Store) Compose(ctx context.Context, key string, parts []string) (err error) {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.tmp, "compose-*")
	if err != nil {
		return fmt.Errorf("fsblob: compose %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for i, part := range parts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fsblob: compose %s: %w", key, err)
		}
		src, err := s.path(part)
		if err != nil {
			return fmt.Errorf("fsblob: compose %s: %w", key, err)
		}
		if err := linkOrCopy(src, filepath.Join(tmp, fmt.Sprintf("%06d", i))); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fsblob: compose %s: part %s: %w", key, part, blob.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("fsblob: compose %s: part %s: %w", key, part, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("fsblob: compose %s: sync: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		return fmt.Errorf("fsblob: compose %s: %w", key, err)
	}
	// An older composition of the key is moved out of the way first: a
	// directory cannot be renamed over a non-empty one.
	if err := s.removeComposed(p); err != nil {
		return fmt.Errorf("fsblob: compose %s: %w", key, err)
	}
	if err := os.Rename(tmp, p+composedSuffix); err != nil {
		return fmt.Errorf("fsblob: compose %s: %w", key, err)
	}
	// A plain file under the key would shadow the new blob; it goes only
	// now, so readers see the old bytes or the new ones, never none.
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: compose %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("fsblob: compose %s: sync dir: %w", key, err)
	}
	return nil
}

// linkOrCopy makes dst name the bytes of src: a hard link, or a synced
// copy where the file system refuses one (too many links, no link support).
func linkOrCopy(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// removeComposed deletes the composed blob at path p, if any: renamed into
// the temporary directory first, so a crash midway leaves nothing visible
// half-deleted (Open clears the temporary directory).
func (s *Store) removeComposed(p string) error {
	d := p + composedSuffix
	if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	gone, err := os.MkdirTemp(s.tmp, "delete-*")
	if err != nil {
		return err
	}
	if err := os.Rename(d, filepath.Join(gone, "blob")); err != nil {
		os.Remove(gone)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(gone)
}

// composed is an open composed blob: a reader, ReaderAt and Seeker over
// its parts, like the *os.File Open returns for a plain blob.
type composed struct {
	*io.SectionReader
	files []*os.File
}

func (c *composed) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// openComposed opens the composed blob whose parts are in directory d; a
// missing directory is fs.ErrNotExist. The parts stay readable while open
// even if the blob is deleted meanwhile.
func openComposed(d string) (*composed, error) {
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil, err
	}
	c := &composed{}
	parts := make([]io.ReaderAt, 0, len(ents))
	sizes := make([]int64, 0, len(ents))
	for _, e := range ents { // ReadDir sorts by name: the parts' order
		f, err := os.Open(filepath.Join(d, e.Name()))
		if err == nil {
			var st fs.FileInfo
			if st, err = f.Stat(); err == nil {
				c.files = append(c.files, f)
				parts = append(parts, f)
				sizes = append(sizes, st.Size())
				continue
			}
			f.Close()
		}
		c.Close()
		return nil, err
	}
	cat, err := blob.NewConcat(parts, sizes)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SectionReader = io.NewSectionReader(cat, 0, cat.Size())
	return c, nil
}

// composedSize is the length of the composed blob in directory d, and
// whether another blob still names some of its parts' bytes.
func composedSize(d string) (n int64, shared bool, err error) {
	ents, err := os.ReadDir(d)
	if err != nil {
		return 0, false, err
	}
	for _, e := range ents {
		st, err := e.Info()
		if err != nil {
			return 0, false, err
		}
		n += st.Size()
		shared = shared || links(st) > 1
	}
	return n, shared, nil
}

// List implements blob.Lister.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	root := s.dir
	if prefix = strings.TrimSuffix(prefix, "/"); prefix != "" {
		p, err := s.path(prefix)
		if err != nil {
			return err
		}
		root = p
	}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == s.tmp {
			return fs.SkipDir
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if !strings.HasSuffix(p, composedSuffix) {
				return nil
			}
			st, err := e.Info()
			if err != nil {
				return err
			}
			n, shared, err := composedSize(p)
			if err != nil {
				return err
			}
			if err := fn(blob.Info{Key: strings.TrimSuffix(key, composedSuffix), Size: n, ModTime: st.ModTime(), Shared: shared}); err != nil {
				return err
			}
			return fs.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		st, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted during the walk
		}
		if err != nil {
			return err
		}
		return fn(blob.Info{Key: key, Size: st.Size(), ModTime: st.ModTime(), Shared: links(st) > 1})
	})
	if err != nil {
		return fmt.Errorf("fsblob: list %s: %w", prefix, err)
	}
	return nil
}
