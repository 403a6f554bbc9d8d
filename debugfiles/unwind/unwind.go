package unwind

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
)

// Reg is a register number in the DWARF numbering of an architecture.
type Reg uint16

// RuleKind says how a value is recovered.
type RuleKind uint8

// Rule kinds. The zero kind, RuleUnspecified, is the absence of a rule: a
// register without a rule keeps its value across the call by convention
// (callee-saved registers are restored by rules; others are not recovered).
const (
	RuleUnspecified RuleKind = iota
	// RuleUndefined: the caller's value cannot be recovered (DW_CFA_undefined;
	// on the return address column it marks the outermost frame).
	RuleUndefined
	// RuleSameValue: the caller's value is the callee's value.
	RuleSameValue
	// RuleOffset: the value is saved in memory at CFA+Offset.
	RuleOffset
	// RuleValOffset: the value is CFA+Offset.
	RuleValOffset
	// RuleRegister: the value is in register Reg of the callee.
	RuleRegister
	// RuleRegOffset: the value is register Reg plus Offset. This is the
	// usual CFA rule; Breakpad rules like "$rsp 8 +" reduce to it too.
	RuleRegOffset
	// RuleExpression: the value is saved in memory at the address the DWARF
	// expression Expr computes, with the CFA pushed on its stack first.
	RuleExpression
	// RuleValExpression: the value is what the DWARF expression Expr
	// computes, with the CFA pushed first. As the CFA rule
	// (DW_CFA_def_cfa_expression) nothing is pushed first.
	RuleValExpression
	// RulePostfix: the value is what the Breakpad postfix expression Expr
	// computes over the callee's registers and .cfa (see package
	// breakpad/postfix); dereferences are written in the expression.
	RulePostfix
)

var ruleKindNames = [...]string{"unspecified", "undefined", "same_value", "offset", "val_offset", "register", "reg_offset", "expression", "val_expression", "postfix"}

// String names the kind as DWARF does ("offset", "val_expression", ...).
func (k RuleKind) String() string {
	if int(k) < len(ruleKindNames) {
		return ruleKindNames[k]
	}
	return "rule(" + strconv.Itoa(int(k)) + ")"
}

// Rule is one recovery rule. Which fields matter depends on Kind: Reg for
// RuleRegister and RuleRegOffset, Offset for the offset kinds, Expr for the
// expression kinds. Expr aliases the input it was read from (a section or a
// symbol file) and must not be modified.
type Rule struct {
	Kind   RuleKind
	Reg    Reg
	Offset int64
	Expr   []byte
}

// Equal reports whether two rules are the same rule.
func (r Rule) Equal(o Rule) bool {
	if r.Kind != o.Kind {
		return false
	}
	switch r.Kind {
	case RuleOffset, RuleValOffset:
		return r.Offset == o.Offset
	case RuleRegister:
		return r.Reg == o.Reg
	case RuleRegOffset:
		return r.Reg == o.Reg && r.Offset == o.Offset
	case RuleExpression, RuleValExpression, RulePostfix:
		return string(r.Expr) == string(o.Expr)
	}
	return true
}

// RegRule is the rule of one register.
type RegRule struct {
	Reg  Reg
	Rule Rule
}

// Flags are architecture-specific states of a row.
type Flags uint8

// Row flags.
const (
	// FlagRASigned: on arm64 the return address is signed with pointer
	// authentication (DW_CFA_AARCH64_negate_ra_state toggles it); the
	// unwinder must strip the signature bits from the recovered value.
	FlagRASigned Flags = 1 << iota
	// FlagSignalFrame: the entry is a signal trampoline (augmentation "S"):
	// the return address is the faulting instruction itself, not a return
	// address, so a symbolizer must not subtract one from it.
	FlagSignalFrame
)

// Range is a half-open address range [Start, End).
type Range struct {
	Start, End uint64
}

// Contains reports whether addr is in r.
func (r Range) Contains(addr uint64) bool { return addr >= r.Start && addr < r.End }

// Row is the unwind rules of an address range.
type Row struct {
	// Start and End delimit the addresses the row applies to.
	Start, End uint64
	// Entry is the range of the unit the row belongs to (a DWARF FDE, a
	// compact-unwind function, a STACK CFI INIT record); the first row of
	// an entry starts at Entry.Start.
	Entry Range
	// CFA is the rule computing the canonical frame address: RuleRegOffset,
	// RuleValExpression (a DWARF expression, nothing pushed first) or
	// RulePostfix. It is RuleUnspecified for rows that only carry Win.
	CFA Rule
	// RA is the return address column: the register whose recovered value
	// is the caller's program counter (amd64 16 "rip", x86 8 "eip", arm64
	// 30 "x30", arm 14 "lr"). A RA without a rule in Regs keeps its value,
	// which is right where the return address is a register (arm64 lr).
	RA Reg
	// Regs are the registers with a rule, sorted by register number, at
	// most one rule per register.
	Regs []RegRule
	// Flags are architecture-specific states.
	Flags Flags
	// Win is set on rows read from Windows x86 frame data (STACK WIN, FPO,
	// FrameData): the unwinder evaluates it instead of the rules.
	Win *WinFrame
}

// Rule returns the rule of reg, or the zero Rule (RuleUnspecified).
func (r *Row) Rule(reg Reg) Rule {
	i, ok := slices.BinarySearchFunc(r.Regs, reg, func(e RegRule, t Reg) int { return int(e.Reg) - int(t) })
	if !ok {
		return Rule{}
	}
	return r.Regs[i].Rule
}

// Clone returns a copy of r that owns its Regs slice (expression bytes still
// alias the input).
func (r Row) Clone() Row {
	r.Regs = slices.Clone(r.Regs)
	return r
}

// WinFrame is Windows x86 frame data: an FPO record or a FrameData record,
// as a Breakpad STACK WIN line carries them. Sizes are in bytes.
type WinFrame struct {
	// Type is 0 for FPO data and 4 for FrameData (1 trap, 2 TSS and 3
	// standard frames exist in the format but are not emitted).
	Type                                    uint8
	PrologSize, EpilogSize                  uint32
	ParamSize, SavedRegisterSize, LocalSize uint32
	MaxStackSize                            uint32
	// Program is the postfix program computing the caller's registers
	// (FrameData), or empty.
	Program string
	// AllocatesBasePointer is set on FPO records of functions that use ebp
	// as a general register.
	AllocatesBasePointer bool
}

// Table is the unwind information of one source within an object (a
// section, a symbol file). Implementations are safe for concurrent use.
type Table interface {
	// Arch is the architecture the register numbers refer to.
	Arch() Arch
	// Rows yields every row in ascending address order of their entries,
	// the rows of one entry in ascending order. The Regs slice of a yielded
	// row is reused for the next row: Clone it to keep it. A malformed
	// entry yields an error with a Row whose Entry names it (rows of the
	// entry before the error may have been yielded); the sequence goes on
	// with the next entry unless the consumer stops.
	Rows() iter.Seq2[Row, error]
	// Lookup returns the row covering addr. ok is false when no entry
	// covers it; err reports a malformed entry that does.
	Lookup(addr uint64) (row Row, ok bool, err error)
}

// Source is implemented by objects that carry unwind information (the ELF
// and Mach-O objects, Breakpad symbol files). It is defined here rather than
// in package debugfiles so that the Object interface stays unchanged: a
// consumer asks for it with a type assertion.
type Source interface {
	// UnwindTables returns the object's tables in order of preference: a
	// consumer looking an address up takes the first table that covers it.
	// An object without unwind information returns no tables and no error.
	UnwindTables() ([]Table, error)
}

// ErrNoUnwind reports an object without unwind information in a format
// this package knows.
var ErrNoUnwind = errors.New("unwind: no unwind information")

// Tables returns obj's unwind tables when it is a Source, and none
// otherwise.
func Tables(obj any) ([]Table, error) {
	s, ok := obj.(Source)
	if !ok {
		return nil, nil
	}
	return s.UnwindTables()
}

// Lookup asks each table in turn for the row covering addr and returns the
// first answer; a table that fails on addr is skipped when a later one
// covers it, and its error is returned otherwise.
func Lookup(tables []Table, addr uint64) (Row, bool, error) {
	var firstErr error
	for _, t := range tables {
		row, ok, err := t.Lookup(addr)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if ok {
			return row, true, nil
		}
	}
	return Row{}, false, firstErr
}

// Format writes a rule in the DWARF spelling readelf and llvm-dwarfdump
// use ("cfa-8", "rsp+8", "same", ...), naming registers for arch.
func (r Rule) Format(arch Arch) string {
	switch r.Kind {
	case RuleUnspecified:
		return "unspecified"
	case RuleUndefined:
		return "undefined"
	case RuleSameValue:
		return "same"
	case RuleOffset:
		return fmt.Sprintf("[cfa%+d]", r.Offset)
	case RuleValOffset:
		return fmt.Sprintf("cfa%+d", r.Offset)
	case RuleRegister:
		return arch.RegName(r.Reg)
	case RuleRegOffset:
		return fmt.Sprintf("%s%+d", arch.RegName(r.Reg), r.Offset)
	case RuleExpression:
		return fmt.Sprintf("[expr %x]", r.Expr)
	case RuleValExpression:
		return fmt.Sprintf("expr %x", r.Expr)
	case RulePostfix:
		return "postfix " + string(r.Expr)
	}
	return r.Kind.String()
}
