// Package prefault maps memory that a program is about to fill, ahead of
// the filling: a system call over the whole range instead of a page fault
// for every page. On virtual machines whose page faults trap to the
// hypervisor, as on the machines Cairn is measured on (~13 µs a page,
// see BENCHMARKS.md), a fresh megabyte costs ~3.3 ms of faults, and
// prefaulting it ~0.3 ms plus about half the faults' cost at first
// access, or nothing more when a goroutine on an idle core prefaults it.
package prefault

import "unsafe"

// Slice prefaults the pages wholly inside the backing array of s, up to
// its capacity. It changes no byte of it, so it may run while other
// goroutines read and write the array. Where the system cannot, it does
// nothing.
func Slice[T any](s []T) {
	n := cap(s) * int(unsafe.Sizeof(*new(T)))
	if n == 0 {
		return
	}
	_ = populate(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))), n))
}

// pageSize is the granule populate works in.
const pageSize = 4096

// inner returns the part of b made of whole pages.
func inner(b []byte) []byte {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + pageSize - 1) &^ (pageSize - 1)
	hi := (start + uintptr(len(b))) &^ (pageSize - 1)
	if hi <= lo {
		return nil
	}
	return b[lo-start : hi-start]
}
