package pe

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// DWARF numbers of the arm64 registers the rows name: x0–x30 are 0–30, sp
// is 31 and v0–v31 are 64–95 (the callee-saved d8–d15 are the low halves
// of v8–v15).
const (
	arm64DwarfFP unwind.Reg = 29
	arm64DwarfLR unwind.Reg = 30
	arm64DwarfSP unwind.Reg = 31
	arm64DwarfV0 unwind.Reg = 64
	// arm64DwarfRegs bounds the register numbers a frame tracks.
	arm64DwarfRegs = 96
)

// arm64SaveLRPairX is `stp x19, lr, [sp, #-Offset]!`: the save of packed
// data with RegI 1 and CR 1, where Microsoft's canonical prolog merges the
// save of lr into the last integer save (for an odd RegI) and that save is
// the pre-indexed first one. It has no unwind code of its own. decodeARM64Packed
// gives it as save_lrpair with the save area's size as offset; the rows
// rewrite it to this private operation.
const arm64SaveLRPairX ARM64Op = 0xf0

// arm64MaxEpilogRows bounds the rows the epilogs of one function add. Real
// functions have a few dozen epilogs of a few instructions; a record that
// claims more (up to 65535 scopes over a function of 2^18 instructions) is
// hostile, and the epilogs past the budget get the body's row.
const arm64MaxEpilogRows = 1 << 16

// ErrARM64CustomStack reports ARM64 unwind codes that cannot be turned into
// rows: the custom stacks of kernel and dispatch code (trap frame, machine
// frame, context, EC context, clear_unwound_to_call), reserved codes, and
// the pre-indexed form of save_any_reg.
var ErrARM64CustomStack = errors.New("pe: ARM64 unwind code not expressible as rows")

// ARM64Rows appends to rows the unwind rows of one ARM64 function (or
// fragment) rf: the rules at each instruction boundary of its prolog, one
// row for its body, and the rules at each instruction boundary of each of
// its epilogs, merging neighbours with the same rules. Rows cover
// [rf.Begin, rf.End) in ascending order, are disjoint, have Entry
// {rf.Begin, rf.End} and own their Regs. Addresses are RVAs.
//
// The rules are found by undoing the unwind codes as Windows does
// (Microsoft, "ARM64 exception handling"): each code before end or end_c
// is one prolog or epilog instruction, listed in reverse order of the
// prolog; after k prolog instructions the last k codes apply, after j
// epilog instructions all but the first j, and the codes of the "phantom"
// prolog after an end_c always apply. An epilog is followed by its return
// (the end code), where nothing remains to undo; after an end_c it has
// none. Packed data (Flag 1) implies the canonical prolog of its fields
// and an epilog at the end of the function mirroring it without the homing
// stores and without `mov x29, sp`; a packed fragment (Flag 2) has neither.
// The CFA is x29-based wherever the codes still to undo set x29 (set_fp,
// add_fp), else sp-based; pac_sign_lr among them sets FlagRASigned.
//
// Epilog scopes that contradict the function (overlapping the prolog or
// each other, out of order, starting at no code, past the end) get the
// body's row. A function whose codes include custom-stack or reserved
// codes yields an error wrapping ErrARM64CustomStack, one whose unwind
// information cannot be read an error; rows are then unchanged.
func (o *Object) ARM64Rows(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, error) {
	rows, _, err := o.arm64Rows(rf, rows)
	return rows, err
}

// arm64Rows is ARM64Rows, also counting the epilog scopes (or the
// prolog) it had to replace with the body's row because they contradict
// the function.
func (o *Object) arm64Rows(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, int, error) {
	if rf.End <= rf.Begin {
		return rows, 0, nil
	}
	ui, err := o.ARM64UnwindInfo(rf)
	if err != nil {
		return rows, 0, fmt.Errorf("pe: arm64 rows %#x: %w", rf.Begin, err)
	}
	out, malformed, err := arm64FunctionRows(ui, rf.Begin, rf.End, rows)
	if err != nil {
		return rows, 0, fmt.Errorf("pe: arm64 rows %#x: %w", rf.Begin, err)
	}
	return out, malformed, nil
}

// arm64Seq is a list of unwind codes in unwind order, of which one or more
// sequences (the prolog's, an epilog's) start at some index, with the
// frames evaluated from each index so far.
type arm64Seq struct {
	ops  []ARM64UnwindOp
	memo []*arm64Frame
	errs []error
	// stop[i] is the index of the first end or end_c at or after i,
	// len(ops) when there is none.
	stop []int
}

func newARM64Seq(ops []ARM64UnwindOp) *arm64Seq {
	s := &arm64Seq{ops: ops, memo: make([]*arm64Frame, len(ops)+1), errs: make([]error, len(ops)+1), stop: make([]int, len(ops)+1)}
	next := len(ops)
	s.stop[len(ops)] = next
	for i := len(ops) - 1; i >= 0; i-- {
		if op := ops[i].Op; op == ARM64End || op == ARM64EndC {
			next = i
		}
		s.stop[i] = next
	}
	return s
}

// instructions counts the instructions of the sequence starting at i (the
// codes before the first end or end_c) and returns the code ending it;
// ok is false when the codes run out first.
func (s *arm64Seq) instructions(i int) (n int, term ARM64Op, ok bool) {
	if i < 0 || i >= len(s.ops) {
		return 0, ARM64Reserved, false
	}
	j := s.stop[i]
	if j == len(s.ops) {
		return j - i, ARM64Reserved, false
	}
	return j - i, s.ops[j].Op, true
}

// frame evaluates, once per index, the codes from i on.
func (s *arm64Seq) frame(i int) (*arm64Frame, error) {
	if i < 0 || i > len(s.ops) {
		return nil, fmt.Errorf("code %d outside the %d codes", i, len(s.ops))
	}
	if s.memo[i] == nil && s.errs[i] == nil {
		f, err := evalARM64(s.ops[i:])
		if err != nil {
			s.errs[i] = err
		} else {
			s.memo[i] = &f
		}
	}
	return s.memo[i], s.errs[i]
}

// arm64Frame is the state of a function at an instruction boundary: how to
// compute the CFA and where the registers saved so far are.
type arm64Frame struct {
	cfa   unwind.Rule
	regs  []unwind.RegRule
	flags unwind.Flags
}

func (f *arm64Frame) equal(g *arm64Frame) bool {
	return f.cfa.Equal(g.cfa) && f.flags == g.flags &&
		slices.EqualFunc(f.regs, g.regs, func(a, b unwind.RegRule) bool { return a.Reg == b.Reg && a.Rule.Equal(b.Rule) })
}

// evalARM64 undoes the codes of ops in order, up to the first end (end_c
// is skipped: the phantom prolog after it has run), symbolically: offsets
// are from the value sp has at the boundary. A save restored twice takes
// the later restore, which reads the caller's value (the earliest save in
// the prolog).
func evalARM64(ops []ARM64UnwindOp) (arm64Frame, error) {
	var (
		cur     int64 // the unwound sp, from the boundary's sp
		fpAt    int64 // x29's value from the boundary's sp, once fpSet
		fpSet   bool
		fpSaved bool // x29 was restored from memory: set_fp after it would read the caller's x29
		saved   [arm64DwarfRegs]int64
		has     [arm64DwarfRegs]bool
		signed  bool
		next    int // save_next codes waiting for the pair they extend
	)
	save := func(r unwind.Reg, at int64) {
		saved[r], has[r] = at, true
		if r == arm64DwarfFP {
			fpSaved = true
		}
	}
	// saveRun records a run of registers in consecutive 8-byte slots
	// from at: the pair of a save code and the pairs save_next adds to
	// it, the x registers running on into d8 after x28 (Microsoft's
	// save_next: after the last integer pair comes the first FP pair).
	saveRun := func(first unwind.Reg, fp bool, count int, at int64) error {
		r := first
		for k := range count {
			if !fp && (r > 30 || k >= 2 && r > 28) {
				if k < 2 {
					return fmt.Errorf("save of x%d", r)
				}
				r, fp = arm64DwarfV0+8, true
			}
			if fp && r >= arm64DwarfV0+32 || k >= 2 && fp && r > arm64DwarfV0+15 {
				return fmt.Errorf("save_next past d15 (%d registers from %d)", count, first)
			}
			save(r, at+8*int64(k))
			r++
		}
		return nil
	}
	xreg := func(n uint8) (unwind.Reg, error) {
		if n > 30 {
			return 0, fmt.Errorf("save of x%d", n)
		}
		return unwind.Reg(n), nil
	}
	for _, op := range ops {
		pairs := 2 + 2*next
		if op.Op != ARM64SaveNext {
			next = 0
		}
		off := int64(op.Offset)
		var err error
		switch op.Op {
		case ARM64AllocS, ARM64AllocM, ARM64AllocL:
			cur += int64(op.Size)
		case ARM64SaveR19R20X, ARM64SaveRegPX:
			if op.Reg < 19 {
				// The homing stores of packed data (H): saves of
				// argument registers, which are not restored;
				// only the allocation counts.
				cur += off
				break
			}
			err = saveRun(unwind.Reg(op.Reg), false, pairs, cur)
			cur += off
		case ARM64SaveRegP:
			if op.Reg < 19 {
				break // homing store, as above
			}
			err = saveRun(unwind.Reg(op.Reg), false, pairs, cur+off)
		case ARM64SaveFPLR:
			save(arm64DwarfFP, cur+off)
			save(arm64DwarfLR, cur+off+8)
		case ARM64SaveFPLRX:
			save(arm64DwarfFP, cur)
			save(arm64DwarfLR, cur+8)
			cur += off
		case ARM64SaveReg, ARM64SaveRegX:
			var r unwind.Reg
			if r, err = xreg(op.Reg); err != nil {
				break
			}
			if op.Op == ARM64SaveReg {
				save(r, cur+off)
			} else {
				save(r, cur)
				cur += off
			}
		case ARM64SaveLRPair:
			var r unwind.Reg
			if r, err = xreg(op.Reg); err == nil {
				save(r, cur+off)
				save(arm64DwarfLR, cur+off+8)
			}
		case arm64SaveLRPairX:
			var r unwind.Reg
			if r, err = xreg(op.Reg); err == nil {
				save(r, cur)
				save(arm64DwarfLR, cur+8)
				cur += off
			}
		case ARM64SaveFRegP:
			err = saveRun(arm64DwarfV0+unwind.Reg(op.Reg), true, pairs, cur+off)
		case ARM64SaveFRegPX:
			err = saveRun(arm64DwarfV0+unwind.Reg(op.Reg), true, pairs, cur)
			cur += off
		case ARM64SaveFReg:
			save(arm64DwarfV0+unwind.Reg(op.Reg&31), cur+off)
		case ARM64SaveFRegX:
			save(arm64DwarfV0+unwind.Reg(op.Reg&31), cur)
			cur += off
		case ARM64SetFP, ARM64AddFP:
			// The instruction set x29 = sp + Size, so undoing it
			// reads sp back from x29: the CFA is x29-based. A
			// second one, or one after x29 was restored from
			// memory, would need the caller's x29.
			if fpSet || fpSaved {
				return arm64Frame{}, fmt.Errorf("%v after x29 was set or restored", op.Op)
			}
			fpSet, fpAt = true, cur+int64(op.Size)
		case ARM64Nop:
		case ARM64EndC:
			// The phantom prolog of the parent region follows.
		case ARM64SaveNext:
			next++
		case ARM64SaveAnyReg:
			err = saveAnyReg(op, cur, save)
		case ARM64PACSignLR:
			signed = true
		case ARM64End:
			return newARM64Frame(cur, fpAt, fpSet, &saved, &has, signed), nil
		default:
			return arm64Frame{}, fmt.Errorf("%w: %v", ErrARM64CustomStack, op.Op)
		}
		if err != nil {
			return arm64Frame{}, fmt.Errorf("%v: %w", op.Op, err)
		}
	}
	return newARM64Frame(cur, fpAt, fpSet, &saved, &has, signed), nil
}

// saveAnyReg applies save_any_reg (11100111 0pxrrrrr ffoooooo: p pair, x
// pre-indexed, ff the class x, d or q). The pre-indexed form is rejected:
// how its offset encodes the decrement is not pinned down by a producer
// the project can check against.
func saveAnyReg(op ARM64UnwindOp, cur int64, save func(unwind.Reg, int64)) error {
	if op.Len != 3 {
		return fmt.Errorf("%d-byte code", op.Len)
	}
	b1, b2 := op.Code[1], op.Code[2]
	if b1&0x80 != 0 || b1&0x20 != 0 || b2>>6 == 3 {
		return fmt.Errorf("%w: save_any_reg %#x %#x", ErrARM64CustomStack, b1, b2)
	}
	n := unwind.Reg(b1 & 0x1f)
	count, size := 1, int64(8)
	if b1&0x40 != 0 {
		count = 2
	}
	switch b2 >> 6 {
	case 0:
		if n+unwind.Reg(count) > 31 {
			return fmt.Errorf("save_any_reg of x%d", n+unwind.Reg(count)-1)
		}
	case 1:
		n += arm64DwarfV0
	case 2:
		n, size = n+arm64DwarfV0, 16
	}
	for k := range count {
		r := n + unwind.Reg(k)
		if r >= arm64DwarfRegs {
			return fmt.Errorf("save_any_reg of register %d", r)
		}
		save(r, cur+int64(op.Offset)+int64(k)*size)
	}
	return nil
}

// newARM64Frame expresses an evaluation relative to the CFA, the unwound sp.
func newARM64Frame(cur, fpAt int64, fpSet bool, saved *[arm64DwarfRegs]int64, has *[arm64DwarfRegs]bool, signed bool) arm64Frame {
	f := arm64Frame{cfa: unwind.Rule{Kind: unwind.RuleRegOffset, Reg: arm64DwarfSP, Offset: cur}}
	if fpSet {
		f.cfa = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: arm64DwarfFP, Offset: cur - fpAt}
	}
	n := 0
	for _, h := range has {
		if h {
			n++
		}
	}
	f.regs = make([]unwind.RegRule, 0, n)
	for r := range has {
		if has[r] {
			f.regs = append(f.regs, unwind.RegRule{Reg: unwind.Reg(r), Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: saved[r] - cur}})
		}
	}
	if signed {
		f.flags = unwind.FlagRASigned
	}
	return f
}

// arm64Epilog is one epilog: its offset in the function and the index of
// its first code in seq.
type arm64Epilog struct {
	start uint32
	seq   *arm64Seq
	index int
}

// arm64FunctionRows lays the rows of a function [begin, end) out from its
// decoded unwind information; malformed counts the epilog scopes (and a
// prolog longer than the function) that got the body's row instead.
func arm64FunctionRows(ui *ARM64UnwindInfo, begin, end uint32, rows []unwind.Row) (_ []unwind.Row, malformed int, _ error) {
	length := end - begin
	if length < 4 {
		return rows, 0, nil
	}
	var (
		seq     *arm64Seq
		epilogs []arm64Epilog
	)
	if ui.Flag == ARM64FlagUnpacked {
		ops, index := decodeARM64All(ui.Codes)
		seq = newARM64Seq(ops)
		at := func(codeIndex int) int {
			i, ok := slices.BinarySearch(index, codeIndex)
			if !ok {
				return -1
			}
			return i
		}
		if ui.E {
			// A single epilog ending the function.
			i := at(int(ui.EpilogIndex))
			if n, term, ok := seq.instructions(max(i, 0)); i >= 0 && ok {
				if term == ARM64End {
					n++ // the return
				}
				if uint32(n)*4 <= length {
					epilogs = append(epilogs, arm64Epilog{start: length - uint32(n)*4, seq: seq, index: i})
				} else {
					malformed++
				}
			} else {
				malformed++
			}
		}
		for _, sc := range ui.Epilogs {
			i := at(int(sc.StartIndex))
			if i < 0 {
				malformed++
				continue
			}
			epilogs = append(epilogs, arm64Epilog{start: sc.Start, seq: seq, index: i})
		}
	} else {
		prolog := packedProlog(ui)
		seq = newARM64Seq(prolog)
		if ui.Flag == ARM64FlagPacked {
			ep := newARM64Seq(packedEpilog(prolog))
			n, _, _ := ep.instructions(0)
			if span := uint32(n+1) * 4; span <= length {
				epilogs = append(epilogs, arm64Epilog{start: length - span, seq: ep})
			} else {
				malformed++
			}
		}
	}

	body, err := seq.frame(0)
	if err != nil {
		return rows, 0, err
	}
	entry := unwind.Range{Start: uint64(begin), End: uint64(end)}
	first := len(rows)
	emit := func(from, to uint32, f *arm64Frame) {
		from, to = min(from, length), min(to, length)
		if from >= to {
			return
		}
		if n := len(rows); n > first && rows[n-1].End == uint64(begin+from) && rowFrameEqual(&rows[n-1], f) {
			rows[n-1].End = uint64(begin + to)
			return
		}
		rows = append(rows, unwind.Row{
			Start: uint64(begin + from), End: uint64(begin + to), Entry: entry,
			CFA: f.cfa, RA: arm64DwarfLR, Regs: slices.Clone(f.regs), Flags: f.flags,
		})
	}

	// The prolog: after k of its n instructions, the last k codes (and
	// a phantom prolog after end_c) remain to undo.
	pos := uint32(0)
	if ui.Flag != ARM64FlagPackedFragment {
		n, _, _ := seq.instructions(0)
		present := n
		if uint32(n) > length/4 {
			malformed++ // the prolog is longer than the function
			present = int(length / 4)
		}
		for k := range present {
			f, err := seq.frame(n - k)
			if err != nil {
				if errors.Is(err, ErrARM64CustomStack) {
					return rows[:first], 0, err
				}
				malformed++
				f = body
			}
			emit(pos, pos+4, f)
			pos += 4
		}
	}

	// The body, interrupted by the epilogs: after j instructions of an
	// epilog all but its first j codes remain; at its return, nothing.
	budget := arm64MaxEpilogRows
	for _, ep := range epilogs {
		n, term, ok := ep.seq.instructions(ep.index)
		if term == ARM64End {
			n++
		}
		if ok && n == 0 {
			continue // an epilog of a region without any (its index is the end_c)
		}
		if !ok || ep.start < pos || ep.start >= length || n > budget {
			malformed++
			continue
		}
		// Check the whole epilog before emitting any of it, so that
		// a bad one leaves the body's row in place.
		frames := make([]*arm64Frame, 0, n)
		for j := range n {
			f, err := ep.seq.frame(ep.index + j)
			if err != nil {
				if errors.Is(err, ErrARM64CustomStack) {
					return rows[:first], 0, err
				}
				break
			}
			frames = append(frames, f)
		}
		if len(frames) < n {
			malformed++
			continue
		}
		budget -= n
		emit(pos, ep.start, body)
		pos = ep.start
		for _, f := range frames {
			emit(pos, pos+4, f)
			pos += 4
		}
		pos = min(pos, length)
	}
	emit(pos, length, body)
	return rows, malformed, nil
}

// rowFrameEqual reports whether row has the rules of f.
func rowFrameEqual(row *unwind.Row, f *arm64Frame) bool {
	g := arm64Frame{cfa: row.CFA, regs: row.Regs, flags: row.Flags}
	return g.equal(f)
}

// decodeARM64All decodes every code of an .xdata record, past end codes
// (epilog sequences follow the prolog's), with the byte index of each. A
// code running past the array ends the list: a sequence reaching it runs
// out of codes.
func decodeARM64All(codes []byte) (ops []ARM64UnwindOp, index []int) {
	for i := 0; i < len(codes); {
		n := arm64CodeLen(codes[i])
		if i+n > len(codes) {
			break
		}
		ops = append(ops, decodeARM64Op(codes[i:i+n]))
		index = append(index, i)
		i += n
	}
	return ops, index
}

// packedProlog returns the canonical prolog of packed data in unwind
// order, with the pre-indexed pair of x19 and lr that RegI 1 with CR 1
// implies made explicit.
func packedProlog(ui *ARM64UnwindInfo) []ARM64UnwindOp {
	ops := slices.Clone(ui.Prolog)
	if ui.CR == 1 && ui.RegI == 1 {
		for i, op := range ops {
			if op.Op == ARM64SaveLRPair && op.Reg == 19 {
				ops[i].Op = arm64SaveLRPairX
			}
		}
	}
	return ops
}

// packedEpilog derives the epilog of packed data from its prolog: the same
// codes in the same (unwind) order, without `mov x29, sp` and without the
// homing stores (Microsoft: "H has no effect, the set_fp instruction is
// omitted"), except that a homing store that allocated the save area
// becomes the `add sp` freeing it.
func packedEpilog(prolog []ARM64UnwindOp) []ARM64UnwindOp {
	var ops []ARM64UnwindOp
	for _, op := range prolog {
		switch {
		case op.Op == ARM64SetFP:
			continue
		case op.Op == ARM64SaveRegP && op.Reg < 19:
			continue
		case op.Op == ARM64SaveRegPX && op.Reg < 19:
			op = ARM64UnwindOp{Op: ARM64AllocS, Size: op.Offset}
		}
		ops = append(ops, op)
	}
	return ops
}
