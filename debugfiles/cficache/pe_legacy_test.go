package cficache

// This file keeps the builder's former x64 PE path, which turned
// .pdata/.xdata into rows inside this package, as the reference the
// generic path (pe.Object's unwind.Table through AddTables) is held to:
// TestPELegacyIdentical requires byte-identical cficaches.

import (
	"errors"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// legacyWinToDWARF maps the register numbers of x64 unwind codes (RAX, RCX, RDX,
// RBX, RSP, RBP, RSI, RDI, R8–R15) to DWARF's (rax, rdx, rcx, rbx, rsi,
// rdi, rbp, rsp, r8–r15).
var legacyWinToDWARF = [16]unwind.Reg{0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15}

// legacyAddPE adds the x64 unwind information of a PE image's exception table
// (.pdata/.xdata). Each function becomes one row per step of its prolog
// and one for its body, found by undoing the unwind codes as Windows'
// unwinder does (Microsoft, "x64 exception handling": codes apply once the
// instruction they describe has run; chained unwind information applies
// whole). Epilogs are not described by the codes (Windows recognizes them
// by disassembly), so inside an epilog the body's row is used. Entries
// nested in another (LLVM puts chained parts inside the primary range)
// own their addresses. Functions with a machine frame (interrupt and
// exception entry points) are left out. Images of other machines add
// nothing.
func (b *Builder) legacyAddPE(o *pe.Object) error {
	if o.Machine() != pe.MachineAMD64 {
		return nil
	}
	t, err := o.UnwindTable()
	if errors.Is(err, pe.ErrNoUnwind) {
		return nil
	}
	if err != nil {
		return err
	}
	b.flushSymbols()
	var spans []span
	for _, rf := range t.Functions() {
		if rf.End <= rf.Begin {
			continue
		}
		chain, err := o.X64UnwindChain(rf)
		if err != nil || len(chain) == 0 {
			b.stats.Malformed++
			continue
		}
		spans = b.legacyPERows(spans, rf, chain)
	}
	b.cfi = b.cover(b.cfi, legacyInnermost(spans))
	return nil
}

// legacyPERows appends the rows of one function.
func (b *Builder) legacyPERows(out []span, rf pe.RuntimeFunction, chain []*pe.X64UnwindInfo) []span {
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
	for i, off := range cuts {
		end := rf.End
		if i+1 < len(cuts) {
			end = rf.Begin + cuts[i+1]
		}
		row, ok := legacyPERow(chain, off)
		if !ok {
			b.stats.Unexpressible++
			return out
		}
		row.Start, row.End = uint64(rf.Begin+off), uint64(end)
		ref, ok := b.internRow(&row)
		if !ok {
			b.stats.Unexpressible++
			continue
		}
		out = append(out, span{row.Start, row.End, ref})
	}
	return out
}

// legacyPERow undoes the codes in effect at offset off of the function: those
// of its own unwind information whose instruction has run (all of them
// past the prolog), then every code of the chained ones.
func legacyPERow(chain []*pe.X64UnwindInfo, off uint32) (unwind.Row, bool) {
	type loc struct {
		base unwind.Reg
		k    int64
	}
	const rsp = 7
	cur := loc{rsp, 0}
	var saved []struct {
		reg unwind.Reg
		at  loc
	}
	frameReg, frameOff := unwind.Reg(0), int64(0)
	for n, ui := range chain {
		if ui.FrameRegister != 0 {
			frameReg, frameOff = legacyWinToDWARF[ui.FrameRegister&15], int64(ui.FrameOffset)
		}
		inProlog := n == 0 && off < uint32(ui.PrologSize)
		for _, c := range ui.Codes {
			if inProlog && uint32(c.PrologOffset) > off {
				continue
			}
			switch c.Op {
			case pe.UWOPPushNonvol:
				saved = append(saved, struct {
					reg unwind.Reg
					at  loc
				}{legacyWinToDWARF[c.Info&15], cur})
				cur.k += 8
			case pe.UWOPAllocSmall, pe.UWOPAllocLarge:
				cur.k += int64(c.Value)
			case pe.UWOPSetFPReg:
				if frameReg == 0 {
					return unwind.Row{}, false
				}
				cur = loc{frameReg, -frameOff}
			case pe.UWOPSaveNonvol, pe.UWOPSaveNonvolFar:
				saved = append(saved, struct {
					reg unwind.Reg
					at  loc
				}{legacyWinToDWARF[c.Info&15], loc{cur.base, cur.k + int64(c.Value)}})
			case pe.UWOPPushMachFrame:
				return unwind.Row{}, false
			}
		}
	}
	// The return address is where the stack pointer now points; the CFA,
	// the caller's stack pointer, is just above it.
	cfa := cur.k + 8
	row := unwind.Row{RA: 16, CFA: unwind.Rule{Kind: unwind.RuleRegOffset, Reg: cur.base, Offset: cfa}}
	row.Regs = append(row.Regs, unwind.RegRule{Reg: 16, Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: -8}})
	for _, s := range saved {
		k := s.at.k
		if s.at.base != cur.base {
			// Saved relative to the stack pointer while the CFA follows
			// the frame register: without dynamic allocation the stack
			// pointer is the frame register minus its offset.
			if s.at.base != rsp || cur.base != frameReg {
				continue
			}
			k -= frameOff
		}
		setRegRule(&row, s.reg, unwind.Rule{Kind: unwind.RuleOffset, Offset: k - cfa})
	}
	return row, true
}

// legacyInnermost resolves spans of nested entries: where one lies inside
// another, the one starting later (the inner one) owns its addresses.
// Spans of one function are disjoint; entries nest rarely and shallowly.
func legacyInnermost(spans []span) []span {
	slices.SortStableFunc(spans, func(x, y span) int {
		switch {
		case x.start < y.start:
			return -1
		case x.start > y.start:
			return 1
		}
		return 0
	})
	var out []span
	for _, s := range spans {
		n := len(out)
		if n == 0 || out[n-1].end <= s.start {
			out = append(out, s)
			continue
		}
		// s overlaps spans already out: they start at or before s (sorted).
		i := sort.Search(n, func(i int) bool { return out[i].end > s.start })
		var tail []span
		for _, o := range out[i:] {
			if o.start < s.start {
				tail = append(tail, span{o.start, s.start, o.ref})
			}
			if o.end > s.end {
				tail = append(tail, span{max(o.start, s.end), o.end, o.ref})
			}
		}
		out = out[:i]
		// Keep address order: pieces before s, s, pieces after s.
		for _, t := range tail {
			if t.end <= s.start {
				out = append(out, t)
			}
		}
		out = append(out, s)
		for _, t := range tail {
			if t.start >= s.end {
				out = append(out, t)
			}
		}
	}
	return out
}
