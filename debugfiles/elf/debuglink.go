package elf

import (
	"bytes"
	stdelf "debug/elf"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// maxDebugLinkSize caps the .gnu_debuglink section read (a file name and a
// CRC).
const maxDebugLinkSize = 64 << 10

// ErrNoDebugLink reports a file without a (well-formed) .gnu_debuglink.
var ErrNoDebugLink = errors.New("elf: no .gnu_debuglink")

// ErrDebugLinkMismatch reports a debug file whose CRC-32 differs from the
// one recorded in .gnu_debuglink.
var ErrDebugLinkMismatch = errors.New("elf: debug file CRC does not match .gnu_debuglink")

// ErrNotFound reports that no separate debug file was found.
var ErrNotFound = errors.New("elf: separate debug file not found")

// debugLink is the contents of .gnu_debuglink: a file name without
// directories, NUL, padding to 4 bytes and a CRC-32 in the file's byte order.
type debugLink struct {
	name string
	crc  uint32
	ok   bool
}

func (o *Object) readDebugLink() debugLink {
	s := o.findSection(".gnu_debuglink")
	if s == nil || s.Flags&stdelf.SHF_COMPRESSED != 0 || s.FileSize > maxDebugLinkSize {
		return debugLink{}
	}
	b, err := o.readAt(s.Offset, s.FileSize)
	if err != nil {
		return debugLink{}
	}
	nul := bytes.IndexByte(b, 0)
	if nul <= 0 {
		return debugLink{}
	}
	crcOff := (nul + 1 + 3) &^ 3
	if crcOff+4 > len(b) {
		return debugLink{}
	}
	return debugLink{name: string(b[:nul]), crc: o.f.ByteOrder.Uint32(b[crcOff:]), ok: true}
}

// VerifyDebugLink checks that the CRC-32 of the file at debugFilePath is the
// one this object's .gnu_debuglink records. It returns ErrNoDebugLink when
// there is no link and ErrDebugLinkMismatch when the CRC differs.
func (o *Object) VerifyDebugLink(debugFilePath string) error {
	if !o.link.ok {
		return ErrNoDebugLink
	}
	f, err := os.Open(debugFilePath)
	if err != nil {
		return fmt.Errorf("elf: %w", err)
	}
	defer f.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("elf: %s: %w", debugFilePath, err)
	}
	if got := h.Sum32(); got != o.link.crc {
		return fmt.Errorf("%w: %s has %08x, %s records %08x", ErrDebugLinkMismatch, debugFilePath, got, o.Name(), o.link.crc)
	}
	return nil
}

// FindDebugFile looks for this object's separate debug file the way gdb
// does. For each debug directory D of dirs (["/usr/lib/debug"] when empty)
// it tries D/.build-id/ab/cdef….debug and accepts it when its build id
// matches. Then, with the name N from .gnu_debuglink and the directory B
// holding this object, it tries B/N, B/.debug/N and D/B/N for each D, and
// accepts the first whose CRC matches. It returns ErrNotFound when nothing
// matches. Only objects from Open, or from NewObject with a path as name,
// have a directory B.
func (o *Object) FindDebugFile(dirs []string) (string, error) {
	if len(dirs) == 0 {
		dirs = []string{"/usr/lib/debug"}
	}
	tried := 0
	if p := o.BuildIDPath(); p != "" {
		for _, d := range dirs {
			cand := filepath.Join(d, p)
			tried++
			if o.sameBuildID(cand) {
				return cand, nil
			}
		}
	}
	self := o.path
	if self == "" {
		self = o.name
	}
	if o.link.ok && self != "" && filepath.Base(o.link.name) == o.link.name {
		abs, err := filepath.Abs(self)
		if err != nil {
			return "", fmt.Errorf("elf: %w", err)
		}
		dir := filepath.Dir(abs)
		cands := []string{filepath.Join(dir, o.link.name), filepath.Join(dir, ".debug", o.link.name)}
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, dir, o.link.name))
		}
		selfInfo, _ := os.Stat(abs)
		for _, cand := range cands {
			tried++
			info, err := os.Stat(cand)
			if err != nil || !info.Mode().IsRegular() || (selfInfo != nil && os.SameFile(info, selfInfo)) {
				continue
			}
			if o.VerifyDebugLink(cand) == nil {
				return cand, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s (%d candidates)", ErrNotFound, o.Name(), tried)
}

// sameBuildID reports whether path is an ELF file with this object's build
// id.
func (o *Object) sameBuildID(path string) bool {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	c, err := Open(path)
	if err != nil {
		return false
	}
	defer c.Close()
	return bytes.Equal(c.buildID, o.buildID)
}
