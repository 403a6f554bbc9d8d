package store

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/macho"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

// IdentifyReaderAt is Identify for a file of the given size read through r,
// such as one still lying in the blob store as its upload chunks; name is
// used in messages. It applies the same rules as Identify.
func IdentifyReaderAt(r io.ReaderAt, size int64, name string) ([]Object, error) {
	head := make([]byte, 64)
	n, err := r.ReadAt(head[:min(int64(len(head)), size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("store: %s: %w", name, err)
	}
	head = head[:n]
	if string(head[:min(n, 4)]) == "PK\x03\x04" {
		z, err := zip.NewReader(r, size)
		if err != nil {
			return nil, fmt.Errorf("%w: broken zip archive: %v", ErrNotDebugFile, err)
		}
		return sourceBundleObjects(z)
	}
	var objs []debugfiles.Object
	switch loader.Sniff(head) {
	case debugfiles.FormatELF:
		var o *elf.Object
		if o, err = elf.NewObject(r, size, name); err == nil {
			objs = append(objs, o)
		}
	case debugfiles.FormatMachO:
		var mos []*macho.Object
		mos, err = macho.NewObjects(r, size, name)
		for _, o := range mos {
			objs = append(objs, o)
		}
	case debugfiles.FormatBreakpad:
		var o *breakpad.Object
		if o, err = breakpad.NewObject(r, size, name); err == nil {
			objs = append(objs, o)
		}
	case debugfiles.FormatPE:
		var o *pe.Object
		if o, err = pe.NewObject(r, size, name); err == nil {
			objs = append(objs, o)
		}
	case debugfiles.FormatPDB:
		var o *pdb.Object
		if o, err = pdb.NewObject(r, size, name); err == nil {
			objs = append(objs, o)
		}
	default:
		err = debugfiles.ErrUnknownFormat
	}
	defer func() {
		for _, o := range objs {
			if c, ok := o.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	if err != nil {
		if errors.Is(err, debugfiles.ErrUnknownFormat) {
			return nil, fmt.Errorf("%w: the file is not ELF, Mach-O, PE, PDB, a Breakpad .sym or a source bundle", ErrNotDebugFile)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotDebugFile, err)
	}
	return describe(objs)
}

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
