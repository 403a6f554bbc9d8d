package stackwalk

import (
	"math/bits"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/minidump"
)

// NumRegs is the number of register slots a Context holds: the general
// registers of every supported architecture in DWARF numbering (arm64's pc
// is 32, x86's eflags 9).
const NumRegs = 34

// Register numbers (DWARF) the walkers use by name.
const (
	amd64RBP = 6
	amd64RSP = 7
	amd64RIP = 16

	x86EAX    = 0
	x86ECX    = 1
	x86EDX    = 2
	x86EBX    = 3
	x86ESP    = 4
	x86EBP    = 5
	x86ESI    = 6
	x86EDI    = 7
	x86EIP    = 8
	x86EFLAGS = 9

	arm64FP = 29
	arm64LR = 30
	arm64SP = 31
	arm64PC = 32

	armFP  = 11 // r11, the frame pointer of ARM-mode code on Linux and Android
	armIOS = 7  // r7, the frame pointer on iOS
	armSP  = 13
	armLR  = 14
	armPC  = 15
)

// Context is the register state of one frame: values in DWARF numbering
// and which of them are known. The walker recovers some registers of each
// caller and not others; the unknown ones are never printed or used.
type Context struct {
	Arch  unwind.Arch
	Regs  [NumRegs]uint64
	Valid uint64
}

// archRegs is the bit set of the registers an architecture's context holds.
func archRegs(a unwind.Arch) uint64 {
	switch a {
	case unwind.ArchAMD64:
		return 1<<17 - 1
	case unwind.ArchX86:
		return 1<<10 - 1
	case unwind.ArchARM64:
		return 1<<33 - 1
	case unwind.ArchARM:
		return 1<<16 - 1
	}
	return 0
}

// Get returns register r and whether it is known.
func (c *Context) Get(r unwind.Reg) (uint64, bool) {
	if int(r) >= NumRegs || c.Valid&(1<<r) == 0 {
		return 0, false
	}
	return c.Regs[r], true
}

// Set stores register r and marks it known.
func (c *Context) Set(r unwind.Reg, v uint64) {
	if int(r) < NumRegs {
		c.Regs[r] = c.mask(v)
		c.Valid |= 1 << r
	}
}

// Has reports whether register r is known.
func (c *Context) Has(r unwind.Reg) bool { return int(r) < NumRegs && c.Valid&(1<<r) != 0 }

// All reports whether every register of the architecture is known, as
// they are in a context frame. Breakpad prints x86's eax, ecx, edx and
// eflags only then.
func (c *Context) All() bool { a := archRegs(c.Arch); return c.Valid&a == a }

// Count is the number of known registers.
func (c *Context) Count() int { return bits.OnesCount64(c.Valid) }

// mask truncates a value to the architecture's word.
func (c *Context) mask(v uint64) uint64 {
	if c.Arch.PointerSize() == 4 {
		return uint64(uint32(v))
	}
	return v
}

// PC is the instruction pointer.
func (c *Context) PC() uint64 { return c.Regs[pcReg(c.Arch)] }

// SP is the stack pointer.
func (c *Context) SP() uint64 { return c.Regs[c.Arch.SP()] }

// pcReg is the register number of the instruction pointer.
func pcReg(a unwind.Arch) unwind.Reg {
	switch a {
	case unwind.ArchAMD64:
		return amd64RIP
	case unwind.ArchX86:
		return x86EIP
	case unwind.ArchARM64:
		return arm64PC
	case unwind.ArchARM:
		return armPC
	}
	return 0
}

// RegisterName names register r as Breakpad prints it ("rip", "eip",
// "fp", "lr", "pc", "efl" is printed as "eflags" in JSON).
func RegisterName(a unwind.Arch, r unwind.Reg) string {
	switch a {
	case unwind.ArchARM64:
		switch r {
		case arm64FP:
			return "fp"
		case arm64LR:
			return "lr"
		case arm64SP:
			return "sp"
		case arm64PC:
			return "pc"
		}
	case unwind.ArchARM:
		switch r {
		case armFP:
			return "fp"
		case armSP:
			return "sp"
		case armLR:
			return "lr"
		case armPC:
			return "pc"
		}
	}
	return a.RegName(r)
}

// PrintOrder lists the registers of an architecture in the order
// Breakpad's minidump_stackwalk prints them.
func PrintOrder(a unwind.Arch) []unwind.Reg {
	switch a {
	case unwind.ArchAMD64:
		return []unwind.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	case unwind.ArchX86:
		return []unwind.Reg{x86EIP, x86ESP, x86EBP, x86EBX, x86ESI, x86EDI, x86EAX, x86ECX, x86EDX, x86EFLAGS}
	case unwind.ArchARM64:
		order := make([]unwind.Reg, 33)
		for i := range order {
			order[i] = unwind.Reg(i)
		}
		return order
	case unwind.ArchARM:
		return []unwind.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, armFP, armSP, armLR, armPC}
	}
	return nil
}

// archOf maps a minidump context to the unwind architecture.
func archOf(c minidump.Context) unwind.Arch {
	switch c.(type) {
	case *minidump.ContextAMD64:
		return unwind.ArchAMD64
	case *minidump.ContextX86:
		return unwind.ArchX86
	case *minidump.ContextARM64:
		return unwind.ArchARM64
	case *minidump.ContextARM:
		return unwind.ArchARM
	}
	return unwind.ArchUnknown
}

// contextFrom converts a dump's CPU context. Every register is marked known,
// whatever the context flags say: Breakpad's context frames are "valid
// all", and a walk must start from what the dump holds.
func contextFrom(mc minidump.Context) (Context, bool) {
	c := Context{Arch: archOf(mc)}
	switch x := mc.(type) {
	case *minidump.ContextAMD64:
		c.Regs = [NumRegs]uint64{x.RAX, x.RDX, x.RCX, x.RBX, x.RSI, x.RDI, x.RBP, x.RSP,
			x.R8, x.R9, x.R10, x.R11, x.R12, x.R13, x.R14, x.R15, x.RIP}
	case *minidump.ContextX86:
		c.Regs = [NumRegs]uint64{uint64(x.EAX), uint64(x.ECX), uint64(x.EDX), uint64(x.EBX), uint64(x.ESP),
			uint64(x.EBP), uint64(x.ESI), uint64(x.EDI), uint64(x.EIP), uint64(x.EFlags)}
	case *minidump.ContextARM64:
		copy(c.Regs[:33], x.Iregs[:])
	case *minidump.ContextARM:
		for i, v := range x.Iregs {
			c.Regs[i] = uint64(v)
		}
	default:
		return c, false
	}
	c.Valid = archRegs(c.Arch)
	return c, true
}
