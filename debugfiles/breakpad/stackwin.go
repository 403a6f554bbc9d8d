package breakpad

import (
	"strconv"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// StackWin converts the rows of unwind tables that carry Windows x86 frame
// data (unwind.Row.Win: a PDB's FrameData and FPO records, a symbol file's
// STACK WIN records) into STACK WIN records, as Breakpad's Windows
// dump_syms writes them: the FrameData records (type 4) first, then the
// others, each group in the order the tables yield them. Rows without
// frame data are left out (StackCFI writes them); rows of entries the
// tables cannot decode are counted in malformed.
func StackWin(tables []unwind.Table) (lines []string, malformed int) {
	var rest []string
	for _, t := range tables {
		for row, err := range t.Rows() {
			if err != nil {
				malformed++
				continue
			}
			if row.Win == nil || row.End <= row.Start {
				continue
			}
			line := string(AppendStackWin(nil, row.Start, row.End-row.Start, row.Win))
			if row.Win.Type == 4 {
				lines = append(lines, line)
			} else {
				rest = append(rest, line)
			}
		}
	}
	return append(lines, rest...), malformed
}

// AppendStackWin appends the STACK WIN record of frame data covering
// [rva, rva+size), without a line end:
//
//	STACK WIN <type> <rva> <code_size> <prolog> <epilog> <params> <saved_regs> <locals> <max_stack> <has_program> <program_or_allocates_bp>
//
// with numbers in lower-case hexadecimal as dump_syms prints them;
// has_program is 1 with the program as the last field when the frame has
// one, else 0 with allocates_base_pointer (0 or 1).
func AppendStackWin(b []byte, rva, size uint64, w *unwind.WinFrame) []byte {
	b = append(b, "STACK WIN "...)
	b = strconv.AppendUint(b, uint64(w.Type), 16)
	for _, v := range [...]uint64{rva, size, uint64(w.PrologSize), uint64(w.EpilogSize), uint64(w.ParamSize),
		uint64(w.SavedRegisterSize), uint64(w.LocalSize), uint64(w.MaxStackSize)} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 16)
	}
	switch {
	case w.Program != "":
		b = append(b, " 1 "...)
		b = append(b, w.Program...)
	case w.AllocatesBasePointer:
		b = append(b, " 0 1"...)
	default:
		b = append(b, " 0 0"...)
	}
	return b
}

// WinFrame returns the frame data of a STACK WIN record, as unwind rows
// carry it; the program is copied.
func (r *WinRecord) WinFrame() unwind.WinFrame {
	w := unwind.WinFrame{
		Type: r.Type, PrologSize: r.PrologSize, EpilogSize: r.EpilogSize, ParamSize: r.ParamSize,
		SavedRegisterSize: r.SavedRegisterSize, LocalSize: r.LocalSize, MaxStackSize: r.MaxStackSize,
		AllocatesBasePointer: r.AllocatesBasePointer,
	}
	if r.HasProgramString {
		w.Program = string(r.ProgramString)
	}
	return w
}
