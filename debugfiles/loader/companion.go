package loader

import (
	"errors"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/elf"
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
func (a *Archive) WithDebugFile(obj debugfiles.Object, dirs []string) (debugfiles.Object, error) {
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
