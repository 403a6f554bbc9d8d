package stackwalk

// The x86-64 unwinder follows Breakpad's StackwalkerAMD64: CFI; then, for
// the context frame on Windows, a simulated return from a leaf function
// (Windows x64 leaf functions may have no unwind information); then, off
// Windows, the frame pointer chain (MSVC and LLVM do not keep one on
// Windows); then stack scanning.

// amd64CalleeSaved are the System V callee-saved registers (rbx, rbp,
// r12–r15): a caller's value is the callee's unless CFI says otherwise.
var amd64CalleeSaved = [...]uint8{3, 6, 12, 13, 14, 15}

// daFill is what Breakpad's CFI walker leaves in registers it does not
// recover on x86 and amd64 (memset 0xda); later strategies read them
// without checking validity, so the walk must see the same bytes.
const daFill = 0xdadadadadadadada

func (w *walker) callerAMD64(last *Frame, scanOK bool) (Frame, bool) {
	if f, ok := w.amd64ByCFI(last); ok {
		return f, true
	}
	if last.Trust == TrustContext && w.osShort == "windows" {
		if f, ok := w.amd64SimulateReturn(last); ok {
			return f, true
		}
	}
	if w.osShort != "windows" {
		if f, ok := w.amd64ByFramePointer(last); ok {
			return f, true
		}
	}
	if scanOK {
		return w.amd64ByScan(last)
	}
	return Frame{}, false
}

func (w *walker) amd64ByCFI(last *Frame) (Frame, bool) {
	if !w.lookupCFI(last) {
		return Frame{}, false
	}
	signal := w.row.Flags
	res, ok := w.evalRow(&w.row, &last.Context, daFill)
	if !ok {
		return Frame{}, false
	}
	c := res.caller
	if !c.Has(amd64RSP) {
		c.Set(amd64RSP, res.cfa)
	}
	c.Set(amd64RIP, res.ra)
	for _, r := range amd64CalleeSaved {
		if !c.Has(regOf(r)) {
			if v, ok := last.Context.Get(regOf(r)); ok {
				c.Set(regOf(r), v)
			}
		}
	}
	if c.Regs[amd64RIP] == 0 || c.Regs[amd64RSP] == 0 {
		return Frame{}, false
	}
	return Frame{Trust: TrustCFI, Context: c, SignalCaller: isSignal(signal)}, true
}

// amd64SimulateReturn treats the context frame as a leaf function that
// has not touched the stack: the return address is on top of it.
func (w *walker) amd64SimulateReturn(last *Frame) (Frame, bool) {
	loc, ip, ok := w.scan(last.Context.Regs[amd64RSP], 1)
	if !ok {
		return Frame{}, false
	}
	c := last.Context
	c.Regs[amd64RIP] = ip
	c.Regs[amd64RSP] = loc + 8
	return Frame{Trust: TrustLeaf, Context: c}, true
}

// amd64ByFramePointer follows rbp: the caller's rbp is saved at [rbp], the
// return address at [rbp+8], and the caller's rsp is rbp+16.
func (w *walker) amd64ByFramePointer(last *Frame) (Frame, bool) {
	rbp := last.Context.Regs[amd64RBP]
	if rbp%8 != 0 {
		return Frame{}, false
	}
	rip, ok1 := w.read(rbp + 8)
	callerRBP, ok2 := w.read(rbp)
	if !ok1 || !ok2 {
		return Frame{}, false
	}
	rsp := rbp + 16
	// A non-canonical return address means rbp was no frame pointer.
	if rip > 0x7fffffffffff && rip < 0xffff800000000000 {
		return Frame{}, false
	}
	if rsp <= rbp || callerRBP < rsp {
		return Frame{}, false
	}
	if !w.readable(callerRBP) {
		return Frame{}, false
	}
	c := last.Context
	c.Regs[amd64RIP], c.Regs[amd64RSP], c.Regs[amd64RBP] = rip, rsp, callerRBP
	c.Valid = 1<<amd64RIP | 1<<amd64RSP | 1<<amd64RBP
	return Frame{Trust: TrustFP, Context: c}, true
}

func (w *walker) amd64ByScan(last *Frame) (Frame, bool) {
	loc, ip, ok := w.scan(last.Context.Regs[amd64RSP], scanWordsFor(last))
	if !ok {
		return Frame{}, false
	}
	c := last.Context
	c.Regs[amd64RIP], c.Regs[amd64RSP] = ip, loc+8
	c.Valid = 1<<amd64RIP | 1<<amd64RSP
	// Functions usually push their caller's rbp first and point rbp at
	// it: if the callee's rbp points just below the return address, the
	// caller's rbp is saved there; otherwise an rbp above the return
	// address is plausibly the caller's unchanged.
	if last.Context.Has(amd64RBP) {
		lastRBP := last.Context.Regs[amd64RBP]
		if loc-8 == lastRBP {
			if v, ok := w.read(lastRBP); ok && v > loc {
				c.Set(amd64RBP, v)
			}
		} else if lastRBP >= loc+8 {
			c.Set(amd64RBP, lastRBP)
		}
	}
	return Frame{Trust: TrustScan, Context: c}, true
}
