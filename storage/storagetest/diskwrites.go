package storagetest

import (
	"os"
	"strconv"
	"strings"
)

// DiskWrites returns the bytes this process has caused to be written to
// storage so far (write_bytes of /proc/self/io), or 0 where that is not
// available. Benchmarks report the difference per operation: on disks that
// sync slowly, bytes written bound throughput more than CPU does.
func DiskWrites() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
