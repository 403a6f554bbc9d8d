package stackwalk

import (
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Frame is one frame of a thread's stack, innermost first.
type Frame struct {
	// Trust says how the frame was found.
	Trust Trust
	// Instruction is the address the frame is symbolized at: the context's
	// instruction pointer for the context frame, and for callers the
	// return address moved back into the call instruction (minus 1 on x86
	// and amd64, 4 on arm64, 2 on arm), so that inlines and lines are those
	// of the call (PROTOCOL.md, "Caller frames"). Inlined frames share
	// their physical frame's.
	Instruction uint64
	// Context is the frame's registers; inlined frames have none (Valid
	// is 0).
	Context Context
	// Module is the module holding Instruction, or nil.
	Module *Module
	// Function and FunctionBase (absolute) name the function, when the
	// module's debug information covers the address; for an inlined frame
	// FunctionBase is the start of the inlined range holding it.
	Function     string
	FunctionBase uint64
	// File and Line are the source position; LineBase (absolute) is the
	// start of the line record, when HasLineBase.
	File        string
	Line        uint32
	LineBase    uint64
	HasLineBase bool
	// SignalCaller marks a frame whose return address is an interrupted
	// instruction, not the instruction after a call (the caller of a
	// signal trampoline); Instruction is then not adjusted.
	SignalCaller bool
}

// ReturnAddress is the address the frame would return to, as the machine
// saved it (the instruction pointer for the context frame); for inlined
// frames it is Instruction. Breakpad prints offsets from it.
func (f *Frame) ReturnAddress() uint64 {
	if f.Trust == TrustInline {
		return f.Instruction
	}
	return f.Context.PC()
}

// BreakpadAddress is the address Breakpad's minidump_stackwalk prints a
// frame at (its StackFrame::ReturnAddress): the return address of x86 and
// amd64 physical frames, and Instruction for every other frame (Breakpad's
// arm and arm64 frames do not override it).
func (f *Frame) BreakpadAddress() uint64 {
	if f.Trust != TrustInline && (f.Context.Arch == unwind.ArchX86 || f.Context.Arch == unwind.ArchAMD64) {
		return f.Context.PC()
	}
	return f.Instruction
}

// BreakpadOffset is the offset Breakpad's minidump_stackwalk prints for
// the frame, from BreakpadAddress: from the line record when there is a
// source file, else from the function, else from the module, else the
// address itself. Where the line record's start is unknown it counts from
// the function.
func (f *Frame) BreakpadOffset() uint64 {
	ra := f.BreakpadAddress()
	switch {
	case f.Module == nil:
		return ra
	case f.Function == "":
		return ra - f.Module.Base
	case f.File != "" && f.HasLineBase:
		return ra - f.LineBase
	}
	return ra - f.FunctionBase
}

// Inlined reports whether the frame is an inlined call.
func (f *Frame) Inlined() bool { return f.Trust == TrustInline }

// HasSymbols reports whether a function covers the frame's address.
func (f *Frame) HasSymbols() bool { return f.Function != "" }

// Thread is the walked stack of one thread.
type Thread struct {
	// ID is the thread's id; Name its name from the dump, or "".
	ID   uint32
	Name string
	// Frames are innermost first.
	Frames []Frame
	// Crashed marks the thread that raised the exception, or the one that
	// requested the dump.
	Crashed bool
	// StackBase and StackSize delimit the thread's captured stack memory
	// (both 0 when the dump has none).
	StackBase, StackSize uint64
	// Truncated is set when the walk stopped at Options.MaxFrames.
	Truncated bool
	// Err says why the thread could not be walked (no context, an unknown
	// CPU), or nil.
	Err error
}

// cloneStrings copies a frame's strings, which may view a debug file's
// memory, so that the frame outlives it.
func (f *Frame) cloneStrings() {
	f.Function = strings.Clone(f.Function)
	f.File = strings.Clone(f.File)
}
