package stackwalk

import (
	"context"
	"encoding/binary"

	"github.com/cairn-dev/cairn/debugfiles/breakpad/postfix"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Defaults of Options.
const (
	// DefaultMaxFrames bounds a thread's frames. Every caller's stack
	// pointer lies above its callee's inside the captured stack, so a walk
	// ends by itself within stack size / word size frames; the bound keeps
	// output finite on huge stacks of scanned junk.
	DefaultMaxFrames = 10000
	// DefaultMaxScanned is how many frames found by scanning (or
	// otherwise dubious) a thread may have before scanning stops, as in
	// Breakpad (1<<14).
	DefaultMaxScanned = 1 << 14
	// scanWords is how many words a scan looks at above the stack pointer
	// (Breakpad's kRASearchWords); the caller of the context frame gets
	// four times as many.
	scanWords = 40
)

// Options bound a walk.
type Options struct {
	// MaxFrames bounds each thread's frames (inlined ones included); 0
	// means DefaultMaxFrames.
	MaxFrames int
	// MaxScanned bounds the frames found by stack scanning; 0 means
	// DefaultMaxScanned, a negative value disables scanning.
	MaxScanned int
	// Prefetch is how many modules' debug information may be loaded
	// ahead of the walk, on other cores, while it runs: the modules a
	// thread's instruction pointer and the top of its stack point into,
	// which its frames are likely to need (0: each module is loaded when
	// a frame first needs it). It needs a Modules implementation safe for
	// concurrent Find calls, as SymbolPaths is.
	Prefetch int
}

// walker walks one thread's stack.
type walker struct {
	ctx  context.Context
	arch unwind.Arch
	// osShort is Breakpad's short OS name ("windows", "mac", "ios",
	// "linux", "android", ...): some strategies depend on it.
	osShort string
	stack   []byte
	base    uint64
	mods    *moduleSet
	debug   *debugCache
	opts    Options

	frames []Frame
	// win holds, per frame, the Windows frame data found for it when its
	// caller was computed (x86), as Breakpad keeps it in the frame.
	win []winInfo
	// addrMask strips arm64 pointer authentication codes (see ptrauthStrip).
	addrMask uint64

	row unwind.Row
	sym Symbolized
	dp  postfix.Evaluator
}

// winInfo is Breakpad's WindowsFrameInfo as a frame keeps it: full frame
// data, or only the function's parameter size.
type winInfo struct {
	kind  winKind
	frame unwind.WinFrame
}

type winKind uint8

const (
	winNone winKind = iota
	winParamOnly
	winFull
)

// word is the pointer size of the walked architecture.
func (w *walker) word() uint64 { return uint64(w.arch.PointerSize()) }

// mask truncates a value to the word.
func (w *walker) mask(v uint64) uint64 {
	if w.word() == 4 {
		return uint64(uint32(v))
	}
	return v
}

// read reads a word of the thread's stack memory; like Breakpad, a walk
// reads nothing else.
func (w *walker) read(addr uint64) (uint64, bool) {
	return w.readSized(addr, int(w.word()))
}

func (w *walker) readSized(addr uint64, size int) (uint64, bool) {
	if addr < w.base {
		return 0, false
	}
	off := addr - w.base
	if off > uint64(len(w.stack)) || uint64(size) > uint64(len(w.stack))-off {
		return 0, false
	}
	if size == 4 {
		return uint64(binary.LittleEndian.Uint32(w.stack[off:])), true
	}
	return binary.LittleEndian.Uint64(w.stack[off:]), true
}

// readable reports whether a word at addr is in the stack.
func (w *walker) readable(addr uint64) bool { _, ok := w.read(addr); return ok }

// walk produces the frames from the context frame's registers.
func (w *walker) walk(c Context) []Frame {
	maxFrames := w.opts.MaxFrames
	if maxFrames <= 0 {
		maxFrames = DefaultMaxFrames
	}
	maxScanned := w.opts.MaxScanned
	if maxScanned == 0 {
		maxScanned = DefaultMaxScanned
	}
	if w.arch == unwind.ArchARM64 {
		w.addrMask = w.arm64Mask()
		c.Regs[arm64LR] = w.ptrauthStrip(c.Regs[arm64LR])
	}
	frame := Frame{Trust: TrustContext, Instruction: c.PC(), Context: c}
	scanned := 0
	for {
		if w.ctx.Err() != nil {
			break
		}
		inl := w.symbolize(&frame)
		if frame.Trust.dubious() {
			scanned++
		}
		for _, f := range inl {
			w.frames = append(w.frames, f)
			w.win = append(w.win, winInfo{})
		}
		w.frames = append(w.frames, frame)
		w.win = append(w.win, winInfo{})
		if len(w.frames) >= maxFrames {
			w.frames = w.frames[:maxFrames]
			break
		}
		next, ok := w.caller(maxScanned > 0 && scanned < maxScanned)
		if !ok {
			break
		}
		frame = next
	}
	return w.frames
}

// caller computes the caller of the last frame with the architecture's
// strategies, applies Breakpad's stop rules and adjusts the instruction.
func (w *walker) caller(scanOK bool) (Frame, bool) {
	last := &w.frames[len(w.frames)-1]
	var f Frame
	var ok bool
	switch w.arch {
	case unwind.ArchAMD64:
		f, ok = w.callerAMD64(last, scanOK)
	case unwind.ArchX86:
		f, ok = w.callerX86(scanOK)
	case unwind.ArchARM64:
		f, ok = w.callerARM64(scanOK)
	case unwind.ArchARM:
		f, ok = w.callerARM(last, scanOK)
	}
	if !ok || w.terminate(&f, last) {
		return Frame{}, false
	}
	pc := f.Context.PC()
	switch {
	case f.SignalCaller:
		f.Instruction = pc
	case w.arch == unwind.ArchARM64:
		f.Instruction = pc - 4
	case w.arch == unwind.ArchARM:
		f.Instruction = w.mask(pc - 2)
	default:
		f.Instruction = w.mask(pc - 1)
	}
	return f, true
}

// terminate applies Breakpad's stop rules: an instruction pointer below
// 4 KiB is the end of the stack (or garbage), and the stack pointer must
// grow (it may stay equal on the first unwind, where a leaf function's
// return address can still be in a register). A caller identical to its
// callee (same instruction and stack pointers) would repeat forever.
func (w *walker) terminate(f, last *Frame) bool {
	if f.Context.PC() < 1<<12 {
		return true
	}
	sp, lastSP := f.Context.SP(), last.Context.SP()
	if last.Trust == TrustContext {
		return sp < lastSP || sp == lastSP && f.Context.PC() == last.Context.PC()
	}
	return sp <= lastSP
}

// symbolize finds a frame's module and symbols, returning its inlined
// frames innermost first.
func (w *walker) symbolize(f *Frame) []Frame {
	m := w.mods.findAny(f.Instruction)
	if m == nil {
		return nil
	}
	f.Module = m
	d := w.debug.get(w.ctx, m)
	if d.Symbols == nil {
		return nil
	}
	if !d.Symbols.Symbolize(f.Instruction-m.Base, true, &w.sym) {
		return nil
	}
	s := &w.sym
	f.Function, f.FunctionBase = s.Function, m.Base+s.FunctionBase
	f.File, f.Line = s.File, s.Line
	if s.HasLineBase {
		f.LineBase, f.HasLineBase = m.Base+s.LineBase, true
	}
	f.cloneStrings()
	if len(s.Inlines) == 0 {
		return nil
	}
	out := make([]Frame, len(s.Inlines))
	for i, in := range s.Inlines {
		out[i] = Frame{
			Trust: TrustInline, Instruction: f.Instruction, Module: m,
			Function: in.Function, FunctionBase: m.Base + in.FunctionBase,
			File: in.File, Line: in.Line, LineBase: f.LineBase, HasLineBase: f.HasLineBase,
		}
		out[i].cloneStrings()
	}
	return out
}

// seemsValid is Breakpad's InstructionAddressSeemsValid: the address is
// inside a module, and inside a function when the module has symbols.
func (w *walker) seemsValid(addr uint64) bool {
	m := w.mods.findAny(addr)
	if m == nil {
		return false
	}
	d := w.debug.get(w.ctx, m)
	if d.Symbols == nil {
		return true
	}
	var s Symbolized
	return d.Symbols.Symbolize(addr-m.Base, false, &s) && s.Function != ""
}

// scan looks for a return address in the words at start, start+word, ...,
// start+words*word (Breakpad's ScanForReturnAddress): a value that, less
// one, lies in a loaded module and seems a valid instruction address.
func (w *walker) scan(start uint64, words int) (loc, ip uint64, ok bool) {
	ws := w.word()
	for i := 0; i <= words; i++ {
		l := w.mask(start + uint64(i)*ws)
		v, ok := w.read(l)
		if !ok {
			break
		}
		cand := w.mask(v - 1)
		if w.mods.find(cand) != nil && w.seemsValid(cand) {
			return l, v, true
		}
	}
	return 0, 0, false
}

// scanWordsFor is the scan window for the caller of last: four times the
// default for the context frame's caller.
func scanWordsFor(last *Frame) int {
	if last.Trust == TrustContext {
		return scanWords * 4
	}
	return scanWords
}

// unwinder returns the unwind information of a frame's module.
func (w *walker) unwinder(f *Frame) Unwinder {
	if f.Module == nil {
		return nil
	}
	return w.debug.get(w.ctx, f.Module).Unwinder
}

// lookupCFI finds the CFI row of a frame into w.row.
func (w *walker) lookupCFI(f *Frame) bool {
	u := w.unwinder(f)
	return u != nil && u.CFI(f.Instruction-f.Module.Base, &w.row)
}
