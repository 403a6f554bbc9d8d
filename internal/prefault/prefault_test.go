package prefault

import (
	"testing"
	"unsafe"
)

func TestInner(t *testing.T) {
	buf := make([]byte, 5*pageSize)
	base := uintptr(unsafe.Pointer(&buf[0]))
	ps := uintptr(pageSize)
	skip := int((ps - base%ps) % ps) // to the first page boundary
	tests := []struct {
		name       string
		from, to   int // of buf, relative to its first page boundary
		wantPages  int
		wantOffset int // of the result's start from b's
	}{
		{"whole pages", 0, 2 * pageSize, 2, 0},
		{"starts inside a page", 1, 2 * pageSize, 1, pageSize - 1},
		{"ends inside a page", 0, 2*pageSize - 1, 1, 0},
		{"inside one page", 1, pageSize - 1, 0, 0},
		{"empty", 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := buf[skip+tc.from : skip+tc.to]
			got := inner(b)
			if len(got) != tc.wantPages*pageSize {
				t.Fatalf("inner: %d bytes, want %d pages", len(got), tc.wantPages)
			}
			if len(got) == 0 {
				return
			}
			start := uintptr(unsafe.Pointer(&got[0]))
			if start%uintptr(pageSize) != 0 || int(start-uintptr(unsafe.Pointer(&b[0]))) != tc.wantOffset {
				t.Fatalf("inner starts at %#x, %d bytes into b; want a page boundary %d bytes in", start, start-uintptr(unsafe.Pointer(&b[0])), tc.wantOffset)
			}
		})
	}
}

// TestSliceKeepsContents checks that prefaulting changes no element, past
// the length or before it, with a writer busy on the same array.
func TestSliceKeepsContents(t *testing.T) {
	s := make([]uint64, 1<<16, 1<<18)
	for i := range s {
		s[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range s {
			s[i] ^= 1
		}
	}()
	Slice(s)
	<-done
	for i := range s {
		if want := uint64(i)*0x9e3779b97f4a7c15 ^ 1; s[i] != want {
			t.Fatalf("s[%d] = %#x, want %#x", i, s[i], want)
		}
	}
	for i, v := range s[len(s):cap(s)] {
		if v != 0 {
			t.Fatalf("s[%d] past the length = %#x, want 0", len(s)+i, v)
		}
	}
	Slice([]int(nil)) // nothing to do
}
