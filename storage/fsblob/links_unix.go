//go:build unix

package fsblob

import (
	"io/fs"
	"syscall"
)

// links is the number of names a file has; more than one means a composed
// blob shares its bytes.
func links(st fs.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Nlink)
	}
	return 1
}
