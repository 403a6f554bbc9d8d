// Package macho reads Mach-O objects, fat (universal) archives and dSYM
// bundles for the debugfiles Object view: identity (kind, architecture,
// LC_UUID as debug id and code id), the nlist symbol table, DWARF debug
// information and the raw bytes of the unwind sections.
//
// The formats are specified by Apple's <mach-o/loader.h>, <mach-o/fat.h> and
// <mach-o/nlist.h> headers; dSYM bundles are directories whose
// Contents/Resources/DWARF folder holds one Mach-O file (thin or fat) of type
// MH_DSYM per image. Identifiers and feature detection follow Sentry's
// symbolic-debuginfo, so the values agree with `sentry-cli debug-files check`.
//
// The Mach-O header, segment and section load commands and LC_UUID are
// decoded by github.com/blacktop/go-macho. The package keeps these parts to
// itself:
//
//   - The fat header. go-macho's NewFatFile does not bound the slices by the
//     file size, does not read FAT_MAGIC_64 headers and parses every slice
//     without a FileConfig. Slices here must lie inside the file and start
//     with a Mach-O magic number, which also rejects Java class files (they
//     share the 0xcafebabe magic).
//   - LC_SYMTAB. go-macho reads the whole table eagerly and strips one
//     leading underscore from names that contain a dot when it believes the
//     file is a Go binary; the table is read here lazily and every name is
//     treated alike.
//   - Section contents. go-macho reads sections through virtual-address
//     translation; they are read here by file offset, bounded by the slice.
//
// go-macho is only asked for LC_SEGMENT, LC_SEGMENT_64 and LC_UUID
// (FileConfig.LoadIncluding): that keeps its work small on large files and
// stops it from logging unknown load commands through the standard logger.
// Before it runs, the load commands are walked here and rejected when they,
// or the relocation entries of any section, do not fit the image: go-macho
// reads and keeps every section's relocations, so overlapping forged counts
// would make it allocate many times the size of the input. Fuzzing (FuzzOpen)
// found no panic in go-macho behind these checks.
//
// Quirks handled:
//
//   - Section names are truncated to 16 bytes: __debug_str_offsets is stored
//     as __debug_str_offs.
//   - dsymutil keeps the section headers of __TEXT and __DATA in a dSYM but
//     sets their file offset to 0; such sections count as absent, as in
//     Sentry. It does copy __TEXT,__eh_frame (x86_64), which then counts as
//     unwind information.
//   - The 32-bit section offset field overflows in files larger than 4 GiB;
//     the offset is recomputed from the 64-bit segment file offset when the
//     truncated field agrees with it.
//   - Compressed __zdebug_* sections ("ZLIB" + 8-byte big-endian size + zlib
//     stream, written by old toolchains) are inflated, bounded by the
//     declared size. Relocations in MH_OBJECT DWARF sections are not applied
//     (neither does Sentry); on Mach-O they are mostly section-relative and
//     already resolved in the data.
//
// Symbol names lose the leading underscore the Mach-O C ABI adds (except
// Swift's "__hidden#" placeholders), as in Sentry, so that "_main" reads
// "main" and "__Z3foov" reads "_Z3foov", ready for demangling.
package macho
