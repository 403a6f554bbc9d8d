package stackwalk

// Trust says how a frame's instruction address was found, in rough order of
// how far it can be believed. The values and their order are Breakpad's
// (StackFrame::FrameTrust), so that counts of "dubious" frames and the
// choice of fallbacks behave as its stack walker's do.
type Trust uint8

// Trust levels.
const (
	// TrustNone: unknown.
	TrustNone Trust = iota
	// TrustScan: a word on the stack that looked like a return address.
	TrustScan
	// TrustCFIScan: Windows frame data located the return address only
	// after scanning near where it said the address would be.
	TrustCFIScan
	// TrustFP: the callee's frame pointer chain.
	TrustFP
	// TrustCFI: call frame information (DWARF CFI, STACK CFI/WIN, compact
	// unwind, PE unwind codes).
	TrustCFI
	// TrustPrewalked: given by an external stack walker.
	TrustPrewalked
	// TrustContext: the instruction pointer of a CPU context.
	TrustContext
	// TrustInline: an inlined call inside the next (physical) frame, from
	// the debug information; the frame has no registers of its own.
	TrustInline
	// TrustLeaf: a return simulated from a leaf function without unwind
	// information (Windows x64 allows leaf functions to omit it).
	TrustLeaf
)

var trustNames = [...]string{"none", "scan", "cfi_scan", "fp", "cfi", "prewalked", "context", "inline", "leaf"}

// String is the trust in Sentry's and rust-minidump's spelling ("context",
// "cfi", "fp", "scan", "cfi_scan", "inline", ...).
func (t Trust) String() string {
	if int(t) < len(trustNames) {
		return trustNames[t]
	}
	return "none"
}

var trustDescriptions = [...]string{
	"unknown",
	"stack scanning",
	"call frame info with scanning",
	"previous frame's frame pointer",
	"call frame info",
	"recovered by external stack walker",
	"given as instruction pointer in context",
	"inline record",
	"simulating a return from leaf function",
}

// Description is the "Found by:" text of Breakpad's minidump_stackwalk.
func (t Trust) Description() string {
	if int(t) < len(trustDescriptions) {
		return trustDescriptions[t]
	}
	return "unknown"
}

// dubious reports the trust levels Breakpad counts against its limit of
// scanned frames.
func (t Trust) dubious() bool { return t == TrustNone || t == TrustScan || t == TrustCFIScan }
