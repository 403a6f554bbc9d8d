package hugeheap

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the architectures
// Cairn runs on (x86-64, and arm64 with 4 KB pages).
const hugePage = 2 << 20

// policy is where Linux gives its policy for transparent huge pages, the
// current one between brackets: "always [madvise] never".
var policy = "/sys/kernel/mm/transparent_hugepage/enabled"

// advisable reports whether marking memory would give it huge pages that
// it would not get unmarked.
func advisable() bool {
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return false
		}
	}
	b, err := os.ReadFile(policy)
	return err == nil && bytes.Contains(b, []byte("[madvise]"))
}

func reserve(n int) {
	// With the collector off, allocating the block starts no cycle, and
	// the one below is the only one.
	gc := debug.SetGCPercent(-1)
	block := make([]byte, n+hugePage)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + uintptr(len(block))) &^ (hugePage - 1)
	if hi > lo {
		// An error leaves the heap as it was: nothing to report.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_HUGEPAGE)
	}
	runtime.KeepAlive(block)
	block = nil
	debug.SetGCPercent(gc)
	// FreeOSMemory collects, then returns the block's pages to the
	// system at once (none is resident, so it is cheap) rather than
	// leaving the background scavenger to return them during the build.
	debug.FreeOSMemory()
}
