package cficache

import (
	"encoding/binary"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// normalize prepares a row for encoding: DWARF expressions become postfix
// expressions (the subset Breakpad's dump_syms translates; a register rule
// outside it is dropped, as dump_syms drops it), and rows whose CFA cannot
// be expressed are refused (ok false), so that a walker falls back to other
// methods there instead of using a wrong rule.
func normalize(arch unwind.Arch, row *unwind.Row, regs []unwind.RegRule) (unwind.Row, bool) {
	out := *row
	out.Regs = regs[:0]
	switch row.CFA.Kind {
	case unwind.RuleRegOffset, unwind.RulePostfix:
	case unwind.RuleValExpression:
		s, ok := breakpad.PostfixRule(arch, row.CFA, true)
		if !ok {
			return out, false
		}
		out.CFA = unwind.Rule{Kind: unwind.RulePostfix, Expr: []byte(s)}
	default:
		return out, false
	}
	for _, rr := range row.Regs {
		switch rr.Rule.Kind {
		case unwind.RuleUnspecified:
			continue
		case unwind.RuleExpression, unwind.RuleValExpression:
			s, ok := breakpad.PostfixRule(arch, rr.Rule, false)
			if !ok {
				continue
			}
			rr.Rule = unwind.Rule{Kind: unwind.RulePostfix, Expr: []byte(s)}
		case unwind.RulePostfix:
			if len(rr.Rule.Expr) == 0 {
				continue
			}
		}
		out.Regs = append(out.Regs, rr)
	}
	return out, true
}

// appendRow encodes a normalized row (SPEC.md, "Rule sets").
func appendRow(b []byte, row *unwind.Row) []byte {
	var flags byte
	if row.Flags&unwind.FlagRASigned != 0 {
		flags |= encRASigned
	}
	if row.Flags&unwind.FlagSignalFrame != 0 {
		flags |= encSignalFrame
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(row.RA))
	b = appendRule(b, row.CFA)
	b = binary.AppendUvarint(b, uint64(len(row.Regs)))
	for _, rr := range row.Regs {
		b = binary.AppendUvarint(b, uint64(rr.Reg))
		b = appendRule(b, rr.Rule)
	}
	return b
}

func appendRule(b []byte, r unwind.Rule) []byte {
	b = append(b, byte(r.Kind))
	switch r.Kind {
	case unwind.RuleRegOffset:
		b = binary.AppendUvarint(b, uint64(r.Reg))
		b = binary.AppendVarint(b, r.Offset)
	case unwind.RuleOffset, unwind.RuleValOffset:
		b = binary.AppendVarint(b, r.Offset)
	case unwind.RuleRegister:
		b = binary.AppendUvarint(b, uint64(r.Reg))
	case unwind.RulePostfix, unwind.RuleExpression, unwind.RuleValExpression:
		b = binary.AppendUvarint(b, uint64(len(r.Expr)))
		b = append(b, r.Expr...)
	}
	return b
}

// appendWin encodes Windows frame data (SPEC.md, "Frame data").
func appendWin(b []byte, w *unwind.WinFrame) []byte {
	var flags byte
	if w.AllocatesBasePointer {
		flags |= encAllocatesBP
	}
	b = append(b, w.Type, flags)
	for _, v := range [...]uint32{w.PrologSize, w.EpilogSize, w.ParamSize, w.SavedRegisterSize, w.LocalSize, w.MaxStackSize} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = binary.AppendUvarint(b, uint64(len(w.Program)))
	return append(b, w.Program...)
}

// decoder reads an encoded record; the first failure latches, later reads
// return zeros, and the caller checks bad once.
type decoder struct {
	b   []byte
	i   int
	bad bool
}

func (d *decoder) byte() byte {
	if d.i >= len(d.b) {
		d.bad = true
		return 0
	}
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b[min(d.i, len(d.b)):])
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b[min(d.i, len(d.b)):])
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.i += n
	return v
}

// bytes returns n bytes aliasing the input.
func (d *decoder) bytes(n uint64) []byte {
	if d.bad || n > uint64(len(d.b)-d.i) {
		d.bad = true
		return nil
	}
	p := d.b[d.i : d.i+int(n) : d.i+int(n)]
	d.i += int(n)
	return p
}

func (d *decoder) reg() unwind.Reg {
	v := d.uvarint()
	if v > 0xffff {
		d.bad = true
	}
	return unwind.Reg(v)
}

func (d *decoder) rule() unwind.Rule {
	r := unwind.Rule{Kind: unwind.RuleKind(d.byte())}
	switch r.Kind {
	case unwind.RuleUnspecified, unwind.RuleUndefined, unwind.RuleSameValue:
	case unwind.RuleRegOffset:
		r.Reg = d.reg()
		r.Offset = d.varint()
	case unwind.RuleOffset, unwind.RuleValOffset:
		r.Offset = d.varint()
	case unwind.RuleRegister:
		r.Reg = d.reg()
	case unwind.RulePostfix, unwind.RuleExpression, unwind.RuleValExpression:
		r.Expr = d.bytes(d.uvarint())
	default:
		d.bad = true
	}
	return r
}

// decodeRow decodes a rule set into row, reusing row.Regs' storage; it
// reports false on malformed bytes.
func decodeRow(b []byte, row *unwind.Row) bool {
	d := decoder{b: b}
	flags := d.byte()
	row.Flags = 0
	if flags&encRASigned != 0 {
		row.Flags |= unwind.FlagRASigned
	}
	if flags&encSignalFrame != 0 {
		row.Flags |= unwind.FlagSignalFrame
	}
	row.RA = d.reg()
	row.CFA = d.rule()
	n := d.uvarint()
	if n > maxRegs {
		return false
	}
	row.Regs = row.Regs[:0]
	row.Win = nil
	for range n {
		reg := d.reg()
		rule := d.rule()
		if d.bad {
			return false
		}
		row.Regs = append(row.Regs, unwind.RegRule{Reg: reg, Rule: rule})
	}
	return !d.bad
}

// decodeWin decodes Windows frame data; the program aliases b.
func decodeWin(b []byte, w *unwind.WinFrame) bool {
	d := decoder{b: b}
	w.Type = d.byte()
	flags := d.byte()
	w.AllocatesBasePointer = flags&encAllocatesBP != 0
	vals := [6]*uint32{&w.PrologSize, &w.EpilogSize, &w.ParamSize, &w.SavedRegisterSize, &w.LocalSize, &w.MaxStackSize}
	for _, p := range vals {
		v := d.uvarint()
		if v > 0xffffffff {
			d.bad = true
		}
		*p = uint32(v)
	}
	prog := d.bytes(d.uvarint())
	if d.bad {
		return false
	}
	w.Program = unsafeString(prog)
	return true
}

// unsafeString views b as a string without copying; b must not change
// while the string is used (cficache bytes are read-only).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
