package elf

import (
	"cmp"
	"slices"
	"sync"
	"unsafe"
)

// releaseBatch is how many bytes of the mapping a releaser gathers before
// it releases them. Each release is a system call after which the kernel
// flushes the translations of every core running the process, an
// interrupt that a virtual machine's cores pay dearly for: a symcache
// build of the bench fixture released its ~40 line programs (~100 KB
// each) one by one, and those calls and their interrupts took 4-5 ms of
// its CPU time (BENCHMARKS.md). A mebibyte keeps what waits to be
// released small beside a build's heap.
const releaseBatch = 1 << 20

// releaser gathers the parts of an Object's file mapping that a debug
// session is done with (dwarf.Sections.Release) and drops their pages from
// memory a batch at a time, with releaseMapped. Parts that touch are
// released together, with the pages they share, which neither part alone
// covers whole. What is left when the session ends stays mapped until the
// Object closes. It is safe for concurrent use.
type releaser struct {
	mapped []byte
	batch  int
	// drop releases a merged run of parts: releaseMapped, or a test's
	// recorder.
	drop func(mapped, b []byte)
	// inflight, when set, makes the releaser drop each batch on a
	// goroutine of its own, which it counts until done: whoever unmaps
	// the file waits for it first (Object.Close). A release is a few
	// system calls and their interrupts, ~2 ms of libpython's symcache
	// build in all, which the goroutine streaming the functions made
	// itself as it finished each segment (BENCHMARKS.md); whatever reads
	// on meanwhile needs none of the pages.
	inflight *sync.WaitGroup

	mu      sync.Mutex
	pending []part
	size    int
}

// part is a range of byte offsets into the mapping.
type part struct{ lo, hi int }

// newReleaser returns a releaser of parts of mapped that releases them
// once batch bytes have gathered.
func newReleaser(mapped []byte, batch int) *releaser {
	return &releaser{mapped: mapped, batch: batch, drop: releaseMapped}
}

// release records b, which the session has finished reading. Bytes outside
// the mapping (decompressed or relocated sections on the heap) are
// ignored: dropping heap pages would lose their contents.
func (r *releaser) release(b []byte) {
	lo, ok := offsetIn(r.mapped, b)
	if !ok || len(b) == 0 {
		return
	}
	r.mu.Lock()
	r.pending = append(r.pending, part{lo, lo + len(b)})
	r.size += len(b)
	var due []part
	if r.size >= r.batch {
		due, r.pending, r.size = r.pending, nil, 0
	}
	r.mu.Unlock()
	if len(due) == 0 {
		return
	}
	// Outside the lock: the system calls take long, and the other
	// workers gather the next batch meanwhile.
	if r.inflight == nil {
		r.dropAll(due)
		return
	}
	r.inflight.Go(func() { r.dropAll(due) })
}

// dropAll drops the parts of a batch, merged.
func (r *releaser) dropAll(due []part) {
	for _, p := range mergeParts(due) {
		r.drop(r.mapped, r.mapped[p.lo:p.hi])
	}
}

// offsetIn returns the offset of b in mapped, and whether b lies within
// it.
func offsetIn(mapped, b []byte) (int, bool) {
	if len(mapped) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mapped)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if start < base || start-base > uintptr(len(mapped)) || uintptr(len(b)) > uintptr(len(mapped))-(start-base) {
		return 0, false
	}
	return int(start - base), true
}

// mergeParts sorts parts and joins those that overlap or touch, in place.
func mergeParts(parts []part) []part {
	if len(parts) == 0 {
		return nil
	}
	slices.SortFunc(parts, func(a, b part) int { return cmp.Compare(a.lo, b.lo) })
	out := parts[:1]
	for _, p := range parts[1:] {
		last := &out[len(out)-1]
		if p.lo <= last.hi {
			last.hi = max(last.hi, p.hi)
			continue
		}
		out = append(out, p)
	}
	return out
}
