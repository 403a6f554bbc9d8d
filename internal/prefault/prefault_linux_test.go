package prefault

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
)

// TestSliceMapsPages checks that the pages of a prefaulted array fault no
// more when written: what the prefaulting is for.
func TestSliceMapsPages(t *testing.T) {
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
	// Value does it for what a pointer points to. The arrays above are
	// kept, so that these come fresh from the system as well.
	freshValue := new([pages * 4096]byte)
	if n := faults(freshValue[:]); n < pages/4 {
		t.Skipf("writing a fresh value of %d pages took %d faults: nothing to compare", pages, n)
	}
	v := new([pages * 4096]byte)
	Value(v)
	if n := faults(v[:]); n > pages/16 {
		t.Errorf("writing a prefaulted value of %d pages took %d faults, want at most %d", pages*4096/pageSize, n, pages/16)
	}
	runtime.KeepAlive(fresh)
	runtime.KeepAlive(b)
	runtime.KeepAlive(freshValue)
}
