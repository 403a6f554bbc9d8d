package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// Source returns the upload store of one project's files, for
// sources.NewUploaded. Its keys are blob keys: they name the file's bytes
// (their SHA-1), so the symbolicator's cache, keyed by location, can share
// a download and its derived caches between projects holding the same
// file without ever serving one project's file to another, since only
// Lookup hands keys out.
//
// The returned store remembers the index rows it read, because the
// symbolicator asks once per file type and the answer is the same rows
// each time; make one per request so that new uploads are seen.
func (s *Store) Source(projectID int64) sources.UploadStore {
	return &projectFiles{s: s, projectID: projectID, rows: map[string][]meta.DebugFile{}}
}

// projectFiles is the upload store of one project.
type projectFiles struct {
	s         *Store
	projectID int64

	mu   sync.Mutex
	rows map[string][]meta.DebugFile // "d:"+debug id or "c:"+code id → index rows
}

var _ sources.UploadStore = (*projectFiles)(nil)

// Lookup implements sources.UploadStore: the files indexed under the
// module's debug id, then those under its code id (PE executables are
// known by their code id), that can serve as type t.
func (p *projectFiles) Lookup(ctx context.Context, id sources.FileID, t sources.FileType) ([]string, error) {
	var keys []string
	add := func(rows []meta.DebugFile) {
		for _, f := range rows {
			if fits(f, t) && !slices.Contains(keys, f.BlobKey) {
				keys = append(keys, f.BlobKey)
			}
		}
	}
	if !id.DebugID.IsZero() {
		rows, err := p.find(ctx, "d:"+id.DebugID.String(), id.DebugID.String(), "")
		if err != nil {
			return nil, err
		}
		add(rows)
	}
	if id.CodeID != "" {
		rows, err := p.find(ctx, "c:"+strings.ToLower(id.CodeID), "", id.CodeID)
		if err != nil {
			return nil, err
		}
		add(rows)
	}
	return keys, nil
}

// find returns the index rows of a debug id or code id, reading them once.
func (p *projectFiles) find(ctx context.Context, memo, debugID, codeID string) ([]meta.DebugFile, error) {
	p.mu.Lock()
	rows, ok := p.rows[memo]
	p.mu.Unlock()
	if ok {
		return rows, nil
	}
	rows, err := p.s.Lookup(ctx, p.projectID, debugID, codeID)
	if err != nil {
		return nil, fmt.Errorf("store: project %d: %w", p.projectID, err)
	}
	p.mu.Lock()
	p.rows[memo] = rows
	p.mu.Unlock()
	return rows, nil
}

// Open implements sources.UploadStore.
func (p *projectFiles) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	// Keys come from Lookup; refusing anything else keeps a malformed key
	// from reaching minidumps and attachments kept in the same blob store.
	if !strings.HasPrefix(key, "difs/") {
		return nil, fmt.Errorf("store: key %q: %w", key, sources.ErrNotFound)
	}
	rc, err := p.s.Blobs.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("store: %s: %w: %w", key, sources.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", key, err)
	}
	return rc, nil
}

// fits reports whether an indexed object can serve as file type t. The
// index records each object's container, kind and features: a linked
// binary is a code file, and a debug file too when it carries debug
// information; a debug companion is a debug file; an object of unknown
// kind is offered as both, since the symbolicator checks what it reads.
func fits(f meta.DebugFile, t sources.FileType) bool {
	code := f.Kind == "exe" || f.Kind == "lib" || f.Kind == "rel"
	dbg := f.Kind == "dbg"
	unknown := !code && !dbg
	withDebug := slices.Contains(f.Features, "debug")
	switch t {
	case sources.FileELFCode:
		return f.Format == "elf" && (code || unknown)
	case sources.FileELFDebug:
		return f.Format == "elf" && (dbg || unknown || withDebug)
	case sources.FileMachCode:
		return f.Format == "macho" && (code || unknown)
	case sources.FileMachDebug:
		return f.Format == "macho" && (dbg || unknown || withDebug)
	case sources.FilePE:
		return f.Format == "pe"
	case sources.FilePDB:
		return f.Format == "pdb"
	case sources.FileWasmCode:
		return f.Format == "wasm" && (code || unknown)
	case sources.FileWasmDebug:
		return f.Format == "wasm" && (dbg || unknown || withDebug)
	case sources.FileBreakpad:
		return f.Format == "breakpad"
	case sources.FileSourceBundle:
		return f.Format == "sourcebundle"
	}
	return false
}
