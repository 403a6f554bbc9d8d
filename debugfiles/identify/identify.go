// Package identify tells what a file offered as a debug file holds: for every
// object its debug id, code id, architecture, format, kind and features, or
// why nothing could use it. Uploads are checked with it on both ends: by
// `cairn upload` before sending, and by the server before indexing.
package identify

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/macho"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
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

// File opens the file at path and lists its objects. It rejects files
// that are no debug file, and objects without a debug id or without any
// symbols, debug or unwind information, since nothing could use them.
func File(p string) ([]Object, error) {
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
		return nil, false, fmt.Errorf("identify: %w", err)
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

// ReaderAt is File for a file of the given size read through r,
// such as one still lying in the blob store as its upload chunks; name is
// used in messages. It applies the same rules as File.
func ReaderAt(r io.ReaderAt, size int64, name string) ([]Object, error) {
	head := make([]byte, 64)
	n, err := r.ReadAt(head[:min(int64(len(head)), size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("identify: %s: %w", name, err)
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
