package minidump

import (
	"errors"
	"fmt"
)

// ErrNoStream reports that the dump has no stream of the requested type.
// Callers branch on it with errors.Is: an absent optional stream is normal.
var ErrNoStream = errors.New("minidump: stream not present")

// FormatError reports malformed input with the file offset where decoding
// stopped and the structure being read.
type FormatError struct {
	What   string // the structure being decoded, e.g. "thread list"
	Offset int64  // file offset at which the problem was found
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("minidump: %s at offset %#x: %s", e.What, e.Offset, e.Msg)
}

func formatErr(what string, off int64, format string, args ...any) error {
	return &FormatError{What: what, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// ErrNoMemory reports a read of process memory the dump did not capture.
var ErrNoMemory = errors.New("memory not captured in the dump")

func isNoStream(err error) bool { return errors.Is(err, ErrNoStream) }
