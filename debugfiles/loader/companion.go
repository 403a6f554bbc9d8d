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
	"github.com/cairn-dev/cairn/debugfiles/unwind"
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

var _ unwind.Source = (*Companion)(nil)

// UnwindTables implements unwind.Source with both files' tables, the debug
// file's first: an ELF debug file's .debug_frame is preferred to the
// binary's .eh_frame, as dump_syms prefers it. A PE image and its PDB
// describe different machines' unwinding (the image's exception table for
// x64 and ARM64, the PDB's frame data for x86), so each adds what the
// other lacks.
func (c *Companion) UnwindTables() ([]unwind.Table, error) {
	dbg, err := unwind.Tables(c.Debug)
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", c.Debug.Name(), err)
	}
	bin, err := unwind.Tables(c.Object)
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", c.Object.Name(), err)
	}
	return append(dbg, bin...), nil
}

// SymbolsBesideSession implements debugfiles.SymbolsBeside: they may, as
// the symbols are the binary's and the session the debug file's, two
// files of their own.
func (c *Companion) SymbolsBesideSession() bool { return true }

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

// ImageBeside finds the PE image a PDB describes, as Breakpad's dump_syms
// looks for it when it needs the image's x64 unwind information: the file
// named like the PDB with the extension .exe, then .dll, in the PDB's
// directory, accepted only when its debug id is the PDB's. It returns nil
// when there is none; a found image is added to a, so a.Close releases it.
func (a *Archive) ImageBeside(p *pdb.Object) (*pe.Object, error) {
	stem := strings.TrimSuffix(a.Path, filepath.Ext(a.Path))
	for _, ext := range []string{".exe", ".dll"} {
		c := stem + ext
		if _, err := os.Stat(c); err != nil {
			continue
		}
		img, err := pe.Open(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		if img.DebugID() != p.DebugID() {
			img.Close()
			continue
		}
		a.closers = append(a.closers, img)
		return img, nil
	}
	return nil, nil
}

// pdbBase is the file name of a CodeView PDB path, which a Windows linker
// writes with backslashes.
func pdbBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
