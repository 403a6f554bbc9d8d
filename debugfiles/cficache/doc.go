// Package cficache writes and reads the cficache: Cairn's compact,
// versioned, memory-mappable form of a debug file's unwind rules, built
// once per debug file and looked up by address without allocating.
// SPEC.md beside this file documents every byte.
//
// # Building
//
// Build (or Write) converts any object Cairn reads:
//
//   - ELF and Mach-O objects through their unwind tables (DWARF CFI from
//     .eh_frame and .debug_frame, Mach-O compact unwind), in the order the
//     object prefers them: where two tables cover an address, the first
//     wins;
//   - PE images through their exception tables (.pdata/.xdata, x64 and
//     ARM64; pe.Table), PDBs through their x86 frame data (FPO and
//     FrameData streams), and a binary paired with its debug file through
//     both files' tables;
//   - Breakpad symbol files through their STACK CFI and STACK WIN records
//     and, for x86, FUNC parameter sizes, with the rules of Breakpad's
//     processor (SymbolStack documents them).
//
// Rows are normalized on the way in: DWARF expressions become Breakpad
// postfix expressions where they can (the subset dump_syms translates);
// a register rule that cannot is dropped and a row whose CFA cannot is
// left out, so that a stack walker falls back to other methods there, as
// Breakpad's would. Identical rule sets are stored once.
//
// # Reading
//
// Open maps a file; New reads a byte slice. Opening checks the header and
// the bounds of every section (constant time); Verify checks the CRC-32C
// over the whole file, once, for files from elsewhere. Lookup decodes the
// rule set of the address's row into a caller-provided unwind.Row,
// reusing its Regs storage: no allocation with a row of enough capacity.
// LookupWin and ParamSize answer Windows x86 frame data. A damaged file
// gives errors at open or wrong answers, never a panic or a loop.
//
// SymbolStack answers the same lookups straight from a symbol file's
// STACK records without building a cache, for a walk that reads a .sym
// file once.
//
// # Versions
//
// Version is stored in the header. A reader refuses any other version
// with ErrVersion; caches are derived data, rebuilt rather than upgraded.
package cficache
