package atomicfile

import (
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: blocks reserved past the end of
// the file leave its size as it is, so that a size overestimated never
// shows in the file.
const fallocKeepSize = 1

// preallocate reserves n bytes of blocks for f, where its file system
// can.
func preallocate(f *os.File, n int64) {
	c, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = c.Control(func(fd uintptr) { _ = syscall.Fallocate(int(fd), fallocKeepSize, 0, n) })
}
