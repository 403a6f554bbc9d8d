package pe

import (
	"encoding/binary"
	"fmt"
)

// ARM64Op is an ARM64 unwind operation, named after its unwind code.
type ARM64Op uint8

// ARM64 unwind operations. Each corresponds to one prolog or epilog
// instruction; the comments give the prolog form.
const (
	// ARM64AllocS, ARM64AllocM, ARM64AllocL: sub sp, sp, #Size.
	ARM64AllocS ARM64Op = iota
	ARM64AllocM
	ARM64AllocL
	// ARM64SaveR19R20X: stp x19, x20, [sp, #-Offset]!
	ARM64SaveR19R20X
	// ARM64SaveFPLR: stp x29, lr, [sp, #Offset]
	ARM64SaveFPLR
	// ARM64SaveFPLRX: stp x29, lr, [sp, #-Offset]!
	ARM64SaveFPLRX
	// ARM64SaveRegP: stp xReg, xReg+1, [sp, #Offset]
	ARM64SaveRegP
	// ARM64SaveRegPX: stp xReg, xReg+1, [sp, #-Offset]!
	ARM64SaveRegPX
	// ARM64SaveReg: str xReg, [sp, #Offset]
	ARM64SaveReg
	// ARM64SaveRegX: str xReg, [sp, #-Offset]!
	ARM64SaveRegX
	// ARM64SaveLRPair: stp xReg, lr, [sp, #Offset]
	ARM64SaveLRPair
	// ARM64SaveFRegP: stp dReg, dReg+1, [sp, #Offset]
	ARM64SaveFRegP
	// ARM64SaveFRegPX: stp dReg, dReg+1, [sp, #-Offset]!
	ARM64SaveFRegPX
	// ARM64SaveFReg: str dReg, [sp, #Offset]
	ARM64SaveFReg
	// ARM64SaveFRegX: str dReg, [sp, #-Offset]!
	ARM64SaveFRegX
	// ARM64SetFP: mov x29, sp
	ARM64SetFP
	// ARM64AddFP: add x29, sp, #Size
	ARM64AddFP
	// ARM64Nop: an instruction with no unwind effect.
	ARM64Nop
	// ARM64End ends a code sequence (a ret in an epilog); ARM64EndC ends
	// the codes of a chained scope.
	ARM64End
	ARM64EndC
	// ARM64SaveNext: the next register pair after the previous save, 16
	// bytes above it (after x27/x28 the first FP pair).
	ARM64SaveNext
	// ARM64SaveAnyReg: a save of any register or pair (3-byte code);
	// Reg, Offset and the raw bytes describe it.
	ARM64SaveAnyReg
	// ARM64TrapFrame, ARM64MachineFrame, ARM64Context, ARM64ECContext,
	// ARM64ClearUnwoundToCall: the custom stacks of kernel and dispatch
	// code.
	ARM64TrapFrame
	ARM64MachineFrame
	ARM64Context
	ARM64ECContext
	ARM64ClearUnwoundToCall
	// ARM64PACSignLR: pacibsp (sign lr with the B key and sp).
	ARM64PACSignLR
	// ARM64Reserved is a code with no assigned meaning.
	ARM64Reserved
)

var arm64OpNames = [...]string{"alloc_s", "alloc_m", "alloc_l", "save_r19r20_x", "save_fplr", "save_fplr_x",
	"save_regp", "save_regp_x", "save_reg", "save_reg_x", "save_lrpair", "save_fregp", "save_fregp_x",
	"save_freg", "save_freg_x", "set_fp", "add_fp", "nop", "end", "end_c", "save_next", "save_any_reg",
	"trap_frame", "machine_frame", "context", "ec_context", "clear_unwound_to_call", "pac_sign_lr", "reserved"}

// String is the unwind code's name in Microsoft's documentation.
func (op ARM64Op) String() string {
	if int(op) < len(arm64OpNames) {
		return arm64OpNames[op]
	}
	return fmt.Sprintf("arm64op(%d)", uint8(op))
}

// ARM64UnwindOp is one decoded unwind code.
type ARM64UnwindOp struct {
	Op ARM64Op
	// Reg is the first register the operation saves: an x register
	// number (29 for fp, 30 for lr) for integer saves, a d register
	// number for floating-point saves.
	Reg uint8
	// Offset is the save slot's offset from sp in bytes; for the
	// pre-indexed forms (…_x) it is the amount sp is decremented by.
	Offset uint32
	// Size is the allocation of alloc_* and the offset of add_fp, in
	// bytes.
	Size uint32
	// Code holds the code's bytes and Len their count; Len is 0 for the
	// operations a packed entry implies.
	Code [4]byte
	Len  uint8
}

// ARM64EpilogScope is one epilog of an unpacked .xdata record.
type ARM64EpilogScope struct {
	// Start is the epilog's offset in bytes from the function's start.
	Start uint32
	// StartIndex is the byte index of its first unwind code.
	StartIndex uint16
	// Ops are the epilog's unwind codes up to the end code.
	Ops []ARM64UnwindOp
}

// ARM64UnwindInfo is the decoded unwind information of one ARM64 .pdata
// entry, packed or not.
type ARM64UnwindInfo struct {
	// Flag is the entry's Flag: 0 for an .xdata record, 1 for packed
	// data, 2 for packed data of a fragment without prolog or epilog.
	Flag uint8
	// FunctionLength is the length of the function in bytes.
	FunctionLength uint32

	// Packed fields (Flag 1 and 2): RegF and RegI as stored, H (homed
	// parameters), CR and the frame size in bytes.
	RegF, RegI uint8
	H          bool
	CR         uint8
	FrameSize  uint32

	// Unpacked fields (Flag 0): the .xdata record's RVA, version, X
	// (exception data present) and E (a single epilog described by the
	// header: EpilogIndex is its code index) bits.
	XDataRVA    uint32
	Version     uint8
	X, E        bool
	EpilogIndex uint16
	// Epilogs are the epilog scopes of a record without E.
	Epilogs []ARM64EpilogScope
	// Codes are the raw unwind code bytes.
	Codes []byte
	// Handler is the exception handler's RVA and HandlerData the RVA of
	// its data, when X is set.
	Handler     uint32
	HandlerData uint32

	// Prolog lists the operations of the prolog in unwind order (the
	// last prolog instruction first), up to and including the end code.
	// For a packed entry it is the canonical prolog its fields imply.
	Prolog []ARM64UnwindOp
}

// ARM64 .pdata flags.
const (
	ARM64FlagUnpacked       = 0
	ARM64FlagPacked         = 1
	ARM64FlagPackedFragment = 2
)

// arm64FunctionLength returns the length in bytes of the function an ARM64
// .pdata entry describes, or 0 when its .xdata record cannot be read.
func (o *Object) arm64FunctionLength(unwindData uint32) uint32 {
	if unwindData&3 != ARM64FlagUnpacked {
		return (unwindData >> 2 & 0x7ff) * 4
	}
	b, err := o.readRVA(unwindData, 4)
	if err != nil {
		return 0
	}
	return (binary.LittleEndian.Uint32(b) & 0x3ffff) * 4
}

// xdataSize computes the size of an .xdata record up to the handler data
// from its first one or two words (at most 8 + 4*65535 + 4*255 + 4 bytes).
// A header too short to tell yields its own length, which then fails to
// decode.
func xdataSize(hdr []byte) int {
	if len(hdr) < 4 {
		return len(hdr)
	}
	w0 := binary.LittleEndian.Uint32(hdr)
	size, epilogs, words := 4, w0>>22&0x1f, w0>>27
	if epilogs == 0 && words == 0 {
		if len(hdr) < 8 {
			return len(hdr)
		}
		w1 := binary.LittleEndian.Uint32(hdr[4:])
		size, epilogs, words = 8, w1&0xffff, w1>>16&0xff
	}
	if w0>>21&1 != 0 {
		epilogs = 0 // E: the field is a code index, not a count
	}
	size += 4*int(epilogs) + 4*int(words)
	if w0>>20&1 != 0 {
		size += 4 // the handler's RVA
	}
	return size
}

// ARM64UnwindInfo decodes the unwind information of an ARM64 entry.
func (o *Object) ARM64UnwindInfo(rf RuntimeFunction) (*ARM64UnwindInfo, error) {
	if o.machine != MachineARM64 {
		return nil, fmt.Errorf("%w: not an ARM64 image", ErrNoUnwind)
	}
	flag := uint8(rf.UnwindData & 3)
	if flag != ARM64FlagUnpacked {
		if flag == 3 {
			return nil, fmt.Errorf("pe: ARM64 .pdata entry for RVA %#x has the reserved flag 3", rf.Begin)
		}
		return decodeARM64Packed(rf.UnwindData), nil
	}
	// The header says how long the record is: read it first, so that
	// only the record's bytes are read (or copied, without a mapping).
	hdr, err := o.readRVAUpTo(rf.UnwindData, 8)
	if err != nil {
		return nil, fmt.Errorf("pe: .xdata at %#x: %w", rf.UnwindData, err)
	}
	raw, err := o.readRVA(rf.UnwindData, uint64(xdataSize(hdr)))
	if err != nil {
		return nil, fmt.Errorf("pe: .xdata at %#x: %w", rf.UnwindData, err)
	}
	off, _, _ := o.rvaOffset(rf.UnwindData) // readRVA above succeeded
	ui, err := decodeARM64XData(raw, int64(off))
	if err != nil {
		return nil, fmt.Errorf("pe: .xdata at %#x: %w", rf.UnwindData, err)
	}
	ui.XDataRVA = rf.UnwindData
	if ui.X {
		ui.HandlerData += rf.UnwindData
	}
	return ui, nil
}

// decodeARM64XData decodes an .xdata record found at file offset base;
// HandlerData is relative to the record's start.
func decodeARM64XData(raw []byte, base int64) (*ARM64UnwindInfo, error) {
	b := buf{b: raw, base: base}
	w0 := b.u32()
	ui := &ARM64UnwindInfo{
		Flag:           ARM64FlagUnpacked,
		FunctionLength: (w0 & 0x3ffff) * 4,
		Version:        uint8(w0 >> 18 & 3),
		X:              w0>>20&1 != 0,
		E:              w0>>21&1 != 0,
	}
	epilogs := w0 >> 22 & 0x1f
	words := w0 >> 27
	if epilogs == 0 && words == 0 {
		// The extended header holds larger counts.
		w1 := b.u32()
		epilogs = w1 & 0xffff
		words = w1 >> 16 & 0xff
	}
	if ui.E {
		ui.EpilogIndex = uint16(epilogs)
		epilogs = 0
	}
	type scope struct {
		start uint32
		index uint16
	}
	var scopes []scope
	if epilogs > 0 {
		rawScopes := b.bytes(int(epilogs) * 4)
		for i := 0; i < len(rawScopes); i += 4 {
			w := binary.LittleEndian.Uint32(rawScopes[i:])
			scopes = append(scopes, scope{start: (w & 0x3ffff) * 4, index: uint16(w >> 22)})
		}
	}
	ui.Codes = b.bytes(int(words) * 4)
	if ui.X {
		ui.Handler = b.u32()
		ui.HandlerData = uint32(b.off)
	}
	if b.err != nil {
		return nil, b.err
	}
	var err error
	if ui.Prolog, err = decodeARM64Ops(ui.Codes, 0); err != nil {
		return nil, fmt.Errorf("prolog: %w", err)
	}
	for i, s := range scopes {
		ops, err := decodeARM64Ops(ui.Codes, int(s.index))
		if err != nil {
			return nil, fmt.Errorf("epilog %d: %w", i, err)
		}
		ui.Epilogs = append(ui.Epilogs, ARM64EpilogScope{Start: s.start, StartIndex: s.index, Ops: ops})
	}
	return ui, nil
}

// arm64CodeLen is the length of the unwind code starting with byte c.
func arm64CodeLen(c byte) int {
	switch {
	case c < 0xc0:
		return 1
	case c < 0xe0:
		return 2
	case c == 0xe0:
		return 4
	case c == 0xe2:
		return 2
	case c == 0xe7:
		return 3
	case c >= 0xf8 && c <= 0xfb:
		return 2 + int(c-0xf8)
	}
	return 1
}

// decodeARM64Ops decodes codes from index start up to and including the
// first end or end_c code, or to the end of the array.
func decodeARM64Ops(codes []byte, start int) ([]ARM64UnwindOp, error) {
	if start > len(codes) {
		return nil, fmt.Errorf("code index %d past the %d code bytes", start, len(codes))
	}
	var ops []ARM64UnwindOp
	for i := start; i < len(codes); {
		n := arm64CodeLen(codes[i])
		if i+n > len(codes) {
			return ops, fmt.Errorf("code %#x at index %d needs %d bytes, %d left", codes[i], i, n, len(codes)-i)
		}
		op := decodeARM64Op(codes[i : i+n])
		ops = append(ops, op)
		i += n
		if op.Op == ARM64End || op.Op == ARM64EndC {
			break
		}
	}
	return ops, nil
}

// decodeARM64Op decodes one code of the length arm64CodeLen gives.
func decodeARM64Op(c []byte) ARM64UnwindOp {
	op := ARM64UnwindOp{Len: uint8(len(c))}
	copy(op.Code[:], c)
	b0 := uint32(c[0])
	var b1 uint32
	if len(c) > 1 {
		b1 = uint32(c[1])
	}
	// The register and offset fields of the two-byte save codes.
	reg10 := uint8((b0&3)<<2 | b1>>6) // xxxx across the two bytes
	reg3 := uint8((b0&1)<<2 | b1>>6)  // xxx across the two bytes
	off6 := (b1 & 0x3f) * 8           // zzzzzz * 8
	off6x := (b1&0x3f + 1) * 8        // (zzzzzz + 1) * 8
	regX := uint8((b0&1)<<3 | b1>>5)  // xxxx of save_reg_x
	off5x := (b1&0x1f + 1) * 8        // (zzzzz + 1) * 8
	switch {
	case b0 < 0x20:
		op.Op, op.Size = ARM64AllocS, (b0&0x1f)*16
	case b0 < 0x40:
		op.Op, op.Reg, op.Offset = ARM64SaveR19R20X, 19, (b0&0x1f)*8
	case b0 < 0x80:
		op.Op, op.Reg, op.Offset = ARM64SaveFPLR, 29, (b0&0x3f)*8
	case b0 < 0xc0:
		op.Op, op.Reg, op.Offset = ARM64SaveFPLRX, 29, (b0&0x3f+1)*8
	case b0 < 0xc8:
		op.Op, op.Size = ARM64AllocM, ((b0&7)<<8|b1)*16
	case b0 < 0xcc:
		op.Op, op.Reg, op.Offset = ARM64SaveRegP, 19+reg10, off6
	case b0 < 0xd0:
		op.Op, op.Reg, op.Offset = ARM64SaveRegPX, 19+reg10, off6x
	case b0 < 0xd4:
		op.Op, op.Reg, op.Offset = ARM64SaveReg, 19+reg10, off6
	case b0 < 0xd6:
		op.Op, op.Reg, op.Offset = ARM64SaveRegX, 19+regX, off5x
	case b0 < 0xd8:
		op.Op, op.Reg, op.Offset = ARM64SaveLRPair, 19+2*reg3, off6
	case b0 < 0xda:
		op.Op, op.Reg, op.Offset = ARM64SaveFRegP, 8+reg3, off6
	case b0 < 0xdc:
		op.Op, op.Reg, op.Offset = ARM64SaveFRegPX, 8+reg3, off6x
	case b0 < 0xde:
		op.Op, op.Reg, op.Offset = ARM64SaveFReg, 8+reg3, off6
	case b0 == 0xde:
		op.Op, op.Reg, op.Offset = ARM64SaveFRegX, 8+uint8(b1>>5), off5x
	case b0 == 0xe0:
		op.Op, op.Size = ARM64AllocL, (b1<<16|uint32(c[2])<<8|uint32(c[3]))*16
	case b0 == 0xe1:
		op.Op, op.Reg = ARM64SetFP, 29
	case b0 == 0xe2:
		op.Op, op.Reg, op.Size = ARM64AddFP, 29, b1*8
	case b0 == 0xe3:
		op.Op = ARM64Nop
	case b0 == 0xe4:
		op.Op = ARM64End
	case b0 == 0xe5:
		op.Op = ARM64EndC
	case b0 == 0xe6:
		op.Op = ARM64SaveNext
	case b0 == 0xe7:
		// 11100111 0pxrrrrr ffoooooo: p pair, x pre-indexed, r register,
		// f class (x, d, q), o offset in 16-byte (pairs, q, pre-indexed)
		// or 8-byte units.
		b2 := uint32(c[2])
		op.Op, op.Reg = ARM64SaveAnyReg, uint8(b1&0x1f)
		scale := uint32(8)
		if b1&0x40 != 0 || b1&0x20 != 0 || b2>>6 == 2 {
			scale = 16
		}
		op.Offset = (b2 & 0x3f) * scale
	case b0 == 0xe8:
		op.Op = ARM64TrapFrame
	case b0 == 0xe9:
		op.Op = ARM64MachineFrame
	case b0 == 0xea:
		op.Op = ARM64Context
	case b0 == 0xeb:
		op.Op = ARM64ECContext
	case b0 == 0xec:
		op.Op = ARM64ClearUnwoundToCall
	case b0 == 0xfc:
		op.Op = ARM64PACSignLR
	default:
		op.Op = ARM64Reserved
	}
	return op
}

// decodeARM64Packed expands packed unwind data into the canonical prolog
// it stands for (Microsoft's "ARM64 exception handling", packed unwind
// data), in unwind order. The homed parameter stores are saves of x0–x7
// (restoring them when unwinding is harmless); CR 2 adds pacibsp.
func decodeARM64Packed(w uint32) *ARM64UnwindInfo {
	ui := &ARM64UnwindInfo{
		Flag:           uint8(w & 3),
		FunctionLength: (w >> 2 & 0x7ff) * 4,
		RegF:           uint8(w >> 13 & 7),
		RegI:           uint8(w >> 16 & 0xf),
		H:              w>>20&1 != 0,
		CR:             uint8(w >> 21 & 3),
		FrameSize:      (w >> 23 & 0x1ff) * 16,
	}
	regI, regF, cr := uint32(ui.RegI), uint32(ui.RegF), ui.CR
	intSize := 8 * regI
	if cr == 1 {
		intSize += 8
	}
	fpSize := 8 * regF
	if regF > 0 {
		fpSize += 8
	}
	h := uint32(0)
	if ui.H {
		h = 1
	}
	saveSize := (intSize + fpSize + 64*h + 15) &^ 15
	locSize := int64(ui.FrameSize) - int64(saveSize)

	var ops []ARM64UnwindOp
	add := func(op ARM64Op, reg uint8, off, size uint32) {
		ops = append(ops, ARM64UnwindOp{Op: op, Reg: reg, Offset: off, Size: size})
	}
	alloc := func(n uint32) {
		switch {
		case n < 512:
			add(ARM64AllocS, 0, 0, n)
		case n < 1<<15:
			add(ARM64AllocM, 0, 0, n)
		default:
			add(ARM64AllocL, 0, 0, n)
		}
	}
	if cr == 2 || cr == 3 {
		add(ARM64SetFP, 29, 0, 0)
		if locSize <= 512 {
			add(ARM64SaveFPLRX, 29, uint32(max(locSize, 0)), 0)
		} else {
			add(ARM64SaveFPLR, 29, 0, 0)
		}
	}
	switch {
	case locSize > 4080:
		alloc(uint32(locSize - 4080))
		alloc(4080)
	case (cr != 2 && cr != 3 && locSize > 0) || locSize > 512:
		alloc(uint32(locSize))
	}
	if ui.H {
		add(ARM64SaveRegP, 6, saveSize-16, 0)
		add(ARM64SaveRegP, 4, saveSize-32, 0)
		add(ARM64SaveRegP, 2, saveSize-48, 0)
		if regI > 0 || regF > 0 || cr == 1 {
			add(ARM64SaveRegP, 0, saveSize-64, 0)
		} else {
			add(ARM64SaveRegPX, 0, saveSize, 0)
		}
	}
	floatRegs := uint32(0)
	if regF > 0 {
		floatRegs = regF + 1
	}
	for i := int((floatRegs+1)/2) - 1; i >= 0; i-- {
		reg := uint8(8 + 2*i)
		switch {
		case i == int((floatRegs+1)/2)-1 && floatRegs%2 == 1:
			add(ARM64SaveFReg, reg, intSize+16*uint32(i), 0)
		case i == 0 && regI == 0 && cr != 1:
			add(ARM64SaveFRegPX, reg, saveSize, 0)
		default:
			add(ARM64SaveFRegP, reg, intSize+16*uint32(i), 0)
		}
	}
	if cr == 1 && regI%2 == 0 {
		if regI == 0 {
			add(ARM64SaveRegX, 30, saveSize, 0)
		} else {
			add(ARM64SaveReg, 30, intSize-8, 0)
		}
	}
	for i := int((regI+1)/2) - 1; i >= 0; i-- {
		reg := uint8(19 + 2*i)
		switch {
		case i == int((regI+1)/2)-1 && regI%2 == 1:
			switch {
			case cr == 1 && i > 0:
				add(ARM64SaveLRPair, reg, 16*uint32(i), 0)
			case cr == 1:
				// RegI 1 with CR 1 maps to no documented prolog;
				// Windows' unwinder rejects it. Keep the save of
				// x19 and lr it would need.
				add(ARM64SaveLRPair, reg, saveSize, 0)
			case i == 0:
				add(ARM64SaveRegX, reg, saveSize, 0)
			default:
				add(ARM64SaveReg, reg, 16*uint32(i), 0)
			}
		case i == 0:
			add(ARM64SaveRegPX, 19, saveSize, 0)
		default:
			add(ARM64SaveRegP, reg, 16*uint32(i), 0)
		}
	}
	if cr == 2 {
		add(ARM64PACSignLR, 0, 0, 0)
	}
	add(ARM64End, 0, 0, 0)
	ui.Prolog = ops
	return ui
}
