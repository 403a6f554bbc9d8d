package pe

import (
	"fmt"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// x64ToDWARF maps the register numbers of x64 unwind codes (RAX, RCX, RDX,
// RBX, RSP, RBP, RSI, RDI, R8–R15) to DWARF's (rax, rdx, rcx, rbx, rsi,
// rdi, rbp, rsp, r8–r15).
var x64ToDWARF = [16]unwind.Reg{0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15}

// DWARF numbers of the amd64 registers the rows name.
const (
	dwarfRSP unwind.Reg = 7
	dwarfRIP unwind.Reg = 16
)

// X64Rows appends the unwind rows of one x64 function to rows: one row per
// step of its prolog and one for its body, found by undoing the unwind
// codes as Windows' unwinder does (Microsoft, "x64 exception handling":
// codes apply once the instruction they describe has run; chained unwind
// information applies whole). Epilogs are not described by the codes
// (Windows recognizes them by disassembly), so inside an epilog the body's
// row applies. Addresses are RVAs; every row's Entry is the function's
// range and owns its Regs.
//
// Where a step cannot be expressed (a machine frame, a SET_FPREG without a
// frame register) the function's rows stop before it, without error: the
// earlier steps are still right. An entry whose unwind information cannot
// be read is an error, with rows unchanged.
func (o *Object) X64Rows(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, error) {
	if rf.End <= rf.Begin {
		return rows, nil
	}
	chain, err := o.X64UnwindChain(rf)
	if err != nil {
		return rows, fmt.Errorf("pe: unwind %#x: %w", rf.Begin, err)
	}
	if len(chain) == 0 {
		return rows, fmt.Errorf("pe: unwind %#x: no unwind info", rf.Begin)
	}
	first := chain[0]
	// Row boundaries: the end of each prolog instruction with a code.
	cuts := []uint32{0}
	for _, c := range first.Codes {
		if off := uint32(c.PrologOffset); off > 0 && off <= uint32(first.PrologSize) && rf.Begin+off < rf.End {
			cuts = append(cuts, off)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	entry := unwind.Range{Start: uint64(rf.Begin), End: uint64(rf.End)}
	for i, off := range cuts {
		end := rf.End
		if i+1 < len(cuts) {
			end = rf.Begin + cuts[i+1]
		}
		row, ok := x64Row(chain, off)
		if !ok {
			return rows, nil
		}
		row.Start, row.End, row.Entry = uint64(rf.Begin+off), uint64(end), entry
		rows = append(rows, row)
	}
	return rows, nil
}

// x64Loc is a stack location: register base plus k bytes.
type x64Loc struct {
	base unwind.Reg
	k    int64
}

// x64Save is where a nonvolatile register was saved.
type x64Save struct {
	reg unwind.Reg
	at  x64Loc
}

// x64Row undoes the codes in effect at offset off of the function: those
// of its own unwind information whose instruction has run (all of them
// past the prolog), then every code of the chained ones. ok is false where
// the codes cannot be expressed as a row.
func x64Row(chain []*X64UnwindInfo, off uint32) (row unwind.Row, ok bool) {
	cur := x64Loc{dwarfRSP, 0}
	var saved []x64Save
	frameReg, frameOff := unwind.Reg(0), int64(0)
	for n, ui := range chain {
		if ui.FrameRegister != 0 {
			frameReg, frameOff = x64ToDWARF[ui.FrameRegister&15], int64(ui.FrameOffset)
		}
		inProlog := n == 0 && off < uint32(ui.PrologSize)
		for _, c := range ui.Codes {
			if inProlog && uint32(c.PrologOffset) > off {
				continue
			}
			switch c.Op {
			case UWOPPushNonvol:
				saved = append(saved, x64Save{x64ToDWARF[c.Info&15], cur})
				cur.k += 8
			case UWOPAllocSmall, UWOPAllocLarge:
				cur.k += int64(c.Value)
			case UWOPSetFPReg:
				if frameReg == 0 {
					return unwind.Row{}, false
				}
				cur = x64Loc{frameReg, -frameOff}
			case UWOPSaveNonvol, UWOPSaveNonvolFar:
				saved = append(saved, x64Save{x64ToDWARF[c.Info&15], x64Loc{cur.base, cur.k + int64(c.Value)}})
			case UWOPPushMachFrame:
				return unwind.Row{}, false
			}
		}
	}
	// The return address is where the stack pointer now points; the CFA,
	// the caller's stack pointer, is just above it.
	cfa := cur.k + 8
	row = unwind.Row{RA: dwarfRIP, CFA: unwind.Rule{Kind: unwind.RuleRegOffset, Reg: cur.base, Offset: cfa}}
	row.Regs = append(make([]unwind.RegRule, 0, len(saved)+1), unwind.RegRule{Reg: dwarfRIP, Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: -8}})
	for _, s := range saved {
		k := s.at.k
		if s.at.base != cur.base {
			// Saved relative to the stack pointer while the CFA follows
			// the frame register: without dynamic allocation the stack
			// pointer is the frame register minus its offset.
			if s.at.base != dwarfRSP || cur.base != frameReg {
				continue
			}
			k -= frameOff
		}
		setRegRule(&row, s.reg, unwind.Rule{Kind: unwind.RuleOffset, Offset: k - cfa})
	}
	return row, true
}

// setRegRule sets reg's rule in row, keeping Regs sorted; a later save of
// the same register replaces the earlier one.
func setRegRule(row *unwind.Row, reg unwind.Reg, r unwind.Rule) {
	i, found := slices.BinarySearchFunc(row.Regs, reg, func(e unwind.RegRule, t unwind.Reg) int { return int(e.Reg) - int(t) })
	if found {
		row.Regs[i].Rule = r
		return
	}
	row.Regs = slices.Insert(row.Regs, i, unwind.RegRule{Reg: reg, Rule: r})
}
