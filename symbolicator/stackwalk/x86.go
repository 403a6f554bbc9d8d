package stackwalk

import (
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// The x86 unwinder follows Breakpad's StackwalkerX86: Windows frame data
// (STACK WIN FrameData programs, or FPO records turned into programs), with
// its scans that repair what MSVC's frame data gets wrong; then CFI; then
// the ebp chain, scanning when ebp points nowhere.

// x86CalleeSaved are the registers the CFI walker keeps when CFI does not
// mention them (ebp, ebx, esi, edi).
var x86CalleeSaved = [...]uint8{x86EBP, x86EBX, x86ESI, x86EDI}

// maxFrameGap is the largest distance between adjacent frames the ebp
// chain repair accepts (Breakpad: 99.5% of frames are smaller).
const maxFrameGap = 128 * 1024

func (w *walker) callerX86(scanOK bool) (Frame, bool) {
	idx := len(w.frames) - 1
	last := &w.frames[idx]
	if info, ok := w.windowsFrameInfo(last); ok {
		w.win[idx] = info
		if f, ok := w.x86ByWin(idx, info, scanOK); ok {
			return f, true
		}
	}
	if f, ok := w.x86ByCFI(last); ok {
		return f, true
	}
	return w.x86ByEBP(last, scanOK)
}

// windowsFrameInfo is Breakpad's FindWindowsFrameInfo: the frame data
// covering the frame, else the parameter size of its function.
func (w *walker) windowsFrameInfo(f *Frame) (winInfo, bool) {
	u := w.unwinder(f)
	if u == nil {
		return winInfo{}, false
	}
	addr := f.Instruction - f.Module.Base
	if wf, ok := u.Win(addr); ok {
		return winInfo{kind: winFull, frame: wf}, true
	}
	if p, ok := u.ParamSize(addr); ok {
		return winInfo{kind: winParamOnly, frame: unwind.WinFrame{ParamSize: p}}, true
	}
	return winInfo{}, false
}

// winVars is the dictionary of a frame data program: named values and
// which of them the program assigned.
type winVars struct {
	names    [24]string
	vals     [24]uint64
	assigned [24]bool
	n        int
}

func (v *winVars) find(name string) int {
	for i := 0; i < v.n; i++ {
		if v.names[i] == name {
			return i
		}
	}
	return -1
}

// Get implements postfix.Vars.
func (v *winVars) Get(name string) (uint64, bool) {
	if i := v.find(name); i >= 0 {
		return v.vals[i], true
	}
	return 0, false
}

// Set implements postfix.Vars for the program's assignments.
func (v *winVars) Set(name string, x uint64) {
	i := v.put(name, x)
	if i >= 0 {
		v.assigned[i] = true
	}
}

// put stores a value without marking it assigned by the program.
func (v *winVars) put(name string, x uint64) int {
	i := v.find(name)
	if i < 0 {
		if v.n == len(v.names) {
			return -1
		}
		i = v.n
		v.n++
		v.names[i] = name
	}
	v.vals[i] = x
	return i
}

// val returns a value, 0 when absent (Breakpad's map operator[]).
func (v *winVars) val(name string) uint64 {
	x, _ := v.Get(name)
	return x
}

func (v *winVars) wasAssigned(name string) bool {
	i := v.find(name)
	return i >= 0 && v.assigned[i]
}

// x86ByWin recovers the caller from frame data (Breakpad's
// GetCallerByWindowsFrameInfo).
func (w *walker) x86ByWin(idx int, info winInfo, scanOK bool) (Frame, bool) {
	if info.kind != winFull {
		return Frame{}, false
	}
	last := &w.frames[idx]
	lc := &last.Context
	wf := &info.frame
	// The callee's parameter area: Breakpad walks every frame below this
	// one and keeps the last parameter size it sees, i.e. the innermost
	// frame's that has one.
	calleeParams := uint32(0)
	for id := idx - 1; id >= 0; id-- {
		if w.frames[id].Trust == TrustInline {
			continue
		}
		if w.win[id].kind != winNone {
			calleeParams = w.win[id].frame.ParamSize
		}
	}
	var vars winVars
	vars.put("$ebp", lc.Regs[x86EBP])
	vars.put("$esp", lc.Regs[x86ESP])
	if lc.Has(x86EBX) {
		vars.put("$ebx", lc.Regs[x86EBX])
	}
	vars.put(".cbCalleeParams", uint64(calleeParams))
	vars.put(".cbSavedRegs", uint64(wf.SavedRegisterSize))
	vars.put(".cbLocals", uint64(wf.LocalSize))

	raSearchStart := uint32(lc.Regs[x86ESP]) + calleeParams + wf.LocalSize + wf.SavedRegisterSize
	old := raSearchStart
	// Look up to three words above, in case the stack was aligned.
	if loc, found, ok := w.scan(uint64(raSearchStart), 3); ok {
		raSearchStart = uint32(loc)
		if last.Trust == TrustContext && wf.Type == 0 && old == raSearchStart && found == lc.Regs[x86EIP] {
			// An FPO system call: the callee returned but its return
			// address is still on top of the stack. Skip it.
			raSearchStart += 4
			if loc, _, ok := w.scan(uint64(raSearchStart), 3); ok {
				raSearchStart = uint32(loc)
			}
		}
	}
	vars.put(".cbParams", uint64(wf.ParamSize))

	program := wf.Program
	recoverEBP := true
	switch {
	case program != "":
	case wf.AllocatesBasePointer:
		program = "$eip .raSearchStart ^ = $ebp $esp .cbCalleeParams + .cbSavedRegs + 8 - ^ = $esp .raSearchStart 4 + ="
	default:
		program = "$eip .raSearchStart ^ = $esp .raSearchStart 4 + ="
		if lc.Has(x86EBX) {
			program += " $ebx $ebx ="
		}
		recoverEBP = false
	}
	program = unsmash(program)
	// An alignment operator makes esp-based search lossy: the return
	// address is then above the frame pointer.
	if lc.Has(x86EBP) && strings.IndexByte(program, '@') >= 0 {
		raSearchStart = uint32(lc.Regs[x86EBP]) + 4
	}
	vars.put(".raSearchStart", uint64(raSearchStart))
	vars.put(".raSearch", uint64(raSearchStart))

	trust := TrustCFI
	err := w.evaluator().Run(program, &vars)
	if err != nil || !vars.wasAssigned("$eip") || !vars.wasAssigned("$esp") {
		loc, eip, ok := uint64(0), uint64(0), false
		if scanOK {
			loc, eip, ok = w.scan(lc.Regs[x86ESP], scanWordsFor(last))
		}
		if !ok {
			return Frame{}, false
		}
		vars.put("$eip", eip)
		vars.put("$esp", w.mask(loc+4))
		trust = TrustScan
	}

	if vars.val("$eip") != 0 || vars.val("$ebp") != 0 {
		offset := uint32(0)
		if eip := vars.val("$eip"); w.mods.find(eip) == nil {
			// Not a return address: look above where it was found.
			start := uint32(vars.val(".raSearchStart")) + 4
			if scanOK {
				if loc, eip, ok := w.scan(uint64(start), scanWordsFor(last)); ok {
					vars.put("$eip", eip)
					vars.put("$esp", w.mask(loc+4))
					offset = uint32(loc) - start
					trust = TrustCFIScan
				}
			}
		}
		if recoverEBP {
			// Frames were skipped when ebp lies below the return address;
			// then, or when ebp points nowhere, look for a saved ebp in the
			// saved-register area, from its top down.
			ebp := vars.val("$ebp")
			skipped := trust != TrustCFI && uint32(ebp) <= raSearchStart+offset
			if skipped || !w.readable(ebp) {
				searchBytes := wf.SavedRegisterSize + offset
				end := uint32(lc.Regs[x86ESP]) + calleeParams
				for loc := end + searchBytes; loc >= end; loc -= 4 {
					v, ok := w.read(uint64(loc))
					if !ok {
						break
					}
					if w.readable(v) {
						vars.put("$ebp", v)
						break
					}
					if loc < 4 {
						break
					}
				}
			}
		}
	}

	c := *lc
	c.Regs[x86EIP] = w.mask(vars.val("$eip"))
	c.Regs[x86ESP] = w.mask(vars.val("$esp"))
	c.Regs[x86EBP] = w.mask(vars.val("$ebp"))
	c.Valid = 1<<x86EIP | 1<<x86ESP | 1<<x86EBP
	for _, r := range [...]struct {
		name string
		reg  uint8
	}{{"$ebx", x86EBX}, {"$esi", x86ESI}, {"$edi", x86EDI}} {
		if vars.wasAssigned(r.name) {
			c.Set(regOf(r.reg), vars.val(r.name))
		}
	}
	return Frame{Trust: trust, Context: c}, true
}

func (w *walker) x86ByCFI(last *Frame) (Frame, bool) {
	if !w.lookupCFI(last) {
		return Frame{}, false
	}
	signal := w.row.Flags
	res, ok := w.evalRow(&w.row, &last.Context, daFill)
	if !ok {
		return Frame{}, false
	}
	c := res.caller
	c.Set(x86EIP, res.ra)
	if !c.Has(x86ESP) {
		c.Set(x86ESP, res.cfa)
	}
	for _, r := range x86CalleeSaved {
		if !c.Has(regOf(r)) {
			if v, ok := last.Context.Get(regOf(r)); ok {
				c.Set(regOf(r), v)
			}
		}
	}
	if !c.Has(x86EBP) {
		return Frame{}, false
	}
	return Frame{Trust: TrustCFI, Context: c, SignalCaller: isSignal(signal)}, true
}

// x86ByEBP assumes the standard frame: the caller's ebp at [ebp], the
// return address at [ebp+4], the caller's esp at ebp+8. When ebp points
// outside the stack it scans, and repairs the ebp chain from the word
// below the return address when that looks like a frame pointer.
func (w *walker) x86ByEBP(last *Frame, scanOK bool) (Frame, bool) {
	lc := &last.Context
	ebp := lc.Regs[x86EBP]
	var eip, esp, callerEBP uint64
	trust := TrustFP
	v1, ok1 := w.read(w.mask(ebp + 4))
	v2, ok2 := w.read(ebp)
	if ok1 && ok2 {
		eip, callerEBP, esp = v1, v2, w.mask(ebp+8)
	} else {
		if !scanOK {
			return Frame{}, false
		}
		loc, ip, ok := w.scan(lc.Regs[x86ESP], scanWordsFor(last))
		if !ok {
			return Frame{}, false
		}
		eip, esp = ip, w.mask(loc+4)
		chain := w.mask(esp - 8)
		v, ok := w.read(chain)
		if !ok || v <= chain || v-chain > maxFrameGap {
			v = ebp
		}
		callerEBP = v
		trust = TrustScan
	}
	c := *lc
	c.Regs[x86EIP], c.Regs[x86ESP], c.Regs[x86EBP] = eip, esp, callerEBP
	c.Valid = 1<<x86EIP | 1<<x86ESP | 1<<x86EBP
	return Frame{Trust: trust, Context: c}, true
}

// unsmash separates an assignment operator written against the next token
// ("... + =$eip $T0 4 + ^ ="), which MSVC 2010 emits in LTO builds and
// Breakpad's evaluator accepts.
func unsmash(program string) string {
	fields := strings.Fields(program)
	changed := false
	for _, f := range fields {
		if len(f) > 1 && f[0] == '=' {
			changed = true
			break
		}
	}
	if !changed {
		return program
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(f) > 1 && f[0] == '=' {
			b.WriteString("= ")
			f = f[1:]
		}
		b.WriteString(f)
	}
	return b.String()
}
