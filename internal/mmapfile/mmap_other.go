//go:build !unix

package mmapfile

import (
	"io"
	"os"
)

// mapFile reads the file where the platform offers no mmap we use.
func mapFile(f *os.File, size int) ([]byte, func([]byte) error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, nil, nil
}
