package cfi

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// DW_CFA_* opcodes (DWARF 5 §7.24, plus the GNU and arm64 extensions).
const (
	cfaAdvanceLoc        = 0x40 // high two bits; delta in the low six
	cfaOffset            = 0x80 // register in the low six bits
	cfaRestore           = 0xc0 // register in the low six bits
	cfaNop               = 0x00
	cfaSetLoc            = 0x01
	cfaAdvanceLoc1       = 0x02
	cfaAdvanceLoc2       = 0x03
	cfaAdvanceLoc4       = 0x04
	cfaOffsetExtended    = 0x05
	cfaRestoreExtended   = 0x06
	cfaUndefined         = 0x07
	cfaSameValue         = 0x08
	cfaRegister          = 0x09
	cfaRememberState     = 0x0a
	cfaRestoreState      = 0x0b
	cfaDefCFA            = 0x0c
	cfaDefCFARegister    = 0x0d
	cfaDefCFAOffset      = 0x0e
	cfaDefCFAExpression  = 0x0f
	cfaExpression        = 0x10
	cfaOffsetExtendedSF  = 0x11
	cfaDefCFASF          = 0x12
	cfaDefCFAOffsetSF    = 0x13
	cfaValOffset         = 0x14
	cfaValOffsetSF       = 0x15
	cfaValExpression     = 0x16
	cfaMIPSAdvanceLoc8   = 0x1d
	cfaNegateRAStateWPC  = 0x2c // arm64 DW_CFA_AARCH64_negate_ra_state_with_pc
	cfaGNUWindowSave     = 0x2d // DW_CFA_AARCH64_negate_ra_state on arm64
	cfaGNUArgsSize       = 0x2e
	cfaGNUNegOffsetExtnd = 0x2f
)

// maxStateStack bounds DW_CFA_remember_state nesting. Compilers nest one or
// two levels; the bound keeps a forged program from copying the rule set
// once per byte of input.
const maxStateStack = 64

// ruleSet is the state of the virtual machine: the CFA rule, the register
// rules sorted by register, and the architecture flags.
type ruleSet struct {
	cfa   unwind.Rule
	regs  []unwind.RegRule
	flags unwind.Flags
}

func (s *ruleSet) find(reg unwind.Reg) (int, bool) {
	return slices.BinarySearchFunc(s.regs, reg, func(e unwind.RegRule, t unwind.Reg) int { return int(e.Reg) - int(t) })
}

func (s *ruleSet) set(reg unwind.Reg, r unwind.Rule) {
	i, ok := s.find(reg)
	if ok {
		s.regs[i].Rule = r
		return
	}
	s.regs = slices.Insert(s.regs, i, unwind.RegRule{Reg: reg, Rule: r})
}

func (s *ruleSet) del(reg unwind.Reg) {
	if i, ok := s.find(reg); ok {
		s.regs = slices.Delete(s.regs, i, i+1)
	}
}

func (s *ruleSet) clone() ruleSet {
	c := *s
	c.regs = slices.Clone(s.regs)
	return c
}

// machine executes CIE and FDE programs. Its buffers are reused from one
// FDE to the next.
type machine struct {
	init, cur ruleSet
	stack     []ruleSet
	row       unwind.Row
}

// errStop ends execution when the consumer has what it wants.
var errStop = errors.New("stop")

// run executes f's CIE initial instructions and then f's instructions,
// calling emit with each row (its Regs reused). emit returns false to stop.
func (m *machine) run(t *Table, f *FDE, emit func(*unwind.Row) bool) error {
	c := f.CIE
	m.cur = ruleSet{regs: m.cur.regs[:0]}
	m.stack = m.stack[:0]
	if err := m.exec(t, f, c.instructions, c.insOff, true, nil); err != nil {
		return fmt.Errorf("CIE at %#x: %w", c.Offset, err)
	}
	m.init = m.cur.clone()
	err := m.exec(t, f, f.instructions, f.insOff, false, emit)
	if err == errStop {
		return nil
	}
	return err
}

// exec runs one program. In the CIE (cie set) no row is emitted and the
// location cannot move.
func (m *machine) exec(t *Table, f *FDE, prog []byte, progOff uint64, cie bool, emit func(*unwind.Row) bool) error {
	c := f.CIE
	r := &reader{data: prog, end: len(prog), name: t.name(), bo: t.opts.ByteOrder}
	loc := f.Start
	fail := func(msg string) error {
		return &FormatError{Section: t.name(), Offset: progOff + uint64(r.pos), Msg: msg}
	}
	// advance ends the current row at loc+delta.
	advance := func(to uint64) error {
		if cie {
			return fail("CIE instructions move the location")
		}
		if to < loc {
			return fail("location moves backwards")
		}
		end := min(to, f.End)
		if loc < end && !m.emit(t, f, loc, end, emit) {
			return errStop
		}
		loc = to
		if loc >= f.End {
			return errStop
		}
		return nil
	}
	factored := func(delta uint64) (uint64, bool) {
		if c.CodeAlign != 0 && delta > math.MaxUint64/c.CodeAlign {
			return 0, false
		}
		return loc + delta*c.CodeAlign, loc+delta*c.CodeAlign >= loc
	}
	reg := func(v uint64) (unwind.Reg, error) {
		if v > maxReg {
			return 0, fail(fmt.Sprintf("register %d", v))
		}
		return unwind.Reg(v), nil
	}
	for r.left() > 0 {
		op := r.u8()
		var err error
		switch op & 0xc0 {
		case cfaAdvanceLoc:
			to, ok := factored(uint64(op & 0x3f))
			if !ok {
				return fail("location overflows")
			}
			err = advance(to)
		case cfaOffset:
			m.cur.set(unwind.Reg(op&0x3f), unwind.Rule{Kind: unwind.RuleOffset, Offset: int64(r.uleb()) * c.DataAlign})
		case cfaRestore:
			m.restore(unwind.Reg(op & 0x3f))
		default:
			err = m.extended(t, f, r, op, &loc, advance, factored, reg, fail)
		}
		if err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
	}
	if r.err != nil {
		return r.err
	}
	if !cie && loc < f.End && !m.emit(t, f, loc, f.End, emit) {
		return errStop
	}
	return nil
}

// extended executes the opcodes whose high two bits are zero.
func (m *machine) extended(t *Table, f *FDE, r *reader, op uint8, loc *uint64,
	advance func(uint64) error, factored func(uint64) (uint64, bool),
	reg func(uint64) (unwind.Reg, error), fail func(string) error) error {
	c := f.CIE
	da := c.DataAlign
	step := func(delta uint64) error {
		to, ok := factored(delta)
		if !ok {
			return fail("location overflows")
		}
		return advance(to)
	}
	switch op {
	case cfaNop:
	case cfaSetLoc:
		var to uint64
		if t.sec.Kind == DebugFrame {
			to = r.addr(int(c.AddressSize))
		} else {
			var ind bool
			to, ind = r.pointer(c.FDEEncoding, int(c.AddressSize), t.bases(f.Start))
			if ind {
				return fail("indirect DW_CFA_set_loc")
			}
		}
		if r.err != nil {
			return r.err
		}
		return advance(to)
	case cfaAdvanceLoc1:
		return step(uint64(r.u8()))
	case cfaAdvanceLoc2:
		return step(uint64(r.u16()))
	case cfaAdvanceLoc4:
		return step(uint64(r.u32()))
	case cfaMIPSAdvanceLoc8:
		return step(r.u64())
	case cfaOffsetExtended, cfaOffsetExtendedSF, cfaGNUNegOffsetExtnd, cfaValOffset, cfaValOffsetSF:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		kind := unwind.RuleOffset
		var off int64
		switch op {
		case cfaOffsetExtended:
			off = int64(r.uleb()) * da
		case cfaOffsetExtendedSF:
			off = r.sleb() * da
		case cfaGNUNegOffsetExtnd:
			off = -int64(r.uleb()) * da
		case cfaValOffset:
			kind, off = unwind.RuleValOffset, int64(r.uleb())*da
		case cfaValOffsetSF:
			kind, off = unwind.RuleValOffset, r.sleb()*da
		}
		m.cur.set(n, unwind.Rule{Kind: kind, Offset: off})
	case cfaRestoreExtended:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		m.restore(n)
	case cfaUndefined, cfaSameValue:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		kind := unwind.RuleUndefined
		if op == cfaSameValue {
			kind = unwind.RuleSameValue
		}
		m.cur.set(n, unwind.Rule{Kind: kind})
	case cfaRegister:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		from, err := reg(r.uleb())
		if err != nil {
			return err
		}
		m.cur.set(n, unwind.Rule{Kind: unwind.RuleRegister, Reg: from})
	case cfaRememberState:
		if len(m.stack) >= maxStateStack {
			return fail("DW_CFA_remember_state nested too deeply")
		}
		m.stack = append(m.stack, m.cur.clone())
	case cfaRestoreState:
		if len(m.stack) == 0 {
			return fail("DW_CFA_restore_state without DW_CFA_remember_state")
		}
		m.cur = m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
	case cfaDefCFA, cfaDefCFASF:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		var off int64
		if op == cfaDefCFASF {
			off = r.sleb() * da
		} else {
			off = int64(r.uleb())
		}
		m.cur.cfa = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: n, Offset: off}
	case cfaDefCFARegister:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		if m.cur.cfa.Kind != unwind.RuleRegOffset {
			m.cur.cfa = unwind.Rule{Kind: unwind.RuleRegOffset}
		}
		m.cur.cfa.Reg = n
	case cfaDefCFAOffset, cfaDefCFAOffsetSF:
		var off int64
		if op == cfaDefCFAOffsetSF {
			off = r.sleb() * da
		} else {
			off = int64(r.uleb())
		}
		if m.cur.cfa.Kind != unwind.RuleRegOffset {
			m.cur.cfa = unwind.Rule{Kind: unwind.RuleRegOffset}
		}
		m.cur.cfa.Offset = off
	case cfaDefCFAExpression:
		m.cur.cfa = unwind.Rule{Kind: unwind.RuleValExpression, Expr: r.bytes(r.uleb())}
	case cfaExpression, cfaValExpression:
		n, err := reg(r.uleb())
		if err != nil {
			return err
		}
		kind := unwind.RuleExpression
		if op == cfaValExpression {
			kind = unwind.RuleValExpression
		}
		m.cur.set(n, unwind.Rule{Kind: kind, Expr: r.bytes(r.uleb())})
	case cfaGNUArgsSize:
		r.uleb()
	case cfaGNUWindowSave, cfaNegateRAStateWPC:
		if t.opts.Arch != unwind.ArchARM64 {
			return fail(fmt.Sprintf("DW_CFA opcode %#x on %s", op, t.opts.Arch))
		}
		m.cur.flags ^= unwind.FlagRASigned
	default:
		return fail(fmt.Sprintf("unknown DW_CFA opcode %#x", op))
	}
	return nil
}

// restore resets a register to its rule after the CIE's instructions.
func (m *machine) restore(reg unwind.Reg) {
	if i, ok := m.init.find(reg); ok {
		m.cur.set(reg, m.init.regs[i].Rule)
		return
	}
	m.cur.del(reg)
}

// emit hands the row [start, end) to the consumer.
func (m *machine) emit(t *Table, f *FDE, start, end uint64, emit func(*unwind.Row) bool) bool {
	if emit == nil {
		return true
	}
	b := t.opts.Bias
	m.row = unwind.Row{
		Start: start - b, End: end - b,
		Entry: unwind.Range{Start: f.Start - b, End: f.End - b},
		CFA:   m.cur.cfa,
		RA:    f.CIE.RA,
		Regs:  append(m.row.Regs[:0], m.cur.regs...),
		Flags: m.cur.flags,
	}
	if f.CIE.Signal {
		m.row.Flags |= unwind.FlagSignalFrame
	}
	return emit(&m.row)
}
