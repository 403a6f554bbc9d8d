package stackwalk

// The 32-bit ARM unwinder follows Breakpad's StackwalkerARM: CFI (not on
// iOS, whose CFI Breakpad does not trust), then the frame pointer only on
// iOS (r7; elsewhere ARM and Thumb code disagree on the frame pointer
// register, so none is assumed), then stack scanning.

func (w *walker) callerARM(last *Frame, scanOK bool) (Frame, bool) {
	ios := w.osShort == "ios"
	if !ios {
		if f, ok := w.armByCFI(last, ios); ok {
			return f, true
		}
	}
	if ios {
		if f, ok := w.armByFramePointer(last, armIOS); ok {
			return f, true
		}
	}
	if scanOK {
		return w.armByScan(last, armPC, armSP)
	}
	return Frame{}, false
}

func (w *walker) armByCFI(last *Frame, ios bool) (Frame, bool) {
	if !w.lookupCFI(last) {
		return Frame{}, false
	}
	signal := w.row.Flags
	res, ok := w.evalRow(&w.row, &last.Context, 0)
	if !ok {
		return Frame{}, false
	}
	c := res.caller
	// r4–r11 are callee-saved (AAPCS).
	for r := uint8(4); r <= 11; r++ {
		if !c.Has(regOf(r)) {
			if v, ok := last.Context.Get(regOf(r)); ok {
				c.Set(regOf(r), v)
			}
		}
	}
	if !c.Has(armPC) {
		if ios {
			// The return address rule recovered lr; the caller's pc is the
			// callee's lr.
			c.Set(armLR, res.ra)
			c.Set(armPC, last.Context.Regs[armLR])
		} else {
			c.Set(armPC, res.ra)
		}
	}
	if !c.Has(armSP) {
		c.Set(armSP, res.cfa)
	}
	return Frame{Trust: TrustCFI, Context: c, SignalCaller: isSignal(signal)}, true
}

// armByFramePointer follows the frame pointer register fp: the caller's fp
// at [fp], its lr at [fp+4], its sp at fp+8; the caller's pc is the
// callee's lr.
func (w *walker) armByFramePointer(last *Frame, fp uint8) (Frame, bool) {
	lc := &last.Context
	if !lc.Has(regOf(fp)) {
		return Frame{}, false
	}
	f := lc.Regs[fp]
	var callerFP, callerLR uint64
	if f != 0 {
		var ok bool
		if callerFP, ok = w.read(f); !ok {
			return Frame{}, false
		}
		if callerLR, ok = w.read(w.mask(f + 4)); !ok {
			return Frame{}, false
		}
	}
	sp := lc.Regs[armSP]
	if f != 0 {
		sp = w.mask(f + 8)
	}
	c := *lc
	c.Regs[fp], c.Regs[armSP] = callerFP, sp
	c.Regs[armPC], c.Regs[armLR] = lc.Regs[armLR], callerLR
	c.Valid = 1<<armPC | 1<<armLR | 1<<uint(fp) | 1<<armSP
	return Frame{Trust: TrustFP, Context: c}, true
}
