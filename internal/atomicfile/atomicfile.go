// Package atomicfile writes files through a temporary name renamed into
// place, so that readers, and other processes writing the same file, never
// see half of one. Caches written this way can be shared by concurrent
// commands and servers.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tmpPrefix starts the names of the temporary files, which lie beside
// their destination.
const tmpPrefix = ".tmp-"

// StaleAfter is how old a temporary file must be before Write removes it
// from the directory it writes into: one left by a process killed while
// writing (SIGKILL, SIGINT to a command that does not catch it, a crash).
// Younger ones may be another process's, still being written.
const StaleAfter = time.Hour

// Write writes path with write, creating its directory if needed, through
// a buffered temporary file in the same directory that is renamed into
// place once written and closed; the file has mode 0644. The writer write
// is given is a *Writer. When write or the file system fails, the
// temporary file is removed and path is left as it was. After a write,
// temporary files older than StaleAfter in the directory are removed.
func Write(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	bw := &Writer{Writer: bufio.NewWriterSize(tmp, 1<<16), f: tmp}
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	sweep(dir, time.Now().Add(-StaleAfter))
	return nil
}

// Writer is the buffered writer of a temporary file that Write hands its
// write function.
type Writer struct {
	*bufio.Writer
	f *os.File
}

// Preallocate reserves room for n bytes of the file where the system can,
// without changing its size, so that a writer that knows the size of what
// it is about to write does not leave the allocation of the file's blocks
// to the writing back of its pages. On ext4, a file renamed over another
// must have its blocks allocated first, which the rename then does itself
// (the file system's guard against a file left empty by a crash): 1.2 ms
// for a 1.4 MB symcache written over an older one, against 0.1 ms to
// preallocate it and 0.35 ms to rename it then. Errors are ignored: the
// file is written all the same.
func (w *Writer) Preallocate(n int64) {
	if n > 0 {
		preallocate(w.f, n)
	}
}

// Preallocate calls w's Preallocate when w is a Writer, and does nothing
// otherwise: a writer of data whose size it knows before the first byte
// calls it whatever it was handed.
func Preallocate(w io.Writer, n int64) {
	if aw, ok := w.(*Writer); ok {
		aw.Preallocate(n)
	}
}

// sweep removes the temporary files in dir last modified before cutoff.
// It is best effort: a file another process removes first, or one that
// cannot be removed, is left to it.
func sweep(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
