// Package unreal reads the crash reports Unreal Engine's CrashReportClient
// uploads (the "UE4CrashReport" archive): a zlib stream holding a header
// and a list of files — the minidump (UE4Minidump.dmp) or an Apple crash
// report, CrashContext.runtime-xml, the game's log, CrashReportClient.ini
// and whatever else the game added.
//
// Layout, all integers little-endian, strings as a uint32 byte length
// followed by that many bytes, NUL-terminated inside the length:
//
//	header: directory name (string), file name (string),
//	        uncompressed size (int32), file count (int32)
//	file:   index (int32), name (string), length (int32), bytes
//
// Two generations exist. Current engines write "CR1", one header, then the
// files. Older ones write a placeholder header first, then the files, then
// the real header; their file count is taken from the last four bytes.
// Sentry's reader (symbolic-unreal) handles both; so does this one.
package unreal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zlib"
)

// ErrTooLarge is returned when the archive decompresses to more than the
// caller's limit.
var ErrTooLarge = errors.New("unreal: crash report exceeds the size limit")

// FormatError reports malformed archive data and where it was found.
type FormatError struct {
	Offset int64
	Msg    string
}

// Error formats the offset and the problem.
func (e *FormatError) Error() string {
	return fmt.Sprintf("unreal: malformed crash report at offset %d: %s", e.Offset, e.Msg)
}

// File is one file of a crash report. Data aliases the decompressed
// archive.
type File struct {
	Index int
	Name  string
	Data  []byte
}

// Kind tells what a file of the archive is, by Sentry's rules: by name for
// the config, context and logs, by content for native crash reports.
type Kind int

// The kinds of files in a crash report.
const (
	KindOther Kind = iota
	KindMinidump
	KindAppleCrashReport
	KindLog
	KindConfig
	KindContext
)

// Kind classifies f.
func (f File) Kind() Kind {
	switch {
	case f.Name == "CrashReportClient.ini":
		return KindConfig
	case f.Name == "CrashContext.runtime-xml":
		return KindContext
	case strings.HasSuffix(f.Name, ".log"):
		return KindLog
	case bytes.HasPrefix(f.Data, []byte("MDMP")):
		return KindMinidump
	case bytes.HasPrefix(f.Data, []byte("Incident Identifier:")):
		return KindAppleCrashReport
	}
	return KindOther
}

// Crash is a parsed crash report.
type Crash struct {
	Directory string
	Name      string
	Files     []File
}

// File returns the first file of kind k, or nil.
func (c *Crash) File(k Kind) *File {
	for i := range c.Files {
		if c.Files[i].Kind() == k {
			return &c.Files[i]
		}
	}
	return nil
}

// Parse decompresses a crash report as uploaded (a zlib stream) to at most
// limit bytes and parses it.
func Parse(compressed []byte, limit int64) (*Crash, error) {
	if len(compressed) == 0 {
		return nil, &FormatError{Msg: "empty crash report"}
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("unreal: not a zlib stream: %w", err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		return nil, fmt.Errorf("unreal: decompressing: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, ErrTooLarge
	}
	return ParseArchive(buf.Bytes())
}

// ParseArchive parses a decompressed crash report.
func ParseArchive(b []byte) (*Crash, error) {
	r := &reader{b: b}
	c := &Crash{}
	if bytes.HasPrefix(b, []byte("CR1")) {
		r.off = 3
		c.Directory, c.Name, _ = r.header()
		count := r.i32()
		c.Files = r.files(count)
	} else {
		if len(b) < 4 {
			return nil, &FormatError{Msg: "too short for a crash report"}
		}
		count := int32(binary.LittleEndian.Uint32(b[len(b)-4:]))
		r.header() // placeholder
		r.i32()
		c.Files = r.files(count)
		c.Directory, c.Name, _ = r.header()
		r.i32()
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(b) {
		return nil, &FormatError{Offset: int64(r.off), Msg: fmt.Sprintf("%d bytes of trailing data", len(b)-r.off)}
	}
	return c, nil
}

// reader latches its first error; later reads return zero values, so the
// parser reads fields in a straight line and checks once.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = &FormatError{Offset: int64(r.off), Msg: msg}
	}
	r.off = len(r.b)
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(fmt.Sprintf("%s of %d bytes runs past the end", what, n))
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

func (r *reader) i32() int32 {
	p := r.bytes(4, "integer")
	if p == nil {
		return 0
	}
	return int32(binary.LittleEndian.Uint32(p))
}

func (r *reader) str(what string) string {
	p := r.bytes(4, what+" length")
	if p == nil {
		return ""
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail(fmt.Sprintf("%s of %d bytes runs past the end", what, n))
		return ""
	}
	s := r.bytes(int(n), what)
	return strings.ToValidUTF8(strings.TrimRight(string(s), "\x00"), "\uFFFD")
}

// header reads directory name, file name and uncompressed size; the file
// count that follows is read by the caller.
func (r *reader) header() (dir, name string, size int32) {
	dir = r.str("directory name")
	name = r.str("file name")
	size = r.i32()
	return
}

func (r *reader) files(count int32) []File {
	// A file entry takes at least 12 bytes, so a count beyond that is a
	// lie that must not size an allocation.
	if count < 0 || int64(count) > int64(len(r.b)-r.off)/12 {
		r.fail(fmt.Sprintf("file count %d does not fit the data", count))
		return nil
	}
	files := make([]File, 0, count)
	for i := int32(0); i < count && r.err == nil; i++ {
		idx := r.i32()
		name := r.str("file name")
		n := r.i32()
		data := r.bytes(int(n), fmt.Sprintf("file %q", name))
		files = append(files, File{Index: int(idx), Name: name, Data: data})
	}
	if r.err != nil {
		return nil
	}
	return files
}
