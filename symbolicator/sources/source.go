package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// ErrNotFound reports that a source does not hold a file at a location.
var ErrNotFound = errors.New("sources: not found")

// ErrDenied reports that a source refused access (HTTP 401/403, S3
// AccessDenied); it is reported apart from "not found" because it usually
// means wrong credentials in the source's configuration.
var ErrDenied = errors.New("sources: access denied")

// ErrTooLarge reports that a download, or the file unwrapped from it,
// exceeded the size cap given to DownloadLimited.
var ErrTooLarge = errors.New("sources: file too large")

// Location is one place a source may hold a file: the source, the file
// type looked for and the path under the source's root.
type Location struct {
	SourceID string
	Type     FileType
	Path     string
}

// String is "source:path", the form shown in candidate lists.
func (l Location) String() string { return l.SourceID + ":" + l.Path }

// Status is the outcome of looking at one location, as the candidates list
// of a symbolication response reports it.
type Status uint8

// Statuses.
const (
	StatusUnknown Status = iota
	StatusFound
	StatusNotFound
	StatusDenied
	StatusError
	// StatusTooLarge is a file refused for exceeding the download cap.
	StatusTooLarge
)

var statusNames = [...]string{"unknown", "ok", "notfound", "permissiondenied", "error", "toolarge"}

// String is the status name of Symbolicator's candidate lists.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// StatusOf classifies a Fetch error.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return StatusFound
	case errors.Is(err, ErrNotFound):
		return StatusNotFound
	case errors.Is(err, ErrDenied):
		return StatusDenied
	case errors.Is(err, ErrTooLarge):
		return StatusTooLarge
	}
	return StatusError
}

// Candidate is a location together with what happened when it was tried.
type Candidate struct {
	Location
	Status Status
	// Reason explains a StatusError or StatusDenied.
	Reason string
	// File is the local copy of a found candidate.
	File string
}

// Source is one configured symbol source. Implementations are safe for
// concurrent use: the service fans out over sources and candidates.
type Source interface {
	// ID names the source in configuration and candidate lists.
	ID() string
	// Candidates lists where the source may hold files of the given types
	// for id, highest priority first, after the source's filters.
	Candidates(ctx context.Context, id FileID, types []FileType) []Location
	// Fetch writes the raw (possibly compressed) bytes at loc to w. It
	// returns an error matching ErrNotFound or ErrDenied when the source
	// answers so.
	Fetch(ctx context.Context, loc Location, w io.Writer) error
}

// Filters narrow what a source is asked for.
type Filters struct {
	// FileTypes, when not empty, are the only types looked up.
	FileTypes []FileType
	// PathPatterns, when not empty, must match the module's code or debug
	// file path (case-insensitively, with '\' read as '/'); '*' and '?' do
	// not stop at '/', so "c:/windows/*" matches everything below.
	PathPatterns []string
	// RequireDebugID skips modules without a debug id.
	RequireDebugID bool
}

// Allows reports whether id and type t pass the filters.
func (f Filters) Allows(id FileID, t FileType) bool {
	if len(f.FileTypes) > 0 {
		ok := false
		for _, ft := range f.FileTypes {
			ok = ok || ft == t
		}
		if !ok {
			return false
		}
	}
	if f.RequireDebugID && id.DebugID.IsZero() {
		return false
	}
	if len(f.PathPatterns) == 0 {
		return true
	}
	for _, p := range f.PathPatterns {
		for _, file := range []string{id.CodeFile, id.DebugFile} {
			if file != "" && globMatch(strings.ToLower(p), strings.ToLower(strings.ReplaceAll(file, `\`, "/"))) {
				return true
			}
		}
	}
	return false
}

// globMatch matches '*' (any run, '/' included), '?' (one byte) and
// literal bytes; "**" is the same as '*'.
func globMatch(pat, s string) bool {
	// Rewrite to a path.Match pattern over a separator-free string so '*'
	// may cross directories; bracket classes keep path.Match's meaning.
	const sep = "\x00"
	p := strings.ReplaceAll(pat, "**", "*")
	ok, err := path.Match(strings.ReplaceAll(p, "/", sep), strings.ReplaceAll(s, "/", sep))
	return err == nil && ok
}

// layoutCandidates is the Candidates of the path-based sources: every
// layout path of every allowed type, highest priority (the plain name
// rather than the compressed one) first.
func layoutCandidates(sourceID string, l DirectoryLayout, f Filters, prefix string, id FileID, types []FileType) []Location {
	var out []Location
	for _, t := range types {
		if !f.Allows(id, t) {
			continue
		}
		ps := Paths(l, t, id)
		for i := len(ps) - 1; i >= 0; i-- {
			out = append(out, Location{SourceID: sourceID, Type: t, Path: prefix + ps[i]})
		}
	}
	return out
}

// Download fetches loc from src into a new file at dst, unwrapping gzip,
// zstd and cabinet downloads, without a size cap; see DownloadLimited.
func Download(ctx context.Context, src Source, loc Location, dst string) error {
	return DownloadLimited(ctx, src, loc, dst, 0)
}

// DownloadLimited fetches loc from src into a new file at dst, unwrapping
// gzip, zstd and cabinet downloads. It writes to dst+".download" first so
// that a failed or cancelled download never leaves a partial dst; the
// caller moves dst into place (the cache renames it atomically).
//
// When maxBytes is positive, both the raw download and the unwrapped file
// are capped at maxBytes: the download stops at the first byte beyond the
// cap, and so does decompression, so a small compressed bomb cannot fill
// the disk. Exceeding the cap returns an error matching ErrTooLarge.
func DownloadLimited(ctx context.Context, src Source, loc Location, dst string, maxBytes int64) error {
	raw := dst + ".download"
	f, err := os.OpenFile(raw, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("sources: download %s: %w", loc, err)
	}
	defer os.Remove(raw)
	cw := &cappedWriter{w: f, max: maxBytes}
	err = src.Fetch(ctx, loc, cw)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("sources: download %s: %w", loc, cerr)
	}
	if cw.over && !errors.Is(err, ErrTooLarge) {
		// A source that dropped the writer's error still must not pass
		// a truncated file on.
		err = fmt.Errorf("sources: download %s: %w (over %d bytes)", loc, ErrTooLarge, maxBytes)
	}
	if err != nil {
		return err
	}
	unwrapped, err := DecompressLimited(raw, dst, maxBytes)
	if err != nil {
		return fmt.Errorf("sources: download %s: %w", loc, err)
	}
	if !unwrapped {
		if err := os.Rename(raw, dst); err != nil {
			return fmt.Errorf("sources: download %s: %w", loc, err)
		}
	}
	return nil
}

// cappedWriter passes writes on until max bytes (when positive) have been
// written; a write that would go beyond fails with ErrTooLarge and writes
// nothing, so the underlying file never exceeds the cap.
type cappedWriter struct {
	w    io.Writer
	max  int64
	n    int64
	over bool
}

// Write implements io.Writer.
func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.max > 0 && c.n+int64(len(p)) > c.max {
		c.over = true
		return 0, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, c.max)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// FetchFunc downloads one location and returns the local file; the
// service passes CachedFetch so downloads go through the cache.
type FetchFunc func(ctx context.Context, src Source, loc Location) (string, error)

// Find tries the candidates of every source, at most parallel at a time,
// and returns every candidate with its status plus the index of the best
// found one (the first in source order, then candidate order) or -1.
// Cancelling ctx stops the remaining downloads.
func Find(ctx context.Context, srcs []Source, id FileID, types []FileType, parallel int, fetch FetchFunc) ([]Candidate, int) {
	type job struct {
		src Source
		loc Location
	}
	var jobs []job
	for _, s := range srcs {
		for _, l := range s.Candidates(ctx, id, types) {
			jobs = append(jobs, job{s, l})
		}
	}
	cands := make([]Candidate, len(jobs))
	var mu sync.Mutex
	best := -1
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i, j := range jobs {
		cands[i].Location = j.loc
		g.Go(func() error {
			mu.Lock()
			skip := best >= 0 && best < i
			mu.Unlock()
			if skip {
				// A better candidate is already found; this one is moot.
				return nil
			}
			file, err := fetch(gctx, j.src, j.loc)
			st := StatusOf(err)
			mu.Lock()
			defer mu.Unlock()
			cands[i].Status = st
			if st == StatusFound {
				cands[i].File = file
			}
			if err != nil && st != StatusNotFound {
				cands[i].Reason = err.Error()
			}
			if st == StatusFound && (best < 0 || i < best) {
				best = i
			}
			return nil
		})
	}
	g.Wait()
	return cands, best
}
