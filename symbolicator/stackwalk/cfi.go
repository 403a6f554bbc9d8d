package stackwalk

import (
	"github.com/cairn-dev/cairn/debugfiles/breakpad/postfix"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// cfiResult is what a row of CFI recovers: the registers it has rules for
// (in caller.Valid), the CFA and the return address.
type cfiResult struct {
	caller Context
	cfa    uint64
	ra     uint64
}

// evalRow applies a row to the callee's registers the way Breakpad's
// CFIFrameInfo::FindCallerRegs does: the CFA and the return address must
// evaluate, or the row is useless; a register whose rule fails to evaluate
// is simply not recovered. fill is the value unknown registers start with
// (Breakpad leaves 0xda bytes in x86 and amd64 contexts, zeros on arm).
func (w *walker) evalRow(row *unwind.Row, callee *Context, fill uint64) (cfiResult, bool) {
	res := cfiResult{caller: Context{Arch: callee.Arch}}
	if fill != 0 {
		for i := range res.caller.Regs {
			res.caller.Regs[i] = w.mask(fill)
		}
	}
	cfa, ok := w.evalRule(row.CFA, callee, 0, false, true)
	if !ok {
		return res, false
	}
	res.cfa = cfa
	raRule := row.Rule(row.RA)
	if raRule.Kind == unwind.RuleUnspecified {
		// No rule: the return address is still in its register (arm64
		// x30, arm lr), as dump_syms writes ".ra: x30".
		raRule = unwind.Rule{Kind: unwind.RuleSameValue}
	}
	if raRule.Kind == unwind.RuleUndefined {
		res.ra = 0 // the outermost frame: stops the walk
	} else if res.ra, ok = w.evalRegRule(raRule, row.RA, callee, cfa); !ok {
		return res, false
	}
	if row.Flags&unwind.FlagRASigned != 0 && w.arch == unwind.ArchARM64 {
		res.ra = w.ptrauthStrip(res.ra)
	}
	for _, rr := range row.Regs {
		if rr.Reg == row.RA || int(rr.Reg) >= NumRegs {
			continue
		}
		if v, ok := w.evalRegRule(rr.Rule, rr.Reg, callee, cfa); ok {
			res.caller.Set(rr.Reg, v)
		}
	}
	return res, true
}

// evalRegRule recovers a register's caller value.
func (w *walker) evalRegRule(r unwind.Rule, reg unwind.Reg, callee *Context, cfa uint64) (uint64, bool) {
	switch r.Kind {
	case unwind.RuleSameValue:
		return callee.Get(reg)
	case unwind.RuleUndefined, unwind.RuleUnspecified:
		return 0, false
	}
	return w.evalRule(r, callee, cfa, true, false)
}

// evalRule evaluates a rule giving a value: the CFA's (hasCFA false) or a
// register's.
func (w *walker) evalRule(r unwind.Rule, callee *Context, cfa uint64, hasCFA, isCFA bool) (uint64, bool) {
	switch r.Kind {
	case unwind.RuleRegOffset:
		v, ok := callee.Get(r.Reg)
		return w.mask(v + uint64(r.Offset)), ok
	case unwind.RuleRegister:
		if isCFA {
			return 0, false
		}
		return callee.Get(r.Reg)
	case unwind.RuleOffset:
		if !hasCFA {
			return 0, false
		}
		return w.read(w.mask(cfa + uint64(r.Offset)))
	case unwind.RuleValOffset:
		if !hasCFA {
			return 0, false
		}
		return w.mask(cfa + uint64(r.Offset)), true
	case unwind.RulePostfix:
		vars := regVars{ctx: callee, cfa: cfa, hasCFA: hasCFA}
		v, err := w.evaluator().Value(unsafeString(r.Expr), &vars)
		return w.mask(v), err == nil
	}
	return 0, false
}

// evaluator returns the postfix evaluator reading the thread's stack.
func (w *walker) evaluator() postfix.Evaluator {
	if w.dp.Memory == nil {
		w.dp = postfix.Evaluator{Width: w.arch.PointerSize(), Memory: w.readSized}
	}
	return w.dp
}

// regVars gives postfix expressions the callee's known registers under
// Breakpad's names, and the CFA as ".cfa" once it is known.
type regVars struct {
	ctx    *Context
	cfa    uint64
	hasCFA bool
}

// Get implements postfix.Vars.
func (v *regVars) Get(name string) (uint64, bool) {
	if name == ".cfa" {
		return v.cfa, v.hasCFA
	}
	r, ok := v.ctx.Arch.ParseBreakpadName(name)
	if !ok {
		return 0, false
	}
	return v.ctx.Get(r)
}

// Set implements postfix.Vars; CFI rules assign nothing.
func (v *regVars) Set(string, uint64) {}

// regOf converts a small register number.
func regOf(r uint8) unwind.Reg { return unwind.Reg(r) }

// isSignal reports a row of a signal trampoline: its caller's "return
// address" is the interrupted instruction itself.
func isSignal(f unwind.Flags) bool { return f&unwind.FlagSignalFrame != 0 }
