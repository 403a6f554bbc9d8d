// Package unrealtest builds Unreal Engine crash report archives for tests,
// in both layouts the engine has used, so that the reader and the ingest
// endpoint can be tested without shipping crash reports from elsewhere.
package unrealtest

import (
	"bytes"
	"encoding/binary"

	"github.com/klauspost/compress/zlib"
)

// File is one file to put in an archive.
type File struct {
	Name string
	Data []byte
}

// Layout selects the archive generation.
type Layout int

// The two layouts: current engines write "CR1" and one header; older ones
// a placeholder header, the files, and the real header at the end.
const (
	CR1 Layout = iota
	Legacy
)

// Archive returns the uncompressed archive of files.
func Archive(layout Layout, dir, name string, files []File) []byte {
	var body bytes.Buffer
	for i, f := range files {
		putI32(&body, int32(i))
		putString(&body, f.Name)
		putI32(&body, int32(len(f.Data)))
		body.Write(f.Data)
	}
	var total int32
	for _, f := range files {
		total += int32(len(f.Data))
	}
	header := func(b *bytes.Buffer, dir, name string, count int32) {
		putString(b, dir)
		putString(b, name)
		putI32(b, total)
		putI32(b, count)
	}
	var out bytes.Buffer
	switch layout {
	case CR1:
		out.WriteString("CR1")
		header(&out, dir, name, int32(len(files)))
		out.Write(body.Bytes())
	case Legacy:
		header(&out, "", "", 0)
		out.Write(body.Bytes())
		header(&out, dir, name, int32(len(files)))
	}
	return out.Bytes()
}

// Compress zlib-compresses an archive as CrashReportClient uploads it.
func Compress(archive []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(archive)
	_ = w.Close()
	return b.Bytes()
}

// Report is Compress(Archive(CR1, ...)), the usual upload body.
func Report(files ...File) []byte {
	return Compress(Archive(CR1, "CrashReport-UE4-Game-0000", "UE4CC-Windows-0000", files))
}

func putI32(b *bytes.Buffer, v int32) {
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(v))
	b.Write(p[:])
}

// putString writes the engine's string form: length including a NUL, the
// bytes, the NUL.
func putString(b *bytes.Buffer, s string) {
	putI32(b, int32(len(s)+1))
	b.WriteString(s)
	b.WriteByte(0)
}
