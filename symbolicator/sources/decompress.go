package sources

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Compression is how a downloaded file was wrapped.
type Compression uint8

// Compressions recognised by their leading bytes.
const (
	CompressionNone Compression = iota
	CompressionGzip
	CompressionZstd
	CompressionCAB
)

// Sniff tells a file's wrapping from its first bytes. Symbol servers are
// not reliable about Content-Encoding, so the bytes decide.
func Sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return CompressionGzip
	case bytes.HasPrefix(head, zstdMagic):
		return CompressionZstd
	case bytes.HasPrefix(head, cabMagic):
		return CompressionCAB
	}
	return CompressionNone
}

// Decompress unwraps the file at src into a new file at dst when it is
// gzip, zstd or a cabinet, returning false (and creating nothing) when it is
// not compressed. A cabinet's first file is extracted: symbol server
// cabinets hold exactly one.
func Decompress(src, dst string) (bool, error) {
	return DecompressLimited(src, dst, 0)
}

// DecompressLimited is Decompress with the unwrapped output capped at
// maxBytes when maxBytes is positive: decompression stops at the first byte
// beyond the cap, dst is removed and the error matches ErrTooLarge.
func DecompressLimited(src, dst string, maxBytes int64) (bool, error) {
	f, err := os.Open(src)
	if err != nil {
		return false, fmt.Errorf("sources: decompress: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	kind := Sniff(head[:n])
	if kind == CompressionNone {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("sources: decompress: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false, fmt.Errorf("sources: decompress: %w", err)
	}
	err = decompressInto(kind, f, &cappedWriter{w: out, max: maxBytes}, maxBytes)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return false, err
	}
	return true, nil
}

// zstdMinWindow is the smallest window a capped zstd decoder accepts, so
// that a small cap does not refuse ordinary frames whose declared window
// exceeds their content.
const zstdMinWindow = 8 << 20

func decompressInto(kind Compression, f *os.File, out io.Writer, maxBytes int64) error {
	switch kind {
	case CompressionGzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("sources: gzip: %w", err)
		}
		defer zr.Close()
		if _, err := io.Copy(out, zr); err != nil {
			return fmt.Errorf("sources: gzip: %w", err)
		}
	case CompressionZstd:
		opts := []zstd.DOption{zstd.WithDecoderConcurrency(1)}
		if maxBytes > 0 {
			// A frame header may declare a huge window; do not let it
			// drive the allocation beyond what the cap could need.
			opts = append(opts, zstd.WithDecoderMaxMemory(uint64(max(maxBytes, zstdMinWindow))))
		}
		zr, err := zstd.NewReader(f, opts...)
		if err != nil {
			return fmt.Errorf("sources: zstd: %w", err)
		}
		defer zr.Close()
		if _, err := io.Copy(out, zr); err != nil {
			return fmt.Errorf("sources: zstd: %w", err)
		}
	case CompressionCAB:
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("sources: cabinet: %w", err)
		}
		c, err := NewCABReader(f, st.Size())
		if err != nil {
			return err
		}
		if len(c.Files) == 0 {
			return &CABFormatError{0, "no files"}
		}
		if maxBytes > 0 && int64(c.Files[0].Size) > maxBytes {
			return fmt.Errorf("sources: cabinet: %q is %d bytes: %w (over %d bytes)", c.Files[0].Name, c.Files[0].Size, ErrTooLarge, maxBytes)
		}
		return c.Extract(0, out)
	}
	return nil
}
