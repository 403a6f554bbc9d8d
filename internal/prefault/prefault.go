// Package prefault maps memory that a program is about to fill, ahead of
// the filling: a system call over the whole range instead of a page fault
// for every page. It pays on the virtual machines Cairn is measured on
// (see BENCHMARKS.md) for two reasons:
//   - where every page fault traps to the hypervisor (~13 µs a page), a
//     fresh megabyte costs ~3.3 ms of faults; prefaulted, ~0.3 ms for the
//     system call and about half as much as the faults at its first
//     writes, which a goroutine prefaulting on an idle core takes off the
//     writers;
//   - where faults are cheap, memory read before it is written (a hash
//     table's probes, a cache's lookups, the write barrier's read of a
//     pointer slot) first maps the shared zero page, and its first write
//     then faults again and flushes the TLB of every core the process
//     runs on: 2.9-3.5 ms a megabyte, against 0.35 ms written first.
package prefault

import (
	"os"
	"unsafe"
)

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

// Value prefaults the pages wholly inside *p: a large struct whose arrays
// are read before they are written (caches, hash tables).
func Value[T any](p *T) {
	Slice(unsafe.Slice(p, 1))
}

// pageSize is the granule populate works in: the system's page size.
var pageSize = os.Getpagesize()

// inner returns the part of b made of whole pages.
func inner(b []byte) []byte {
	start, mask := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(pageSize-1)
	lo := (start + mask) &^ mask
	hi := (start + uintptr(len(b))) &^ mask
	if hi <= lo {
		return nil
	}
	return b[lo-start : hi-start]
}
