package fsblob

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-dev/cairn/storage/blob"
)

var _ blob.FilePutter = (*Store)(nil)

// PutFile implements blob.FilePutter: the file is synced and renamed into
// place, so a blob assembled beside the store is written once, not twice.
// A file on another file system is copied with Put.
func (s *Store) PutFile(ctx context.Context, key, path string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsblob: put %s: sync: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		f.Close()
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	if err := os.Rename(path, p); err != nil {
		// Most likely another file system: copy instead.
		if _, serr := f.Seek(0, 0); serr != nil {
			f.Close()
			return fmt.Errorf("fsblob: put %s: %w", key, serr)
		}
		err = s.Put(ctx, key, f)
		f.Close()
		if err == nil {
			os.Remove(path)
		}
		return err
	}
	f.Close()
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("fsblob: put %s: sync dir: %w", key, err)
	}
	if err := s.removeComposed(p); err != nil {
		return fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	return nil
}
