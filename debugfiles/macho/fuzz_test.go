package macho

import (
	"bytes"
	"os"
	"testing"
)

// memReader is a memory-backed input, so that the fuzzer also drives the
// slicing path taken for mapped files.
type memReader struct{ b []byte }

func (m memReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func (m memReader) Bytes() []byte { return m.b }

// FuzzOpen feeds corrupt Mach-O files to NewObjects and everything an Object
// reads lazily. Seeds are the built test files of at most 64 KB (when the
// LLVM tools are installed) and the synthetic headers.
func FuzzOpen(f *testing.F) {
	for _, s := range synthetic {
		f.Add(s.data())
	}
	if toolsPresent() {
		for _, v := range fixtures(f) {
			p := v.path
			if v.bundle {
				p = v.file
			}
			if b, err := os.ReadFile(p); err == nil && len(b) <= 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []interface {
			ReadAt([]byte, int64) (int, error)
		}{bytes.NewReader(data), memReader{data}} {
			objs, err := NewObjects(r, int64(len(data)), "fuzz")
			if err != nil {
				continue
			}
			for _, o := range objs {
				_ = o.Kind()
				_ = o.Arch()
				_ = o.DebugID().String()
				_ = o.CodeID()
				_ = o.Features()
				for range o.Symbols() {
				}
				for _, s := range [][2]string{{"__TEXT", "__unwind_info"}, {"__TEXT", "__eh_frame"}, {"__DWARF", "__debug_frame"}} {
					o.Section(s[0], s[1])
				}
				if d, err := o.DWARF(); err == nil {
					r := d.Reader()
					for i := 0; i < 64; i++ {
						if e, err := r.Next(); e == nil || err != nil {
							break
						}
					}
				}
				o.Close()
			}
		}
	})
}
