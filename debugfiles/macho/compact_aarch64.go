package macho

import (
	"fmt"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// arm64 compact unwind modes and fields.
const (
	arm64ModeFrameless = 0x02000000
	arm64ModeDWARF     = 0x03000000
	arm64ModeFrame     = 0x04000000

	arm64FramelessSize = 0x00fff000
)

// arm64Pairs are the register pairs a frame or frameless encoding can
// save, by flag bit, in the order they are stored downwards from the top
// of the frame: x19/x20 … x27/x28, then d8/d9 … d14/d15 (DWARF v8…v15).
var arm64Pairs = [...]struct {
	bit    uint32
	lo, hi unwind.Reg
}{
	{0x001, 19, 20}, {0x002, 21, 22}, {0x004, 23, 24}, {0x008, 25, 26}, {0x010, 27, 28},
	{0x100, 72, 73}, {0x200, 74, 75}, {0x400, 76, 77}, {0x800, 78, 79},
}

// DWARF numbers of the arm64 registers the rows use.
const (
	arm64FP = 29
	arm64LR = 30
	arm64SP = 31
)

func decodeARM64(e *CompactEntry, row *unwind.Row) error {
	enc := e.Encoding
	var top int64
	switch enc & cuModeMask {
	case arm64ModeFrame:
		// stp x29, x30, [sp, #-16]!; mov x29, sp: CFA = fp+16, lr at
		// CFA-8, fp at CFA-16; saved pairs below.
		row.CFA = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: arm64FP, Offset: 16}
		row.Regs = append(row.Regs, saved(arm64FP, -16), saved(arm64LR, -8))
		top = -16
	case arm64ModeFrameless:
		// A leaf: the stack pointer moved by a fixed size, the return
		// address still in lr.
		size := int64((enc&arm64FramelessSize)>>12) * 16
		row.CFA = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: arm64SP, Offset: size}
	default:
		return fmt.Errorf("macho: compact unwind: function at %#x: arm64 mode %#x", e.Start, enc&cuModeMask)
	}
	off := top
	for _, p := range arm64Pairs {
		if enc&p.bit == 0 {
			continue
		}
		off -= 8
		row.Regs = append(row.Regs, saved(p.lo, off))
		off -= 8
		row.Regs = append(row.Regs, saved(p.hi, off))
	}
	return nil
}
