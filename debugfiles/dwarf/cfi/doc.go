// Package cfi reads DWARF call frame information — the .eh_frame section
// (with its .eh_frame_hdr search table) of ELF and Mach-O images and the
// .debug_frame section of debug files — and executes it into the rows of
// package unwind.
//
// The specifications are DWARF 5 §6.4 (and DWARF 2, 3 and 4 for the older
// .debug_frame versions), the Linux Standard Base's "Exception Frames"
// chapter for .eh_frame and its pointer encodings, and the psABI
// supplements for the architecture-specific register numbers and opcodes.
//
// Quirks handled, and why:
//
//   - .eh_frame CIEs are version 1 or 3, .debug_frame CIEs version 1, 3 or
//     4; version 4 declares the address and segment selector sizes in the
//     CIE, which clang uses for .debug_frame. Version 1 stores the return
//     address column in a byte, later versions in a ULEB128.
//   - Augmentations: "z" (a length-prefixed data block, so unknown letters
//     after it can be skipped), "R" (pointer encoding of FDE addresses),
//     "P" (personality routine), "L" (LSDA encoding, and an LSDA pointer in
//     each FDE), "S" (signal frame), "B" (arm64 B-key pointer
//     authentication), "G" (memory tagging, no data) and old GCC's "eh",
//     which stores a pointer right after the string. A CIE with an unknown
//     augmentation and no "z" cannot be decoded further; its FDEs are
//     skipped, as DWARF consumers do.
//   - Opcode 0x2d is DW_CFA_GNU_window_save on SPARC and
//     DW_CFA_AARCH64_negate_ra_state on arm64, where it toggles whether the
//     return address is signed; on other architectures it is rejected.
//   - DW_CFA_GNU_args_size does not change any rule and is skipped;
//     DW_CFA_GNU_negative_offset_extended is an offset rule with the offset
//     negated.
//   - .eh_frame ends at a zero-length entry or at the end of the section;
//     .debug_frame FDEs may name discarded code by address 0; they are kept,
//     as dump_syms keeps them, and consumers prefer earlier entries where
//     ranges overlap.
//
// Hostile input: every length is checked against the remaining input
// before use, nothing is allocated in proportion to a length read from the
// input, instruction execution is bounded by the instruction bytes
// (every opcode consumes at least one), the remember-state stack is bounded,
// and malformed entries yield errors instead of panics.
package cfi
