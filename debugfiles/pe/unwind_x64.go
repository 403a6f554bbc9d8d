package pe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// X64UnwindOp is the operation of an x64 UNWIND_CODE.
type X64UnwindOp uint8

// x64 unwind operations (UWOP_*). Codes 6 and 7 were SAVE_XMM and
// SAVE_XMM_FAR in version 1; version 2 reuses 6 for epilog descriptions
// and leaves 7 spare. Both keep the slot counts of the old codes (2 and
// 3), as Windows' own unwinder and LLVM count them.
const (
	UWOPPushNonvol     X64UnwindOp = 0
	UWOPAllocLarge     X64UnwindOp = 1
	UWOPAllocSmall     X64UnwindOp = 2
	UWOPSetFPReg       X64UnwindOp = 3
	UWOPSaveNonvol     X64UnwindOp = 4
	UWOPSaveNonvolFar  X64UnwindOp = 5
	UWOPEpilog         X64UnwindOp = 6
	UWOPSpareCode      X64UnwindOp = 7
	UWOPSaveXMM128     X64UnwindOp = 8
	UWOPSaveXMM128Far  X64UnwindOp = 9
	UWOPPushMachFrame  X64UnwindOp = 10
	x64UnwindOpInvalid X64UnwindOp = 0xff
)

var x64OpNames = [...]string{"PUSH_NONVOL", "ALLOC_LARGE", "ALLOC_SMALL", "SET_FPREG", "SAVE_NONVOL",
	"SAVE_NONVOL_FAR", "EPILOG", "SPARE", "SAVE_XMM128", "SAVE_XMM128_FAR", "PUSH_MACHFRAME"}

// String is the operation's name without the UWOP_ prefix, as Microsoft's
// documentation and llvm-readobj spell it.
func (op X64UnwindOp) String() string {
	if int(op) < len(x64OpNames) {
		return x64OpNames[op]
	}
	return fmt.Sprintf("UWOP(%d)", uint8(op))
}

// Unwind info flags (UNW_FLAG_*).
const (
	UnwFlagEHandler  = 0x1
	UnwFlagUHandler  = 0x2
	UnwFlagChainInfo = 0x4
)

// X64Register names the general-purpose registers by their number in
// unwind codes: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI,
// 8–15 R8–R15. XMM saves number XMM0–XMM15 the same way.
var X64Register = [16]string{"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
	"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"}

// X64UnwindCode is one decoded operation of an UNWIND_INFO, taking one to
// three 16-bit slots.
type X64UnwindCode struct {
	// PrologOffset is the offset from the start of the prolog of the end
	// of the instruction this code describes.
	PrologOffset uint8
	Op           X64UnwindOp
	// Info is the operation info: the register of PUSH_NONVOL,
	// SAVE_NONVOL(_FAR) and SAVE_XMM128(_FAR), 1 when PUSH_MACHFRAME's
	// frame has an error code, 0 or 1 for ALLOC_LARGE's two encodings.
	Info uint8
	// Value is the decoded operand: the bytes allocated (ALLOC_*), the
	// offset in bytes of the save slot from the stack pointer after the
	// allocations, or from the frame register's base when one is set
	// (SAVE_*); for EPILOG (version 2) the second slot as stored, the
	// epilog's PrologOffset and Info carrying its size and flags (the
	// encoding is undocumented: a stack walker reads epilogs from the
	// code instead); zero otherwise.
	Value uint32
	// Slots is how many 16-bit slots the code occupies.
	Slots uint8
}

// X64UnwindInfo is a decoded UNWIND_INFO structure.
type X64UnwindInfo struct {
	// RVA is where the structure is.
	RVA     uint32
	Version uint8
	// Flags are UNW_FLAG_* bits.
	Flags      uint8
	PrologSize uint8
	// FrameRegister is the register number of the frame pointer, 0 when
	// none is used; FrameOffset is its scaled offset in bytes (the
	// stored value times 16).
	FrameRegister uint8
	FrameOffset   uint32
	// Codes are in storage order: the last prolog operation first, as
	// the unwinder applies them.
	Codes []X64UnwindCode
	// Handler is the RVA of the language-specific handler and
	// HandlerData the RVA of its data, with UNW_FLAG_EHANDLER or
	// UNW_FLAG_UHANDLER.
	Handler     uint32
	HandlerData uint32
	// Chained is the entry whose unwind information continues this one,
	// with UNW_FLAG_CHAININFO.
	Chained *RuntimeFunction
}

// maxChain bounds how many chained UNWIND_INFO records one function may
// have; real chains are one or two deep, and cycles must not loop.
const maxChain = 32

// ErrUnwindChain reports a chain of UNWIND_INFO records that is circular or
// longer than any real one.
var ErrUnwindChain = errors.New("pe: unwind info chain too long")

// X64UnwindInfo decodes the UNWIND_INFO of an x64 entry.
func (o *Object) X64UnwindInfo(rf RuntimeFunction) (*X64UnwindInfo, error) {
	if o.machine != MachineAMD64 {
		return nil, fmt.Errorf("%w: not an x64 image", ErrNoUnwind)
	}
	return o.decodeX64UnwindInfo(rf.UnwindData &^ 1)
}

// X64UnwindChain decodes the UNWIND_INFO of an entry and of every entry it
// is chained to, in that order.
func (o *Object) X64UnwindChain(rf RuntimeFunction) ([]*X64UnwindInfo, error) {
	var out []*X64UnwindInfo
	for range maxChain {
		ui, err := o.X64UnwindInfo(rf)
		if err != nil {
			return out, err
		}
		out = append(out, ui)
		if ui.Chained == nil {
			return out, nil
		}
		rf = *ui.Chained
	}
	return out, ErrUnwindChain
}

// decodeX64UnwindInfo decodes the structure at rva. Some linkers set bit 0
// of the UNWIND_INFO RVA in .pdata to mark chained entries; the caller
// clears it.
func (o *Object) decodeX64UnwindInfo(rva uint32) (*X64UnwindInfo, error) {
	hdr, err := o.readRVA(rva, 4)
	if err != nil {
		return nil, fmt.Errorf("pe: unwind info at %#x: %w", rva, err)
	}
	ui := &X64UnwindInfo{
		RVA:           rva,
		Version:       hdr[0] & 7,
		Flags:         hdr[0] >> 3,
		PrologSize:    hdr[1],
		FrameRegister: hdr[3] & 0xf,
		FrameOffset:   uint32(hdr[3]>>4) * 16,
	}
	count := uint32(hdr[2])
	// The code array is padded to an even number of slots.
	codesLen := (count + count&1) * 2
	tail := uint32(0)
	switch {
	case ui.Flags&UnwFlagChainInfo != 0:
		tail = 12
	case ui.Flags&(UnwFlagEHandler|UnwFlagUHandler) != 0:
		tail = 4
	}
	raw, err := o.readRVA(rva+4, uint64(codesLen+tail))
	if err != nil {
		return nil, fmt.Errorf("pe: unwind info at %#x: %w", rva, err)
	}
	codesOff, _, _ := o.rvaOffset(rva + 4) // readRVA above succeeded
	ui.Codes, err = decodeX64Codes(raw[:count*2], ui.Version, int64(codesOff))
	if err != nil {
		return nil, fmt.Errorf("pe: unwind info at %#x: %w", rva, err)
	}
	rest := raw[codesLen:]
	switch {
	case ui.Flags&UnwFlagChainInfo != 0:
		ui.Chained = &RuntimeFunction{
			Begin:      binary.LittleEndian.Uint32(rest),
			End:        binary.LittleEndian.Uint32(rest[4:]),
			UnwindData: binary.LittleEndian.Uint32(rest[8:]),
		}
	case tail == 4:
		ui.Handler = binary.LittleEndian.Uint32(rest)
		ui.HandlerData = rva + 4 + codesLen + 4
	}
	return ui, nil
}

// decodeX64Codes decodes a code array; base is its file offset, for
// errors.
func decodeX64Codes(raw []byte, version uint8, base int64) ([]X64UnwindCode, error) {
	slots := len(raw) / 2
	slot := func(i int) uint16 { return binary.LittleEndian.Uint16(raw[2*i:]) }
	codes := make([]X64UnwindCode, 0, slots)
	for i := 0; i < slots; {
		s := slot(i)
		c := X64UnwindCode{PrologOffset: uint8(s), Op: X64UnwindOp(s >> 8 & 0xf), Info: uint8(s >> 12), Slots: 1}
		switch c.Op {
		case UWOPPushNonvol, UWOPSetFPReg, UWOPPushMachFrame:
		case UWOPAllocSmall:
			c.Value = uint32(c.Info)*8 + 8
		case UWOPAllocLarge:
			switch c.Info {
			case 0:
				c.Slots = 2
			case 1:
				c.Slots = 3
			default:
				return codes, &FormatError{base + int64(2*i), fmt.Sprintf("ALLOC_LARGE with info %d", c.Info)}
			}
		case UWOPSaveNonvol, UWOPSaveXMM128, UWOPEpilog:
			c.Slots = 2
		case UWOPSaveNonvolFar, UWOPSaveXMM128Far, UWOPSpareCode:
			c.Slots = 3
		default:
			return codes, &FormatError{base + int64(2*i), fmt.Sprintf("unknown unwind operation %d", c.Op)}
		}
		if i+int(c.Slots) > slots {
			return codes, &FormatError{base + int64(2*i), fmt.Sprintf("%s needs %d slots, %d left", c.Op, c.Slots, slots-i)}
		}
		switch {
		case c.Op == UWOPAllocLarge && c.Info == 0:
			c.Value = uint32(slot(i+1)) * 8
		case c.Op == UWOPAllocLarge || c.Op == UWOPSaveNonvolFar || c.Op == UWOPSaveXMM128Far:
			c.Value = uint32(slot(i+1)) | uint32(slot(i+2))<<16
		case c.Op == UWOPSaveNonvol:
			c.Value = uint32(slot(i+1)) * 8
		case c.Op == UWOPSaveXMM128:
			c.Value = uint32(slot(i+1)) * 16
		case c.Op == UWOPEpilog && version >= 2:
			c.Value = uint32(slot(i + 1))
		}
		codes = append(codes, c)
		i += int(c.Slots)
	}
	return codes, nil
}
