package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
)

// Companion is a binary paired with its separate debug file: the binary's
// identity (debug id, code id, name) with the debug file's symbols and
// debug information, which is what a symbol server should serve for it.
type Companion struct {
	debugfiles.Object
	Debug debugfiles.Object
}

// Features implements debugfiles.Object: the union of both files'.
func (c *Companion) Features() debugfiles.Features {
	return c.Object.Features() | c.Debug.Features()
}

// DebugSession implements debugfiles.Object with the debug file's session.
func (c *Companion) DebugSession() (debugfiles.DebugSession, error) {
	return c.Debug.DebugSession()
}

// WithDebugFile looks for the separate debug file of an ELF object that has
// no debug information of its own (by build id under each of dirs' .build-id
// trees, then by .gnu_debuglink name beside the binary and in dirs, as gdb
// does) and pairs the two. Objects that need no companion, or whose
// companion is not found, are returned unchanged; the archive of a found
// debug file is added to a, so a.Close releases it.
//
// A PE image is paired with the PDB its CodeView record names: the file of
// that name beside the image, then in each of dirs, accepted only when its
// debug id matches the image's (a stale PDB of an older build is not).
func (a *Archive) WithDebugFile(obj debugfiles.Object, dirs []string) (debugfiles.Object, error) {
	if p, ok := obj.(*pe.Object); ok {
		return a.withPDB(p, dirs)
	}
	e, ok := obj.(*elf.Object)
	if !ok || obj.Features()&debugfiles.FeatureDebug != 0 {
		return obj, nil
	}
	path, err := e.FindDebugFile(dirs)
	if errors.Is(err, elf.ErrNotFound) {
		return obj, nil
	}
	if err != nil {
		return nil, err
	}
	dbg, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, dbg)
	if dbg.DebugID() != obj.DebugID() {
		return obj, nil
	}
	return &Companion{Object: obj, Debug: dbg}, nil
}

// withPDB pairs a PE image with its PDB; see WithDebugFile.
func (a *Archive) withPDB(img *pe.Object, dirs []string) (debugfiles.Object, error) {
	name := img.DebugFile()
	if name == "" || !strings.EqualFold(filepath.Ext(pdbBase(name)), ".pdb") {
		return img, nil
	}
	base := pdbBase(name)
	candidates := []string{filepath.Join(filepath.Dir(a.Path), base)}
	for _, d := range dirs {
		candidates = append(candidates, filepath.Join(d, base))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		dbg, err := pdb.Open(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		if dbg.DebugID() != img.DebugID() {
			dbg.Close()
			continue
		}
		a.closers = append(a.closers, dbg)
		return &Companion{Object: img, Debug: dbg}, nil
	}
	return img, nil
}

// pdbBase is the file name of a CodeView PDB path, which a Windows linker
// writes with backslashes.
func pdbBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
