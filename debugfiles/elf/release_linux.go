package elf

import (
	"syscall"
	"unsafe"
)

// releaseMapped tells the kernel that the whole pages of b are not needed
// any more, when b lies inside mapped, the read-only file mapping of an
// Object: they leave the process's resident set (the page cache keeps them)
// and are read back on the next access. Bytes outside the mapping
// (decompressed or relocated sections live on the heap) are left alone,
// as dropping heap pages would lose their contents.
func releaseMapped(mapped, b []byte) {
	if len(b) == 0 || len(mapped) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(mapped)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if start < lo || start-lo > uintptr(len(mapped)) || uintptr(len(b)) > uintptr(len(mapped))-(start-lo) {
		return
	}
	// Only pages b covers whole: a page shared with bytes still in use
	// would just be read back.
	page := uintptr(syscall.Getpagesize())
	first := (start - lo + page - 1) &^ (page - 1)
	last := (start - lo + uintptr(len(b))) &^ (page - 1)
	if first >= last {
		return
	}
	syscall.Madvise(mapped[first:last], syscall.MADV_DONTNEED)
}
