package pdb

import "fmt"

// FrameData is an x86 frame data record of the new FPO stream: how a
// function's frame is laid out and, as a program in the postfix language
// of the Windows debuggers ("$T0 .raSearch = $eip $T0 ^ = ..."), how to
// recover the caller's registers from it.
type FrameData struct {
	RVA          uint32
	CodeSize     uint32
	LocalSize    uint32
	ParamsSize   uint32
	MaxStackSize uint32
	// Program is the frame's unwind program, from /names.
	Program       string
	PrologSize    uint16
	SavedRegsSize uint16
	Flags         uint32
}

// Frame data flags.
const (
	FrameDataHasSEH          = 0x1
	FrameDataHasEH           = 0x2
	FrameDataIsFunctionStart = 0x4
)

// FPOData is a record of the old FPO stream (FPO_DATA): the frame of an
// x86 function compiled without frame pointer, in a fixed form.
type FPOData struct {
	Start  uint32
	Size   uint32
	Locals uint32 // in dwords
	Params uint16 // in dwords
	Prolog uint8
	Regs   uint8
	HasSEH bool
	UseBP  bool
	Frame  uint8
}

const (
	frameDataSize = 32
	fpoDataSize   = 16
)

// FrameData decodes the new FPO stream; nil when the PDB has none (only
// x86 PDBs do).
func (o *Object) FrameData() ([]FrameData, error) {
	b, idx, err := o.debugStream(dbgNewFPO)
	if err != nil || b == nil {
		return nil, wrapErr("frame data", err)
	}
	var names *stringTable
	if ni, ok := o.info.NamedStreams["/names"]; ok {
		if s, err := o.m.stream(int(ni)); err == nil {
			if data, err := s.all(); err == nil {
				names, _ = parseStringTable(data, int(ni))
			}
		}
	}
	d := newDecoder("frame data", idx, 0, b)
	out := make([]FrameData, 0, len(b)/frameDataSize)
	for d.left() >= frameDataSize {
		var f FrameData
		f.RVA = d.u32()
		f.CodeSize = d.u32()
		f.LocalSize = d.u32()
		f.ParamsSize = d.u32()
		f.MaxStackSize = d.u32()
		f.Program = names.get(d.u32())
		f.PrologSize = d.u16()
		f.SavedRegsSize = d.u16()
		f.Flags = d.u32()
		out = append(out, f)
	}
	return out, wrapErr("frame data", d.err)
}

// FPO decodes the old FPO stream; nil when the PDB has none.
func (o *Object) FPO() ([]FPOData, error) {
	b, idx, err := o.debugStream(dbgFPO)
	if err != nil || b == nil {
		return nil, wrapErr("fpo", err)
	}
	d := newDecoder("fpo", idx, 0, b)
	out := make([]FPOData, 0, len(b)/fpoDataSize)
	for d.left() >= fpoDataSize {
		var f FPOData
		f.Start = d.u32()
		f.Size = d.u32()
		f.Locals = d.u32()
		f.Params = d.u16()
		attr := d.u16()
		f.Prolog = uint8(attr)
		f.Regs = uint8(attr>>8) & 7
		f.HasSEH = attr&(1<<11) != 0
		f.UseBP = attr&(1<<12) != 0
		f.Frame = uint8(attr >> 14)
		out = append(out, f)
	}
	return out, wrapErr("fpo", d.err)
}

// debugStream reads the stream of an optional debug header slot; nil
// without error when the slot is empty.
func (o *Object) debugStream(slot int) ([]byte, int, error) {
	if o.dbi == nil || o.dbi.dbgStreams[slot] == noStream {
		return nil, -1, nil
	}
	idx := int(o.dbi.dbgStreams[slot])
	s, err := o.m.stream(idx)
	if err != nil {
		return nil, -1, nil
	}
	b, err := s.all()
	if err != nil {
		return nil, -1, fmt.Errorf("debug stream %d: %w", idx, err)
	}
	return b, idx, nil
}
