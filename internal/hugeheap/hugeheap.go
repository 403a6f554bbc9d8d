// Package hugeheap asks Linux to back the Go heap's next allocations with
// transparent huge pages, for commands that fill tens of megabytes of
// heap once and exit (building a symcache).
//
// On some of the virtual machines Cairn is measured on (see
// BENCHMARKS.md), the first write to a 4 KB page traps to the
// hypervisor: ~13 µs a page, 2.7-3.8 ms a megabyte, and a symcache build
// took 5,400 such faults. A 2 MB huge page costs one fault for 512
// pages: with them the build took 1,400 faults and a fifth less time.
// Linux gives huge pages only to memory marked MADV_HUGEPAGE when its
// policy is "madvise", the usual default, and the Go runtime marks none
// of its heap. The heap's memory cannot be marked before the runtime
// maps it (its mapping replaces any mark), so Reserve makes the runtime
// map it: it allocates a block it never touches, marks it, and frees it
// with a collection; the heap's next allocations come from that block.
//
// Huge pages are not always the cheaper ones. In a virtual machine whose
// balloon device takes free memory back (free page reporting), Linux
// hands every free 2 MB block to the hypervisor after a couple of
// seconds, and a huge page is such a block: after a pause it faults in
// at 4.1-4.9 ms. Where the processor maps the guest's pages itself, that
// was six times the cost of its 512 small pages, and a symcache build
// took up to twice as long with huge pages: Reserve does nothing there.
// Where the hypervisor traps every first write to a small page (shadow
// page tables, ~13 µs a page), the 512 cost more than the huge page even
// then, and Reserve, which tells the two apart by timing a few small
// pages' first writes, marks the heap.
package hugeheap

// Reserve marks n bytes of the Go heap for huge pages, to serve the
// allocations that follow. It costs a garbage collection (with the
// block's allocation ~3 ms where it matters; the block is never
// touched, so it costs no memory), and does nothing where the system
// would not use huge pages anyway (on other systems, when the policy is
// "always" or "never", or when GODEBUG has disablethp=1) or where they
// would cost more than they save (a virtual machine with free page
// reporting, unless small pages cost more there still). Call it once,
// at the start of a command whose heap grows large, before the heap
// grows.
func Reserve(n int) {
	if n <= 0 || !advisable() {
		return
	}
	reserve(n)
}
