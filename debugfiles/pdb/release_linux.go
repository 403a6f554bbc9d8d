package pdb

import "syscall"

// releasePages tells the kernel the pages of a read-only file mapping are
// not needed any more: they leave the process's resident set (the page
// cache keeps them) and are read back on the next access. It must only be
// called on memory mapped from a file, where dropping pages loses nothing.
func releasePages(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}

// adviseRandom tells the kernel the pages of a file mapping are read in
// no order: a fault then maps the page asked for only, not the pages
// around it as well, which would stay resident until released.
func adviseRandom(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_RANDOM)
	}
}
