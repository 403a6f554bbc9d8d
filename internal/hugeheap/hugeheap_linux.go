package hugeheap

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the architectures
// Cairn runs on (x86-64, and arm64 with 4 KB pages).
const hugePage = 2 << 20

// policy is where Linux gives its policy for transparent huge pages, the
// current one between brackets: "always [madvise] never".
var policy = "/sys/kernel/mm/transparent_hugepage/enabled"

// virtioDevices is where Linux lists the virtio devices of a virtual
// machine, each a directory with its device type and negotiated features.
var virtioDevices = "/sys/bus/virtio/devices"

// advisable reports whether marking memory would give it huge pages that
// it would not get unmarked, and that are worth having (see
// freePageReporting and smallPagesCostly).
func advisable() bool {
	return policyAllows() && (!freePageReporting() || smallPagesCostly())
}

// costlySmallFault is the cost of the first write to a 4 KB page above
// which huge pages are worth having even where free page reporting makes
// them come back through the hypervisor. A huge page then took 4.1-4.9
// ms to fault in (BENCHMARKS.md), 8-9.5 µs for each of its 512 small
// pages. A small page's first write took about 1.4 µs in a virtual machine
// whose processor walks the guest's page tables itself (KVM), and 12-16
// µs in one whose hypervisor keeps shadow page tables (PVM): each fault
// traps to it.
const costlySmallFault = 6 * time.Microsecond

// smallPagesCostly reports whether the first write to a small page costs
// costlySmallFault or more here.
func smallPagesCostly() bool { return smallPageFault() >= costlySmallFault }

// smallPageFault measures the first write to a small page; the tests
// replace it.
var smallPageFault = measureSmallPageFault

// probePages is how many new pages measureSmallPageFault writes to. On a
// system where each costs 12-16 µs, the probe takes about 0.15 ms.
const probePages = 8

// measureSmallPageFault maps probePages new pages of the system's size,
// writes to each, and returns the least time a write took: an interrupt
// or a preemption makes a write slower, never faster. The mapping is not
// marked, so the policy "madvise" gives it small pages.
func measureSmallPageFault() time.Duration {
	page := os.Getpagesize()
	b, err := syscall.Mmap(-1, 0, probePages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0
	}
	defer syscall.Munmap(b)
	least := time.Duration(math.MaxInt64)
	for i := 0; i < len(b); i += page {
		t := time.Now()
		b[i] = 1
		least = min(least, time.Since(t))
	}
	return least
}

// policyAllows reports whether marked memory gets huge pages that
// unmarked memory does not: the policy is "madvise" and GODEBUG does not
// turn huge pages off.
func policyAllows() bool {
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return false
		}
	}
	b, err := os.ReadFile(policy)
	return err == nil && bytes.Contains(b, []byte("[madvise]"))
}

// Virtio's balloon device is type 5; its feature bit 5,
// VIRTIO_BALLOON_F_REPORTING, is free page reporting.
const (
	virtioBalloon       = "0x0005"
	balloonReportingBit = 5
)

// freePageReporting reports whether the system runs in a virtual machine
// whose balloon device takes the free memory back (free page reporting,
// as Firecracker and QEMU offer it): Linux hands each free block of 2 MB
// that stayed free for a couple of seconds to the hypervisor, which
// drops it, so a huge page is such a block and comes back through the
// hypervisor, 4 KB at a time. There a huge page took 4.5 ms to fault
// in against 0.7 ms for the same 2 MB in 4 KB pages, which Linux takes
// from smaller free blocks, never handed over; a symcache build run after
// 3 s of idle took 76 ms with huge pages against 45 ms without
// (BENCHMARKS.md). Only right after another process freed its huge
// pages, as in a benchmark's loop, are they cheap (0.09 ms). Where small
// pages cost far more (smallPagesCostly), huge ones are still cheaper.
func freePageReporting() bool {
	devs, err := os.ReadDir(virtioDevices)
	if err != nil {
		return false
	}
	for _, d := range devs {
		dir := virtioDevices + "/" + d.Name()
		typ, err := os.ReadFile(dir + "/device")
		if err != nil || strings.TrimSpace(string(typ)) != virtioBalloon {
			continue
		}
		// The features a bound driver agreed to, a character per bit.
		f, err := os.ReadFile(dir + "/features")
		if err == nil && len(f) > balloonReportingBit && f[balloonReportingBit] == '1' {
			return true
		}
	}
	return false
}

func reserve(n int) {
	// With the collector off, allocating the block starts no cycle, and
	// the one below is the only one.
	gc := debug.SetGCPercent(-1)
	block := make([]byte, n+hugePage)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	// The block's last pages, past its last 2 MB boundary, are marked
	// with the free pages after them up to the next: the heap maps its
	// memory in steps of 4 MB, so those are mostly mapped already, and
	// Linux marks what is mapped of a range that is not all mapped. Left
	// unmarked, they took ~150 faults of small pages in the bench
	// fixture's build.
	hi := (start + uintptr(len(block)) + hugePage - 1) &^ (hugePage - 1)
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
	// The block's first bytes, up to lo, are not marked, and the heap
	// serves an allocation from the lowest free pages that fit: those
	// would go first, in small pages (~200 of the bench fixture's build's
	// 1,300 faults). An allocation of their size takes them instead, and
	// is held, untouched: the heap knows the pages it returned to the
	// system are zero, so the allocation writes none of them.
	if lo > start {
		unmarked = make([]byte, lo-start)
	}
}

// unmarked holds the pages below the marked part of the block reserve
// made (and never touches them).
var unmarked []byte
