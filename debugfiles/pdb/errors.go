package pdb

import (
	"errors"
	"fmt"
)

// FormatError reports malformed PDB data: the part of the file that was
// being decoded, the offset within it, and what was wrong. Where names the
// structure ("superblock", "directory", "dbi", "module 3", ...); Stream is
// the MSF stream index, or -1 for structures outside any stream.
type FormatError struct {
	Where  string
	Stream int
	Offset int64
	Msg    string
}

// Error formats the error as "where+offset: message".
func (e *FormatError) Error() string {
	if e.Stream >= 0 {
		return fmt.Sprintf("%s (stream %d)+%#x: %s", e.Where, e.Stream, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s+%#x: %s", e.Where, e.Offset, e.Msg)
}

// ErrNotPDB reports a file that does not start with the MSF 7.0 magic.
var ErrNotPDB = errors.New("pdb: not an MSF 7.0 file")

// ErrNoStream reports a stream the file does not have: an absent optional
// stream, a nil stream (size 0xffffffff) or an index past the directory.
var ErrNoStream = errors.New("pdb: stream not present")

// formatErr builds a FormatError outside any stream.
func formatErr(where string, off int64, format string, args ...any) error {
	return &FormatError{Where: where, Stream: -1, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// wrapErr prefixes a non-nil error with the package and what was read.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pdb: %s: %w", what, err)
}
