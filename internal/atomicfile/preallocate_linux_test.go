package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPreallocate checks that a writer that preallocates gets the file's
// blocks reserved, and that a size overestimated or underestimated leaves
// the file as written.
func TestPreallocate(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("symcache"), 64<<10) // 512 KiB
	for _, reserve := range []int64{int64(len(data)), 4 << 20, 1000, 0} {
		path := filepath.Join(dir, "x.cache")
		var blocks int64
		err := Write(path, func(w io.Writer) error {
			aw, ok := w.(*Writer)
			if !ok {
				t.Fatalf("Write hands a %T, want a *Writer", w)
			}
			Preallocate(w, reserve)
			var st syscall.Stat_t
			if err := syscall.Fstat(int(aw.f.Fd()), &st); err != nil {
				return err
			}
			blocks = st.Blocks * 512
			_, err := w.Write(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("reserve %d: read back %d bytes (%v), want the %d written", reserve, len(got), err, len(data))
		}
		// Before any byte was written, the file's blocks were there.
		if reserve >= int64(len(data)) && blocks < reserve {
			t.Errorf("reserve %d: %d bytes of blocks after preallocating", reserve, blocks)
		}
	}
	// Other writers are left alone.
	var buf bytes.Buffer
	Preallocate(&buf, 1<<20)
	if buf.Len() != 0 {
		t.Errorf("Preallocate wrote %d bytes to a bytes.Buffer", buf.Len())
	}
}
