package macho

import (
	"encoding/binary"
	"fmt"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// x86_64 compact unwind modes and fields.
const (
	x64ModeRBPFrame  = 0x01000000
	x64ModeStackImmd = 0x02000000
	x64ModeStackInd  = 0x03000000
	x64ModeDWARF     = 0x04000000

	x64RBPFrameRegisters = 0x00007fff
	x64RBPFrameOffset    = 0x00ff0000
	x64FramelessSize     = 0x00ff0000
	x64FramelessAdjust   = 0x0000e000
	x64FramelessRegCount = 0x00001c00
	x64FramelessPerm     = 0x000003ff
)

// x64Regs maps the 3-bit register numbers of the encoding (1 rbx, 2 r12,
// 3 r13, 4 r14, 5 r15, 6 rbp) to DWARF numbers.
var x64Regs = [7]unwind.Reg{0, 3, 12, 13, 14, 15, 6}

// DWARF numbers of the amd64 registers the rows use.
const (
	x64RBP = 6
	x64RSP = 7
	x64RIP = 16
)

func (t *CompactTable) decodeX64(e *CompactEntry, row *unwind.Row) error {
	enc := e.Encoding
	switch enc & cuModeMask {
	case x64ModeRBPFrame:
		// push rbp; mov rbp, rsp: CFA = rbp+16, rbp at CFA-16, the return
		// address at CFA-8, and up to five registers saved from
		// rbp-8*offset upwards.
		row.CFA = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: x64RBP, Offset: 16}
		row.Regs = append(row.Regs, saved(x64RIP, -8), saved(x64RBP, -16))
		base := -16 - 8*int64((enc&x64RBPFrameOffset)>>16)
		regs := enc & x64RBPFrameRegisters
		for i := range 5 {
			r := (regs >> (3 * i)) & 7
			if r == 0 {
				continue
			}
			if r > 6 {
				return fmt.Errorf("macho: compact unwind: function at %#x: register %d in encoding %#x", e.Start, r, enc)
			}
			row.Regs = append(row.Regs, saved(x64Regs[r], base+8*int64(i)))
		}
	case x64ModeStackImmd, x64ModeStackInd:
		size := uint64((enc&x64FramelessSize)>>16) * 8
		if enc&cuModeMask == x64ModeStackInd {
			// The field is the offset of the 32-bit immediate of the
			// function's "sub rsp, N" instruction.
			off := (enc & x64FramelessSize) >> 16
			b := []byte(nil)
			if t.code != nil {
				b = t.code(e.Start+uint64(off), 4)
			}
			if len(b) < 4 {
				return fmt.Errorf("macho: compact unwind: function at %#x: stack size instruction not readable", e.Start)
			}
			size = uint64(binary.LittleEndian.Uint32(b)) + 8*uint64((enc&x64FramelessAdjust)>>13)
		}
		row.CFA = unwind.Rule{Kind: unwind.RuleRegOffset, Reg: x64RSP, Offset: int64(size)}
		row.Regs = append(row.Regs, saved(x64RIP, -8))
		count := int((enc & x64FramelessRegCount) >> 10)
		regs, ok := permutedRegisters(count, enc&x64FramelessPerm)
		if !ok {
			return fmt.Errorf("macho: compact unwind: function at %#x: register permutation in encoding %#x", e.Start, enc)
		}
		for i, r := range regs[:count] {
			row.Regs = append(row.Regs, saved(x64Regs[r], -8-8*int64(count)+8*int64(i)))
		}
	default:
		return fmt.Errorf("macho: compact unwind: function at %#x: x86_64 mode %#x", e.Start, enc&cuModeMask)
	}
	return nil
}

// permutedRegisters decodes the register permutation of a frameless
// encoding: the count registers pushed (from the six of x64Regs) are
// numbered by their rank among the registers not yet used, and the ranks
// packed in a mixed-radix number (bases 6·5·4·3·2 for six registers, and
// so on for fewer), so that 10 bits suffice.
func permutedRegisters(count int, perm uint32) ([6]int, bool) {
	var out [6]int
	if count < 0 || count > 6 {
		return out, false
	}
	// The radices, most significant first, for count registers chosen from
	// six: 6!/(6-count)! possibilities.
	var ranks [6]int
	p := int(perm)
	for i := range count {
		// Weight of digit i: product of the bases of the later digits.
		w := 1
		for k := i + 1; k < count; k++ {
			w *= 6 - k
		}
		ranks[i] = p / w
		p -= ranks[i] * w
		if ranks[i] >= 6-i {
			return out, false
		}
	}
	var used [7]bool
	for i := range count {
		n := 0
		for r := 1; r <= 6; r++ {
			if used[r] {
				continue
			}
			if n == ranks[i] {
				out[i], used[r] = r, true
				break
			}
			n++
		}
	}
	return out, true
}
