// Package store keeps uploaded debug files: it identifies what an uploaded
// file contains, stores its bytes once in the blob store (named by their
// SHA-1, so the same file uploaded to several projects or twice is kept
// once), and indexes every object by debug id, code id and architecture.
// The symbolicator's internal source looks files up through it.
package store

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

// ErrNotDebugFile is returned for uploads that hold no usable debug object;
// its message is meant for the client.
var ErrNotDebugFile = errors.New("not a debug information file")

// Object is what identification found in one object of a file.
type Object struct {
	DebugID  string
	CodeID   string
	Arch     string
	Format   string
	Kind     string
	Features []string
}

// Identify opens the file at path and lists its objects. It rejects files
// that are no debug file, and objects without a debug id or without any
// symbols, debug or unwind information, since nothing could use them.
func Identify(p string) ([]Object, error) {
	if objs, ok, err := identifySourceBundle(p); ok || err != nil {
		return objs, err
	}
	a, err := loader.Open(p)
	if err != nil {
		if errors.Is(err, debugfiles.ErrUnknownFormat) {
			return nil, fmt.Errorf("%w: the file is not ELF, Mach-O, PE, PDB, a Breakpad .sym or a source bundle", ErrNotDebugFile)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotDebugFile, err)
	}
	defer a.Close()
	return describe(a.Objects)
}

// describe lists what the index records of each object, refusing objects
// nothing could use.
func describe(objs []debugfiles.Object) ([]Object, error) {
	var out []Object
	for _, o := range objs {
		if o.DebugID().IsZero() {
			return nil, fmt.Errorf("%w: the %s object has no debug identifier (stripped build id?)", ErrNotDebugFile, o.Arch())
		}
		if o.Features() == 0 {
			return nil, fmt.Errorf("%w: the %s object has no symbols, debug or unwind information", ErrNotDebugFile, o.Arch())
		}
		format := o.Format().String()
		out = append(out, Object{DebugID: o.DebugID().String(), CodeID: strings.ToLower(o.CodeID()), Arch: o.Arch(),
			Format: format, Kind: o.Kind().String(), Features: o.Features().Names()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the file contains no objects", ErrNotDebugFile)
	}
	return out, nil
}

// identifySourceBundle recognizes a Sentry source bundle: a zip archive with
// a manifest.json naming the debug id its sources belong to.
func identifySourceBundle(p string) ([]Object, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	var head [4]byte
	_, err = io.ReadFull(f, head[:])
	f.Close()
	if err != nil || string(head[:]) != "PK\x03\x04" {
		return nil, false, nil
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		return nil, true, fmt.Errorf("%w: broken zip archive: %v", ErrNotDebugFile, err)
	}
	defer z.Close()
	objs, err := sourceBundleObjects(&z.Reader)
	return objs, true, err
}

// sourceBundleObjects reads the debug id a source bundle's manifest names.
func sourceBundleObjects(z *zip.Reader) ([]Object, error) {
	for _, zf := range z.File {
		if zf.Name != "manifest.json" {
			continue
		}
		m, err := readManifest(zf)
		if err != nil {
			return nil, fmt.Errorf("%w: source bundle manifest: %v", ErrNotDebugFile, err)
		}
		id, err := debugid.Parse(m.Attributes.DebugID)
		if err != nil || id.IsZero() {
			return nil, fmt.Errorf("%w: source bundle without a debug_id attribute", ErrNotDebugFile)
		}
		arch := m.Attributes.Arch
		if arch == "" {
			arch = "unknown"
		}
		return []Object{{DebugID: id.String(), Arch: arch, Format: "sourcebundle", Kind: "src", Features: []string{"sources"}}}, nil
	}
	return nil, fmt.Errorf("%w: zip archive without a source bundle manifest.json", ErrNotDebugFile)
}

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
