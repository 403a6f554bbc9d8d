// Package elf reads ELF objects and their debug sections (compressed sections,
// .gnu_debuglink, .gnu_debugdata) for the debugfiles Object view.
//
// Specifications: the System V gABI (ELF header, program and section headers,
// notes, SHF_COMPRESSED with ELFCOMPRESS_ZLIB and ELFCOMPRESS_ZSTD), the GNU
// conventions for separate debug files (gdb manual, "Separate Debug Files":
// .gnu_debuglink, the .build-id directory layout, debug-file-directory), the
// MiniDebugInfo convention (gdb manual, "MiniDebugInfo": an xz-compressed ELF
// file in .gnu_debugdata holding a .symtab) and DWARF 5 §7.3.5 for split DWARF
// package (.dwp) indexes.
//
// Parsing is built on the standard library's debug/elf. Everything an Object
// reports beyond what debug/elf decodes is read with lengths checked against
// the file, and decompression is bounded (see maxSectionSize and
// maxDebugDataSize).
//
// # Identity
//
// The identifiers follow Sentry's symbolic crate and Breakpad exactly:
//
//   - The build id is the descriptor of the first note of type
//     NT_GNU_BUILD_ID (3) in a PT_NOTE segment, else in the
//     .note.gnu.build-id section. Like both references, the note's owner name
//     is not checked.
//   - The debug id is the first 16 bytes of the build id (zero-padded). For a
//     little-endian file they are read as a little-endian GUID (fields 1–3
//     byte-swapped, debugid.FromBuildID); for a big-endian file Sentry keeps
//     them in file order, and so do we. Age is 0.
//   - Without a build id the debug id is the XOR of the first
//     min(4096, size) bytes of .text folded into 16 bytes (byte i goes to
//     i%16), with the same endianness rule. Breakpad's HashElfTextSection XORs
//     whole 16-byte blocks and so also folds in up to 15 bytes that follow a
//     .text shorter than 4096 bytes whose size is not a multiple of 16;
//     Sentry (and we) stop at the section's end. A .text of type SHT_NOBITS
//     (a separate debug file) gives the nil id, as in Sentry and Breakpad.
//   - The code id is the whole build id in lowercase hex, "" without one.
//
// # Load address
//
// LoadAddress is the p_vaddr of the first PT_LOAD program header, as in
// symbolic's ElfObject::load_address and Breakpad's GetLoadingAddress; neither
// subtracts p_offset nor aligns to a page. All addresses the Object reports are
// relative to it.
//
// # Known differences from Sentry
//
// Kind: Sentry calls every ET_DYN file a library (so PIE executables are
// "library") and every ET_EXEC file without PT_INTERP a debug companion (so
// static executables are "debug companion"). We call ET_DYN files with
// PT_INTERP or DF_1_PIE executables, ET_EXEC files executables, and only a
// file whose .text is SHT_NOBITS a debug companion.
//
// Arch: Sentry reports a 64-bit MIPS file as "mips" unless its e_flags carry
// an O64 or EABI64 ABI flag, and has no name for RISC-V or s390; we use the
// ELF class ("mips64", "riscv64", "s390x").
//
// Features: Sentry counts a symbol table when .symtab or the dynamic symbol
// table has any entry; we also count an embedded .gnu_debugdata.
//
// Symbols: like Sentry we keep STT_FUNC symbols with a non-zero value at or
// above the load address in executable sections; we also keep STT_GNU_IFUNC,
// read .dynsym only when there is no .symtab, add the .gnu_debugdata symbols
// and clear the Thumb bit of 32-bit ARM function addresses.
//
// # DWARF
//
// Debug sessions hand the decompressed (and, for ET_REL files, relocated)
// sections to the dwarf package's own decoder; debug/dwarf is not used on
// untrusted input because its Reader loops forever on some corrupt units.
// Split DWARF (.dwo files and .dwp packages beside the binary) is resolved
// only for objects opened from a path; see Object.DebugSession.
package elf
