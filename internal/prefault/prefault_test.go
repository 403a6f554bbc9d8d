package prefault

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

func TestInner(t *testing.T) {
	buf := make([]byte, 5*pageSize)
	base := uintptr(unsafe.Pointer(&buf[0]))
	skip := int((pageSize - base%pageSize) % pageSize) // to the first page boundary
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
			if start%pageSize != 0 || int(start-uintptr(unsafe.Pointer(&b[0]))) != tc.wantOffset {
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

// TestSliceMapsPages checks that the pages of a prefaulted array fault no
// more when written: what the prefaulting is for.
func TestSliceMapsPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("prefaulting is implemented on Linux only")
	}
	const pages = 2048
	probe := make([]byte, 4*pageSize)
	if err := populate(probe); errors.Is(err, syscall.EINVAL) {
		t.Skip("this kernel has no MADV_POPULATE_WRITE (Linux 5.14 or later)")
	} else if err != nil {
		t.Fatalf("populate: %v", err)
	}
	faults := func(b []byte) int64 {
		var before, after syscall.Rusage
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		syscall.Getrusage(syscall.RUSAGE_THREAD, &before)
		for i := 0; i < len(b); i += pageSize {
			b[i] = 1
		}
		syscall.Getrusage(syscall.RUSAGE_THREAD, &after)
		return after.Minflt - before.Minflt
	}
	fresh := make([]byte, pages*pageSize)
	if n := faults(fresh); n < pages/4 {
		t.Skipf("writing %d fresh pages took %d faults: the heap is prefaulted already (huge pages?), nothing to compare", pages, n)
	}
	b := make([]byte, pages*pageSize)
	Slice(b)
	if n := faults(b); n > pages/16 {
		t.Errorf("writing %d prefaulted pages took %d faults, want at most %d", pages, n, pages/16)
	}
}
