// Package loader opens any debug file Cairn reads: it sniffs the format and
// returns the objects inside (one, or one per architecture of a fat Mach-O
// file or dSYM bundle) behind the debugfiles.Object interface.
package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/macho"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
)

// Archive is an opened debug file and the objects it contains.
type Archive struct {
	Path    string
	Format  debugfiles.Format
	Objects []debugfiles.Object
	closers []io.Closer
}

// Close releases every object of the archive.
func (a *Archive) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c.Close())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// ErrNotYetSupported reports a format Cairn recognises but cannot read yet.
var ErrNotYetSupported = errors.New("format recognised but not readable yet")

// Sniff names the format of a file from its first bytes.
func Sniff(head []byte) debugfiles.Format {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return debugfiles.FormatELF
	case bytes.HasPrefix(head, []byte("MODULE ")):
		return debugfiles.FormatBreakpad
	case bytes.HasPrefix(head, []byte("Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00")):
		return debugfiles.FormatPDB
	case bytes.HasPrefix(head, []byte("MZ")):
		return debugfiles.FormatPE
	case len(head) >= 8:
		switch binary.BigEndian.Uint32(head) {
		case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe:
			return debugfiles.FormatMachO
		case 0xcafebabe:
			// Also the magic of Java class files; a fat Mach-O header holds
			// a small architecture count where a class file has its version.
			if n := binary.BigEndian.Uint32(head[4:]); n > 0 && n < 32 {
				return debugfiles.FormatMachO
			}
		}
	}
	return debugfiles.FormatUnknown
}

// Open opens path, which may be a file or a dSYM bundle directory.
func Open(path string) (*Archive, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	a := &Archive{Path: path}
	if st.IsDir() {
		return a.openMachO(path)
	}
	head := make([]byte, 64)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	a.Format = Sniff(head[:n])
	switch a.Format {
	case debugfiles.FormatELF:
		o, err := elf.Open(path)
		if err != nil {
			return nil, err
		}
		a.Objects, a.closers = []debugfiles.Object{o}, []io.Closer{o}
	case debugfiles.FormatMachO:
		return a.openMachO(path)
	case debugfiles.FormatBreakpad:
		o, err := breakpad.Open(path)
		if err != nil {
			return nil, err
		}
		a.Objects, a.closers = []debugfiles.Object{o}, []io.Closer{o}
	case debugfiles.FormatPE:
		o, err := pe.Open(path)
		if err != nil {
			return nil, err
		}
		a.Objects, a.closers = []debugfiles.Object{o}, []io.Closer{o}
	case debugfiles.FormatPDB:
		o, err := pdb.Open(path)
		if err != nil {
			return nil, err
		}
		a.Objects, a.closers = []debugfiles.Object{o}, []io.Closer{o}
	default:
		return nil, fmt.Errorf("%s: %w (not ELF, Mach-O, PE, PDB or a Breakpad .sym)", path, debugfiles.ErrUnknownFormat)
	}
	return a, nil
}

func (a *Archive) openMachO(path string) (*Archive, error) {
	objs, err := macho.Open(path)
	if err != nil {
		return nil, err
	}
	a.Format = debugfiles.FormatMachO
	for _, o := range objs {
		a.Objects = append(a.Objects, o)
		a.closers = append(a.closers, o)
	}
	return a, nil
}
