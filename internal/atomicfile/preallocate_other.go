//go:build !linux

package atomicfile

import "os"

// preallocate does nothing where the system has no fallocate.
func preallocate(*os.File, int64) {}
