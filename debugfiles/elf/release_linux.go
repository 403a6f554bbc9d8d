package elf

import "syscall"

// releaseMapped tells the kernel that the whole pages of b are not needed
// any more, when b lies inside mapped, the read-only file mapping of an
// Object: they leave the process's resident set (the page cache keeps them)
// and are read back on the next access. Bytes outside the mapping
// (decompressed or relocated sections live on the heap) are left alone,
// as dropping heap pages would lose their contents.
func releaseMapped(mapped, b []byte) {
	off, ok := offsetIn(mapped, b)
	if !ok || len(b) == 0 {
		return
	}
	// Only pages b covers whole: a page shared with bytes still in use
	// would just be read back.
	page := syscall.Getpagesize()
	first := (off + page - 1) &^ (page - 1)
	last := (off + len(b)) &^ (page - 1)
	if first >= last {
		return
	}
	syscall.Madvise(mapped[first:last], syscall.MADV_DONTNEED)
}
