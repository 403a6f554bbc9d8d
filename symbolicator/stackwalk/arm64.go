package stackwalk

// The arm64 unwinder follows Breakpad's StackwalkerARM64: CFI, then the
// frame pointer chain (x29 points at the saved x29 and x30 pair), then
// stack scanning. Return addresses may carry pointer authentication codes
// in their upper bits; they are stripped (see ptrauthStrip).

// arm64Mask is the mask of plausible code addresses: every bit up to the
// highest bit of the end of the highest module. Breakpad guesses the
// address range from the loaded modules the same way.
func (w *walker) arm64Mask() uint64 {
	if len(w.mods.loaded) == 0 {
		return ^uint64(0)
	}
	hi := w.mods.loaded[len(w.mods.loaded)-1]
	m := hi.Base + hi.Size
	m |= m >> 1
	m |= m >> 2
	m |= m >> 4
	m |= m >> 8
	m |= m >> 16
	m |= m >> 32
	return m
}

// ptrauthStrip removes a pointer authentication code: the address with the
// bits above the mask cleared, when that lands in a module; otherwise the
// value is left alone (it was no signed code pointer).
func (w *walker) ptrauthStrip(p uint64) uint64 {
	s := p & w.addrMask
	if w.mods.find(s) != nil {
		return s
	}
	return p
}

func (w *walker) callerARM64(scanOK bool) (Frame, bool) {
	last := &w.frames[len(w.frames)-1]
	if f, ok := w.arm64ByCFI(last); ok {
		return f, true
	}
	if f, ok := w.arm64ByFramePointer(last); ok {
		return f, true
	}
	if scanOK {
		return w.armByScan(last, arm64PC, arm64SP)
	}
	return Frame{}, false
}

func (w *walker) arm64ByCFI(last *Frame) (Frame, bool) {
	if !w.lookupCFI(last) {
		return Frame{}, false
	}
	signal := w.row.Flags
	res, ok := w.evalRow(&w.row, &last.Context, 0)
	if !ok {
		return Frame{}, false
	}
	c := res.caller
	// x19–x29 are callee-saved (AAPCS64).
	for r := uint8(19); r <= 29; r++ {
		if !c.Has(regOf(r)) {
			if v, ok := last.Context.Get(regOf(r)); ok {
				c.Set(regOf(r), v)
			}
		}
	}
	if !c.Has(arm64PC) {
		c.Set(arm64PC, res.ra)
	}
	if !c.Has(arm64SP) {
		c.Set(arm64SP, res.cfa)
	}
	c.Regs[arm64PC] = w.ptrauthStrip(c.Regs[arm64PC])
	return Frame{Trust: TrustCFI, Context: c, SignalCaller: isSignal(signal)}, true
}

// arm64ByFramePointer follows x29: the caller's x29 at [x29], its return
// address at [x29+8], its sp at x29+16. The caller's pc is the callee's
// lr, which a CFI frame may not have recovered; it is then read from the
// frame record of the frame before.
func (w *walker) arm64ByFramePointer(last *Frame) (Frame, bool) {
	lc := &last.Context
	if !lc.Has(arm64LR) {
		w.correctLR(last)
	}
	fp := lc.Regs[arm64FP]
	var callerFP, callerLR uint64
	if fp != 0 {
		var ok bool
		if callerFP, ok = w.read(fp); !ok {
			return Frame{}, false
		}
		if callerLR, ok = w.read(fp + 8); !ok {
			return Frame{}, false
		}
	}
	callerLR = w.ptrauthStrip(callerLR)
	sp := lc.Regs[arm64SP]
	if fp != 0 {
		sp = fp + 16
	}
	c := *lc
	c.Regs[arm64FP], c.Regs[arm64SP] = callerFP, sp
	c.Regs[arm64PC], c.Regs[arm64LR] = lc.Regs[arm64LR], callerLR
	c.Valid = 1<<arm64PC | 1<<arm64LR | 1<<arm64FP | 1<<arm64SP
	return Frame{Trust: TrustFP, Context: c}, true
}

// correctLR recovers the lr of a frame whose unwinding did not, from the
// frame record its callee's frame pointer points at, when that record
// agrees with the frame's own frame pointer (Breakpad's
// CorrectRegLRByFramePointer).
func (w *walker) correctLR(last *Frame) {
	lc := &last.Context
	if len(w.frames) < 2 || lc.Regs[arm64FP] <= lc.Regs[arm64SP] {
		return
	}
	id := len(w.frames) - 2
	for id >= 0 && w.frames[id].Trust == TrustInline {
		id--
	}
	if id < 0 {
		return
	}
	calleeFP := w.frames[id].Context.Regs[arm64FP]
	var fp, lr uint64
	if calleeFP != 0 {
		var ok bool
		if fp, ok = w.read(calleeFP); !ok {
			return
		}
	}
	if lc.Regs[arm64FP] != fp {
		return
	}
	if calleeFP != 0 {
		var ok bool
		if lr, ok = w.read(calleeFP + 8); !ok {
			return
		}
	}
	lc.Regs[arm64LR] = w.ptrauthStrip(lr)
}

// armByScan scans for a return address above sp (arm and arm64).
func (w *walker) armByScan(last *Frame, pc, sp uint8) (Frame, bool) {
	loc, ip, ok := w.scan(last.Context.Regs[sp], scanWordsFor(last))
	if !ok {
		return Frame{}, false
	}
	c := last.Context
	c.Regs[pc], c.Regs[sp] = ip, w.mask(loc+w.word())
	c.Valid = 1<<pc | 1<<sp
	return Frame{Trust: TrustScan, Context: c}, true
}
