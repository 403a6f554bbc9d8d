package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Filesystem is a symbol store in a local directory.
type Filesystem struct {
	id      string
	root    string
	layout  DirectoryLayout
	filters Filters
}

// NewFilesystem returns a source reading the directory root.
func NewFilesystem(id, root string, layout DirectoryLayout, filters Filters) *Filesystem {
	return &Filesystem{id: id, root: root, layout: layout, filters: filters}
}

// ID implements Source.
func (s *Filesystem) ID() string { return s.id }

// Candidates implements Source.
func (s *Filesystem) Candidates(ctx context.Context, id FileID, types []FileType) []Location {
	return layoutCandidates(s.id, s.layout, s.filters, "", id, types)
}

// Fetch implements Source.
func (s *Filesystem) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	// Layout paths come from names in crash reports; refuse any that would
	// leave the root even though basename already strips separators.
	rel := filepath.FromSlash(loc.Path)
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("sources: %s: path %q leaves the root", s.id, loc.Path)
	}
	f, err := os.Open(filepath.Join(s.root, rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "not a directory") {
			return fmt.Errorf("sources: %s: %s: %w", s.id, loc.Path, ErrNotFound)
		}
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("sources: %s: %s: %w", s.id, loc.Path, ErrDenied)
		}
		return fmt.Errorf("sources: %s: %w", s.id, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("sources: %s: %s is a directory: %w", s.id, loc.Path, ErrNotFound)
	}
	if _, err := io.Copy(w, contextReader{ctx, f}); err != nil {
		return fmt.Errorf("sources: %s: read %s: %w", s.id, loc.Path, err)
	}
	return nil
}

// contextReader stops a long copy once its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
