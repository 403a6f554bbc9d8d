package breakpad

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// PostfixRule renders a rule as the postfix expression of a STACK CFI
// record ("$rsp 8 +", ".cfa -16 + ^"). cfa says the rule is the CFA rule,
// whose DWARF expression starts with an empty stack; a register's
// expression starts with the CFA pushed. ok is false for rules Breakpad
// cannot express: unspecified, undefined and same-value rules (the caller
// names the register), and DWARF expressions using operations outside the
// translatable subset (see DWARFToPostfix).
func PostfixRule(arch unwind.Arch, r unwind.Rule, cfa bool) (string, bool) {
	switch r.Kind {
	case unwind.RuleRegOffset:
		return arch.BreakpadName(r.Reg) + " " + strconv.FormatInt(r.Offset, 10) + " +", true
	case unwind.RuleOffset:
		return cfaName + " " + strconv.FormatInt(r.Offset, 10) + " + ^", true
	case unwind.RuleValOffset:
		return cfaName + " " + strconv.FormatInt(r.Offset, 10) + " +", true
	case unwind.RuleRegister:
		return arch.BreakpadName(r.Reg), true
	case unwind.RuleExpression, unwind.RuleValExpression:
		e, ok := DWARFToPostfix(arch, r.Expr, !cfa)
		if !ok {
			return "", false
		}
		if r.Kind == unwind.RuleExpression {
			e += " ^"
		}
		return e, true
	case unwind.RulePostfix:
		return string(r.Expr), len(r.Expr) > 0
	}
	return "", false
}

// DWARF expression operations DWARFToPostfix translates.
const (
	opAddr       = 0x03
	opDeref      = 0x06
	opConst1u    = 0x08
	opConst1s    = 0x09
	opConst2u    = 0x0a
	opConst2s    = 0x0b
	opConst4u    = 0x0c
	opConst4s    = 0x0d
	opConst8u    = 0x0e
	opConst8s    = 0x0f
	opConstu     = 0x10
	opConsts     = 0x11
	opDiv        = 0x1b
	opMinus      = 0x1c
	opMod        = 0x1d
	opMul        = 0x1e
	opPlus       = 0x22
	opPlusUconst = 0x23
	opLit0       = 0x30
	opLit31      = 0x4f
	opBreg0      = 0x70
	opBreg31     = 0x8f
	opBregx      = 0x92
	opNop        = 0x96
)

// DWARFToPostfix translates a DWARF expression into a Breakpad postfix
// expression. It handles the operations a postfix expression can express —
// constants, register plus offset (DW_OP_bregN, DW_OP_bregx), DW_OP_deref,
// DW_OP_plus, DW_OP_minus, DW_OP_mul, DW_OP_div, DW_OP_mod,
// DW_OP_plus_uconst — and reports false for any other (comparisons, shifts,
// stack manipulation, control flow), which is what Breakpad's own
// dump_syms does with every expression. pushCFA starts the evaluation with
// the CFA on the stack, as register rules do. The result must leave exactly
// one value.
func DWARFToPostfix(arch unwind.Arch, expr []byte, pushCFA bool) (string, bool) {
	var parts []string
	depth := 0
	if pushCFA {
		parts, depth = append(parts, cfaName), 1
	}
	r := &exprReader{data: expr}
	push := func(s string) { parts = append(parts, s); depth++ }
	binop := func(op string) bool {
		if depth < 2 {
			return false
		}
		parts = append(parts, op)
		depth--
		return true
	}
	for len(r.data) > 0 && !r.bad {
		op := r.u8()
		switch {
		case op >= opLit0 && op <= opLit31:
			push(strconv.Itoa(int(op - opLit0)))
		case op >= opBreg0 && op <= opBreg31:
			off := r.sleb()
			push(arch.BreakpadName(unwind.Reg(op-opBreg0)) + " " + strconv.FormatInt(off, 10) + " +")
		case op == opBregx:
			reg := r.uleb()
			off := r.sleb()
			if reg > 0xffff {
				return "", false
			}
			push(arch.BreakpadName(unwind.Reg(reg)) + " " + strconv.FormatInt(off, 10) + " +")
		case op == opConst1u:
			push(strconv.FormatUint(uint64(r.u8()), 10))
		case op == opConst1s:
			push(strconv.FormatInt(int64(int8(r.u8())), 10))
		case op == opConst2u:
			push(strconv.FormatUint(uint64(r.u16()), 10))
		case op == opConst2s:
			push(strconv.FormatInt(int64(int16(r.u16())), 10))
		case op == opConst4u:
			push(strconv.FormatUint(uint64(r.u32()), 10))
		case op == opConst4s:
			push(strconv.FormatInt(int64(int32(r.u32())), 10))
		case op == opConst8u, op == opConst8s:
			push(strconv.FormatInt(int64(r.u64()), 10))
		case op == opConstu:
			push(strconv.FormatUint(r.uleb(), 10))
		case op == opConsts:
			push(strconv.FormatInt(r.sleb(), 10))
		case op == opPlusUconst:
			if depth < 1 {
				return "", false
			}
			parts = append(parts, strconv.FormatUint(r.uleb(), 10), "+")
		case op == opDeref:
			if depth < 1 {
				return "", false
			}
			parts = append(parts, "^")
		case op == opPlus:
			if !binop("+") {
				return "", false
			}
		case op == opMinus:
			if !binop("-") {
				return "", false
			}
		case op == opMul:
			if !binop("*") {
				return "", false
			}
		case op == opDiv:
			if !binop("/") {
				return "", false
			}
		case op == opMod:
			if !binop("%") {
				return "", false
			}
		case op == opNop:
		default:
			return "", false
		}
	}
	if r.bad || depth != 1 {
		return "", false
	}
	return strings.Join(parts, " "), true
}

// exprReader decodes the operands of a DWARF expression (little-endian:
// every architecture with unwind support here is). Running off the end
// sets bad and yields zeros.
type exprReader struct {
	data []byte
	bad  bool
}

func (r *exprReader) take(n int) []byte {
	if len(r.data) < n {
		r.bad, r.data = true, nil
		return make([]byte, n)
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}

func (r *exprReader) u8() uint8   { return r.take(1)[0] }
func (r *exprReader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *exprReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *exprReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

func (r *exprReader) uleb() uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		// Overlong numbers (more than 64 bits) are no real operand.
		r.bad, r.data = true, nil
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *exprReader) sleb() int64 {
	var v int64
	var shift uint
	for i, c := range r.data {
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			r.data = r.data[i+1:]
			return v
		}
	}
	r.bad, r.data = true, nil
	return 0
}
