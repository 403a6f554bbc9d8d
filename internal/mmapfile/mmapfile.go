// Package mmapfile maps read-only files into memory so parsers can read large
// inputs through io.ReaderAt without copying them onto the heap.
package mmapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// File is a read-only view of a whole file. Bytes returns the mapping (or the
// file's contents where mapping is unavailable); it is valid until Close.
type File struct {
	data  []byte
	unmap func([]byte) error
}

var _ io.ReaderAt = (*File)(nil)

// Open maps the named file. Empty files yield an empty, valid File.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &File{}, nil
	}
	if int64(int(size)) != size || size < 0 {
		return nil, fmt.Errorf("mmapfile: %s: file too large to map (%d bytes)", path, size)
	}
	data, unmap, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("mmapfile: %s: %w", path, err)
	}
	return &File{data: data, unmap: unmap}, nil
}

// Len is the size of the file in bytes.
func (f *File) Len() int { return len(f.data) }

// Bytes is the whole file; callers must not modify it or keep it after Close.
func (f *File) Bytes() []byte { return f.data }

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("mmapfile: negative offset")
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the mapping.
func (f *File) Close() error {
	data, unmap := f.data, f.unmap
	f.data, f.unmap = nil, nil
	if unmap == nil || data == nil {
		return nil
	}
	return unmap(data)
}
