package minidumptest

// Context flags of the CPU types the builder writes.
const (
	ContextAMD64 = 0x00100000
	ContextX86   = 0x00010000
	ContextARM   = 0x40000000
	ContextARM64 = 0x00400000
	// ContextARM64Old is Breakpad's flag for its pre-2019 ARM64 layout.
	ContextARM64Old = 0x80000000
)

// AMD64Context builds a 1232-byte x86-64 context. regs are rax, rcx, rdx,
// rbx, rsp, rbp, rsi, rdi, r8–r15 in that (CONTEXT) order, then rip. The
// segment registers, eflags and mxcsr hold typical user-mode values.
func AMD64Context(flags uint32, regs [17]uint64) []byte {
	c := AMD64ContextData{Flags: flags, MxCsr: 0x1f80, CS: 0x33, SS: 0x2b, EFlags: 0x246, Regs: regs}
	return c.Bytes()
}

// AMD64ContextData is every field of an x86-64 context a writer fills from
// a thread's registers; the vector and debug-control fields stay zero.
type AMD64ContextData struct {
	Flags                  uint32
	MxCsr                  uint32
	CS, DS, ES, FS, GS, SS uint16
	EFlags                 uint32
	// Regs are rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8–r15, rip.
	Regs [17]uint64
	// FltSave is the 512-byte FXSAVE area.
	FltSave [512]byte
}

// Bytes lays the context out in its 1232 bytes.
func (c *AMD64ContextData) Bytes() []byte {
	p := make([]byte, 48) // home addresses
	p = le32(p, c.Flags)
	p = le32(p, c.MxCsr)
	for _, s := range []uint16{c.CS, c.DS, c.ES, c.FS, c.GS, c.SS} {
		p = le16(p, s)
	}
	p = le32(p, c.EFlags)
	p = append(p, make([]byte, 48)...) // debug registers
	for _, r := range c.Regs {
		p = le64(p, r)
	}
	p = append(p, c.FltSave[:]...)
	return append(p, make([]byte, 1232-len(p))...)
}

// X86Context builds a 716-byte x86 context. regs are edi, esi, ebx, edx,
// ecx, eax, ebp, eip, then esp.
func X86Context(flags uint32, regs [9]uint32) []byte {
	p := le32(nil, flags)
	p = append(p, make([]byte, 24+112)...) // debug registers, float save
	p = append(p, make([]byte, 16)...)     // gs, fs, es, ds
	for _, r := range regs[:8] {
		p = le32(p, r)
	}
	p = le32(p, 0x1b)  // cs
	p = le32(p, 0x246) // eflags
	p = le32(p, regs[8])
	p = le32(p, 0x23) // ss
	return append(p, make([]byte, 716-len(p))...)
}

// ARM64Context builds a 912-byte ARM64 context in the current layout.
// x holds x0–x28, fp, lr, sp, pc.
func ARM64Context(flags, cpsr uint32, x [33]uint64, fpcr, fpsr uint32) []byte {
	c := ARM64ContextData{Flags: flags, CPSR: cpsr, X: x, FPCR: fpcr, FPSR: fpsr}
	return c.Bytes()
}

// ARM64ContextData is every field of an ARM64 context (current layout) a
// writer fills from a thread's registers; the debug registers stay zero.
type ARM64ContextData struct {
	Flags, CPSR uint32
	// X holds x0–x28, fp, lr, sp, pc.
	X [33]uint64
	// V holds the 128-bit vector registers v0–v31.
	V          [32][16]byte
	FPCR, FPSR uint32
}

// Bytes lays the context out in its 912 bytes.
func (c *ARM64ContextData) Bytes() []byte {
	p := le32(nil, c.Flags)
	p = le32(p, c.CPSR)
	for _, r := range c.X {
		p = le64(p, r)
	}
	for _, v := range c.V {
		p = append(p, v[:]...)
	}
	p = le32(p, c.FPCR)
	p = le32(p, c.FPSR)
	return append(p, make([]byte, 912-len(p))...)
}

// ARM64OldContext builds a 796-byte ARM64 context in Breakpad's old layout:
// 64-bit flags, registers, cpsr, fpsr, fpcr, vector registers.
func ARM64OldContext(flags uint64, cpsr uint32, x [33]uint64, fpsr, fpcr uint32) []byte {
	p := le64(nil, flags)
	for _, r := range x {
		p = le64(p, r)
	}
	p = le32(p, cpsr)
	p = le32(p, fpsr)
	p = le32(p, fpcr)
	return append(p, make([]byte, 796-len(p))...)
}

// ARMContext builds a 368-byte 32-bit ARM context. r holds r0–r12, sp, lr, pc.
func ARMContext(flags, cpsr uint32, r [16]uint32) []byte {
	p := le32(nil, flags)
	for _, v := range r {
		p = le32(p, v)
	}
	p = le32(p, cpsr)
	return append(p, make([]byte, 368-len(p))...)
}
