package minidump

import "sync"

// Context is a thread's CPU register state. The concrete type is one of
// *ContextAMD64, *ContextX86, *ContextARM64 or *ContextARM; callers that walk
// stacks switch on it, everyone else uses the methods.
type Context interface {
	// CPU is the architecture the context was written for.
	CPU() ProcessorArch
	// Flags is the raw context_flags word: which register groups are valid.
	Flags() uint32
	// PC and SP are the instruction and stack pointers.
	PC() uint64
	SP() uint64
	// Registers lists every scalar register under Breakpad's names, in the
	// order Breakpad prints them, each marked valid or not by the flags.
	Registers() []Register
}

// Register is one named register value.
type Register struct {
	Name  string
	Value uint64
	// Valid is false when the context flags say the writer did not fill the
	// register's group; the value is then whatever bytes were there.
	Valid bool
}

// RegisterValue looks a register up by name: Breakpad's names, plus the
// aliases x29/x30/x31 on arm64 and fp/r13/r14/r15 on arm.
func RegisterValue(c Context, name string) (Register, bool) {
	if a, ok := registerAliases()[c.CPU()][name]; ok {
		name = a
	}
	for _, r := range c.Registers() {
		if r.Name == name {
			return r, true
		}
	}
	return Register{}, false
}

var registerAliases = sync.OnceValue(func() map[ProcessorArch]map[string]string {
	return map[ProcessorArch]map[string]string{
		ArchARM64: {"x29": "fp", "x30": "lr", "x31": "sp"},
		ArchARM:   {"fp": "r11", "r13": "sp", "r14": "lr", "r15": "pc"},
	}
})

// Context CPU type flags (the bits of context_flags under 0xffffff00).
const (
	contextCPUMask      = 0xffffff00
	ContextFlagX86      = 0x00010000
	ContextFlagAMD64    = 0x00100000
	ContextFlagARM      = 0x40000000
	contextFlagARMOld   = 0x00000040 // Windows CE value, clashes with CONTEXT_XSTATE
	ContextFlagARM64    = 0x00400000
	ContextFlagARM64Old = 0x80000000 // Breakpad's ARM64 layout before Windows on ARM
)

// Sizes of the raw context structures.
const (
	contextX86Size      = 716
	contextAMD64Size    = 1232
	contextARMSize      = 368
	contextARM64Size    = 912
	contextARM64OldSize = 796
	maxXSaveAreaSize    = 1 << 16 // Breakpad's bound on trailing AVX/XSAVE state
)

// context decodes the context at l. The CPU comes from the context's own
// size and flags, falling back to the system info as Breakpad does.
func (f *File) context(l Location, si *SystemInfo) (Context, error) {
	b, err := f.locationBytes("context", l)
	if err != nil {
		return nil, err
	}
	sysCPU := uint32(0)
	if si != nil {
		switch si.ProcessorArch {
		case ArchX86:
			sysCPU = ContextFlagX86
		case ArchAMD64:
			sysCPU = ContextFlagAMD64
		case ArchARM:
			sysCPU = ContextFlagARM
		case ArchARM64, ArchARM64Old:
			sysCPU = ContextFlagARM64
		}
	}
	d := newDecoder("context", int64(l.RVA), b)
	switch {
	case len(b) == contextAMD64Size || (sysCPU == ContextFlagAMD64 && len(b) > contextAMD64Size && len(b)-contextAMD64Size <= maxXSaveAreaSize):
		return decodeAMD64(&d)
	case len(b) == contextARM64OldSize:
		return decodeARM64Old(&d)
	}
	if len(b) < 4 {
		return nil, formatErr("context", int64(l.RVA), "%d bytes is too small for any context", len(b))
	}
	flags := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	cpu := flags & contextCPUMask
	if cpu == 0 && flags&contextFlagARMOld != 0 {
		cpu = ContextFlagARM
	}
	if cpu == 0 {
		cpu = sysCPU
	}
	want := map[uint32]int{ContextFlagX86: contextX86Size, ContextFlagARM: contextARMSize, ContextFlagARM64: contextARM64Size}[cpu]
	if want == 0 {
		return nil, formatErr("context", int64(l.RVA), "unsupported CPU context (flags %#x, %d bytes)", flags, len(b))
	}
	if len(b) != want {
		return nil, formatErr("context", int64(l.RVA), "%d-byte context with flags %#x; that CPU's context is %d bytes", len(b), flags, want)
	}
	switch cpu {
	case ContextFlagX86:
		return decodeX86(&d)
	case ContextFlagARM:
		return decodeARM(&d, cpu)
	default:
		return decodeARM64(&d)
	}
}

// ContextAMD64 is the x86-64 CONTEXT (MDRawContextAMD64).
type ContextAMD64 struct {
	P1Home, P2Home, P3Home, P4Home, P5Home, P6Home uint64
	ContextFlags                                   uint32
	MxCsr                                          uint32
	CS, DS, ES, FS, GS, SS                         uint16
	EFlags                                         uint32
	DR0, DR1, DR2, DR3, DR6, DR7                   uint64
	RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI         uint64
	R8, R9, R10, R11, R12, R13, R14, R15           uint64
	RIP                                            uint64
	// FltSave is the 512-byte FXSAVE area (x87, MXCSR, XMM0–15).
	FltSave [512]byte
	// VectorRegister and the fields after it are rarely written but kept.
	VectorRegister       [26][16]byte
	VectorControl        uint64
	DebugControl         uint64
	LastBranchToRip      uint64
	LastBranchFromRip    uint64
	LastExceptionToRip   uint64
	LastExceptionFromRip uint64
}

func decodeAMD64(d *decoder) (*ContextAMD64, error) {
	c := &ContextAMD64{}
	c.P1Home, c.P2Home, c.P3Home, c.P4Home, c.P5Home, c.P6Home = d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	c.ContextFlags, c.MxCsr = d.u32(), d.u32()
	c.CS, c.DS, c.ES, c.FS, c.GS, c.SS = d.u16(), d.u16(), d.u16(), d.u16(), d.u16(), d.u16()
	c.EFlags = d.u32()
	c.DR0, c.DR1, c.DR2, c.DR3, c.DR6, c.DR7 = d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	c.RAX, c.RCX, c.RDX, c.RBX, c.RSP, c.RBP, c.RSI, c.RDI = d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	c.R8, c.R9, c.R10, c.R11, c.R12, c.R13, c.R14, c.R15 = d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	c.RIP = d.u64()
	copy(c.FltSave[:], d.take(512))
	for i := range c.VectorRegister {
		copy(c.VectorRegister[i][:], d.take(16))
	}
	c.VectorControl, c.DebugControl = d.u64(), d.u64()
	c.LastBranchToRip, c.LastBranchFromRip, c.LastExceptionToRip, c.LastExceptionFromRip = d.u64(), d.u64(), d.u64(), d.u64()
	return c, d.err
}

// CPU implements Context.
func (c *ContextAMD64) CPU() ProcessorArch { return ArchAMD64 }

// Flags implements Context.
func (c *ContextAMD64) Flags() uint32 { return c.ContextFlags }

// PC implements Context.
func (c *ContextAMD64) PC() uint64 { return c.RIP }

// SP implements Context.
func (c *ContextAMD64) SP() uint64 { return c.RSP }

// Registers implements Context. CONTEXT_CONTROL covers rip, rsp, cs, ss and
// eflags; CONTEXT_INTEGER the general registers; CONTEXT_SEGMENTS ds–gs.
func (c *ContextAMD64) Registers() []Register {
	ctl, integer, seg, dbg := c.has(0x1), c.has(0x2), c.has(0x4), c.has(0x10)
	fp := c.has(0x8)
	return []Register{
		{"p1_home", c.P1Home, true}, {"p2_home", c.P2Home, true}, {"p3_home", c.P3Home, true},
		{"p4_home", c.P4Home, true}, {"p5_home", c.P5Home, true}, {"p6_home", c.P6Home, true},
		{"context_flags", uint64(c.ContextFlags), true}, {"mx_csr", uint64(c.MxCsr), fp || ctl},
		{"cs", uint64(c.CS), ctl}, {"ds", uint64(c.DS), seg}, {"es", uint64(c.ES), seg},
		{"fs", uint64(c.FS), seg}, {"gs", uint64(c.GS), seg}, {"ss", uint64(c.SS), ctl},
		{"eflags", uint64(c.EFlags), ctl},
		{"dr0", c.DR0, dbg}, {"dr1", c.DR1, dbg}, {"dr2", c.DR2, dbg}, {"dr3", c.DR3, dbg}, {"dr6", c.DR6, dbg}, {"dr7", c.DR7, dbg},
		{"rax", c.RAX, integer}, {"rcx", c.RCX, integer}, {"rdx", c.RDX, integer}, {"rbx", c.RBX, integer},
		{"rsp", c.RSP, ctl}, {"rbp", c.RBP, integer}, {"rsi", c.RSI, integer}, {"rdi", c.RDI, integer},
		{"r8", c.R8, integer}, {"r9", c.R9, integer}, {"r10", c.R10, integer}, {"r11", c.R11, integer},
		{"r12", c.R12, integer}, {"r13", c.R13, integer}, {"r14", c.R14, integer}, {"r15", c.R15, integer},
		{"rip", c.RIP, ctl},
	}
}

func (c *ContextAMD64) has(bit uint32) bool { return c.ContextFlags&bit != 0 }

// FloatSaveX86 is the x87 FLOATING_SAVE_AREA of an x86 context.
type FloatSaveX86 struct {
	ControlWord, StatusWord, TagWord, ErrorOffset, ErrorSelector, DataOffset, DataSelector uint32
	RegisterArea                                                                           [80]byte
	Cr0NpxState                                                                            uint32
}

// ContextX86 is the 32-bit x86 CONTEXT (MDRawContextX86).
type ContextX86 struct {
	ContextFlags                  uint32
	DR0, DR1, DR2, DR3, DR6, DR7  uint32
	FloatSave                     FloatSaveX86
	GS, FS, ES, DS                uint32
	EDI, ESI, EBX, EDX, ECX, EAX  uint32
	EBP, EIP, CS, EFlags, ESP, SS uint32
	ExtendedRegisters             [512]byte
}

func decodeX86(d *decoder) (*ContextX86, error) {
	c := &ContextX86{}
	c.ContextFlags = d.u32()
	c.DR0, c.DR1, c.DR2, c.DR3, c.DR6, c.DR7 = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	fs := &c.FloatSave
	fs.ControlWord, fs.StatusWord, fs.TagWord, fs.ErrorOffset, fs.ErrorSelector, fs.DataOffset, fs.DataSelector = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	copy(fs.RegisterArea[:], d.take(80))
	fs.Cr0NpxState = d.u32()
	c.GS, c.FS, c.ES, c.DS = d.u32(), d.u32(), d.u32(), d.u32()
	c.EDI, c.ESI, c.EBX, c.EDX, c.ECX, c.EAX = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	c.EBP, c.EIP, c.CS, c.EFlags, c.ESP, c.SS = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	copy(c.ExtendedRegisters[:], d.take(512))
	return c, d.err
}

// CPU implements Context.
func (c *ContextX86) CPU() ProcessorArch { return ArchX86 }

// Flags implements Context.
func (c *ContextX86) Flags() uint32 { return c.ContextFlags }

// PC implements Context.
func (c *ContextX86) PC() uint64 { return uint64(c.EIP) }

// SP implements Context.
func (c *ContextX86) SP() uint64 { return uint64(c.ESP) }

// Registers implements Context. On x86 CONTEXT_CONTROL covers ebp, eip, cs,
// eflags, esp and ss; CONTEXT_INTEGER edi–eax; CONTEXT_SEGMENTS gs–ds.
func (c *ContextX86) Registers() []Register {
	ctl, integer, seg, dbg, fp := c.has(0x1), c.has(0x2), c.has(0x4), c.has(0x10), c.has(0x8)
	f := &c.FloatSave
	return []Register{
		{"context_flags", uint64(c.ContextFlags), true},
		{"dr0", uint64(c.DR0), dbg}, {"dr1", uint64(c.DR1), dbg}, {"dr2", uint64(c.DR2), dbg},
		{"dr3", uint64(c.DR3), dbg}, {"dr6", uint64(c.DR6), dbg}, {"dr7", uint64(c.DR7), dbg},
		{"float_save.control_word", uint64(f.ControlWord), fp}, {"float_save.status_word", uint64(f.StatusWord), fp},
		{"float_save.tag_word", uint64(f.TagWord), fp}, {"float_save.error_offset", uint64(f.ErrorOffset), fp},
		{"float_save.error_selector", uint64(f.ErrorSelector), fp}, {"float_save.data_offset", uint64(f.DataOffset), fp},
		{"float_save.data_selector", uint64(f.DataSelector), fp}, {"float_save.cr0_npx_state", uint64(f.Cr0NpxState), fp},
		{"gs", uint64(c.GS), seg}, {"fs", uint64(c.FS), seg}, {"es", uint64(c.ES), seg}, {"ds", uint64(c.DS), seg},
		{"edi", uint64(c.EDI), integer}, {"esi", uint64(c.ESI), integer}, {"ebx", uint64(c.EBX), integer},
		{"edx", uint64(c.EDX), integer}, {"ecx", uint64(c.ECX), integer}, {"eax", uint64(c.EAX), integer},
		{"ebp", uint64(c.EBP), ctl}, {"eip", uint64(c.EIP), ctl}, {"cs", uint64(c.CS), ctl},
		{"eflags", uint64(c.EFlags), ctl}, {"esp", uint64(c.ESP), ctl}, {"ss", uint64(c.SS), ctl},
	}
}

func (c *ContextX86) has(bit uint32) bool { return c.ContextFlags&bit != 0 }

// ContextARM64 is the AArch64 context in the layout Windows and current
// Breakpad and Crashpad write (MDRawContextARM64). Dumps in Breakpad's old
// layout are converted to it on read, with their flags mapped.
type ContextARM64 struct {
	ContextFlags uint32
	CPSR         uint32
	// Iregs are x0–x28, fp (x29), lr (x30), sp and pc.
	Iregs      [33]uint64
	FPRegs     [32][16]byte
	FPCR, FPSR uint32
	BCR        [8]uint32
	BVR        [8]uint64
	WCR        [2]uint32
	WVR        [2]uint64
	// OldLayout records that the dump used Breakpad's pre-2019 layout.
	OldLayout bool
}

func decodeARM64(d *decoder) (*ContextARM64, error) {
	c := &ContextARM64{ContextFlags: d.u32(), CPSR: d.u32()}
	for i := range c.Iregs {
		c.Iregs[i] = d.u64()
	}
	for i := range c.FPRegs {
		copy(c.FPRegs[i][:], d.take(16))
	}
	c.FPCR, c.FPSR = d.u32(), d.u32()
	for i := range c.BCR {
		c.BCR[i] = d.u32()
	}
	for i := range c.BVR {
		c.BVR[i] = d.u64()
	}
	c.WCR[0], c.WCR[1] = d.u32(), d.u32()
	c.WVR[0], c.WVR[1] = d.u64(), d.u64()
	return c, d.err
}

// decodeARM64Old reads Breakpad's old ARM64 layout: 64-bit flags, registers,
// cpsr, then fpsr/fpcr before the vector registers; it has no debug registers.
func decodeARM64Old(d *decoder) (*ContextARM64, error) {
	flags := d.u64()
	c := &ContextARM64{OldLayout: true}
	for i := range c.Iregs {
		c.Iregs[i] = d.u64()
	}
	c.CPSR = d.u32()
	c.FPSR, c.FPCR = d.u32(), d.u32()
	for i := range c.FPRegs {
		copy(c.FPRegs[i][:], d.take(16))
	}
	if d.err != nil {
		return nil, d.err
	}
	if flags&ContextFlagARM64Old == 0 {
		return nil, formatErr("context", d.base, "%d-byte context without the old ARM64 flag (flags %#x)", contextARM64OldSize, flags)
	}
	// The old layout had one integer group covering pc, sp, fp and lr too.
	// Breakpad tests its old group masks (0x80000002, 0x80000004) with a
	// plain AND, so any dump carrying the old CPU bit counts as having every
	// group; the writers of that layout always filled them all, and
	// agreeing with Breakpad here keeps register validity identical.
	c.ContextFlags = ContextFlagARM64 | 0x1 | 0x2 | 0x4
	return c, nil
}

// CPU implements Context.
func (c *ContextARM64) CPU() ProcessorArch { return ArchARM64 }

// Flags implements Context.
func (c *ContextARM64) Flags() uint32 { return c.ContextFlags }

// PC implements Context.
func (c *ContextARM64) PC() uint64 { return c.Iregs[32] }

// SP implements Context.
func (c *ContextARM64) SP() uint64 { return c.Iregs[31] }

// Registers implements Context: CONTEXT_CONTROL covers fp, lr, sp, pc and
// cpsr; CONTEXT_INTEGER x0–x28; CONTEXT_FLOATING_POINT fpcr and fpsr.
func (c *ContextARM64) Registers() []Register {
	ctl, integer, fp := c.ContextFlags&0x1 != 0, c.ContextFlags&0x2 != 0, c.ContextFlags&0x4 != 0
	regs := make([]Register, 0, 37)
	regs = append(regs, Register{"context_flags", uint64(c.ContextFlags), true})
	for i := 0; i < 29; i++ {
		regs = append(regs, Register{arm64Names[i], c.Iregs[i], integer})
	}
	regs = append(regs,
		Register{"fp", c.Iregs[29], ctl}, Register{"lr", c.Iregs[30], ctl},
		Register{"sp", c.Iregs[31], ctl}, Register{"pc", c.Iregs[32], ctl},
		Register{"cpsr", uint64(c.CPSR), ctl},
		Register{"fpcr", uint64(c.FPCR), fp}, Register{"fpsr", uint64(c.FPSR), fp})
	return regs
}

var arm64Names = [29]string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9",
	"x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19",
	"x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28"}

// ContextARM is the 32-bit ARM context (MDRawContextARM).
type ContextARM struct {
	ContextFlags uint32
	// Iregs are r0–r12, sp (r13), lr (r14) and pc (r15).
	Iregs [16]uint32
	CPSR  uint32
	FPSCR uint64
	VFP   [32]uint64
	Extra [8]uint32
}

func decodeARM(d *decoder, cpu uint32) (*ContextARM, error) {
	c := &ContextARM{ContextFlags: d.u32()}
	if c.ContextFlags&contextCPUMask == 0 {
		// Old Windows CE flag value or none: normalise to MD_CONTEXT_ARM.
		c.ContextFlags = (c.ContextFlags &^ contextFlagARMOld) | cpu
	}
	for i := range c.Iregs {
		c.Iregs[i] = d.u32()
	}
	c.CPSR = d.u32()
	c.FPSCR = d.u64()
	for i := range c.VFP {
		c.VFP[i] = d.u64()
	}
	for i := range c.Extra {
		c.Extra[i] = d.u32()
	}
	return c, d.err
}

// CPU implements Context.
func (c *ContextARM) CPU() ProcessorArch { return ArchARM }

// Flags implements Context.
func (c *ContextARM) Flags() uint32 { return c.ContextFlags }

// PC implements Context.
func (c *ContextARM) PC() uint64 { return uint64(c.Iregs[15]) }

// SP implements Context.
func (c *ContextARM) SP() uint64 { return uint64(c.Iregs[13]) }

// Registers implements Context: CONTEXT_INTEGER covers r0–pc and cpsr,
// CONTEXT_FLOATING_POINT the fpscr.
func (c *ContextARM) Registers() []Register {
	integer, fp := c.ContextFlags&0x2 != 0, c.ContextFlags&0x4 != 0
	regs := make([]Register, 0, 19)
	regs = append(regs, Register{"context_flags", uint64(c.ContextFlags), true})
	for i, name := range armNames {
		regs = append(regs, Register{name, uint64(c.Iregs[i]), integer})
	}
	return append(regs, Register{"cpsr", uint64(c.CPSR), integer}, Register{"fpscr", c.FPSCR, fp})
}

var armNames = [16]string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"}
