// Package breakpad reads and writes Breakpad text symbol files (.sym), the
// format of Breakpad's dump_syms and symupload, Mozilla's dump_syms and
// Sentry's symbol servers.
//
// The specification is Breakpad's docs/symbol_files.md
// (https://chromium.googlesource.com/breakpad/breakpad/+/master/docs/symbol_files.md);
// where it is silent, this package follows what Breakpad's processor
// (BasicSourceLineResolver and SymbolParseHelper) accepts, because that is
// what minidump_stackwalk, our reference for symbolicated frames, reads.
//
// Three layers:
//
//   - Reader streams records from an io.Reader or, without copying, from a
//     byte slice (a mapped file). Records are typed (MODULE, INFO, FILE,
//     INLINE_ORIGIN, FUNC, line, INLINE, PUBLIC, STACK CFI INIT, STACK
//     CFI, STACK WIN) and refer to the input's bytes, so reading allocates
//     nothing per line.
//   - Object (Open, NewObject) is the debugfiles.Object view: identity from
//     MODULE and INFO CODE_ID, Symbols from FUNC and PUBLIC, and a
//     DebugSession whose functions carry lines and inlinees arranged as
//     Breakpad's resolver arranges them (see Session).
//   - Module and Writer write symbol files in dump_syms' exact text;
//     ReadModule reads a file into a Module for a faithful rewrite and
//     FromObject converts any debugfiles.Object the way dump_syms would.
//
// Known quirks of the format and how they are handled:
//
//   - Malformed lines are skipped and counted, never fatal (unless
//     Reader.Strict): Breakpad logs and skips them too. Line records and
//     INLINE records are malformed unless a FUNC precedes them; a PUBLIC
//     ends the current FUNC.
//   - Names (FUNC, PUBLIC, FILE, INLINE_ORIGIN, MODULE) are the rest of the
//     line and may contain spaces. A FUNC or PUBLIC with an empty name is
//     accepted (Breakpad refuses it).
//   - Two generations of INLINE_ORIGIN and INLINE exist: until 2022 an
//     origin named a file and an INLINE had no call-site file. Both are
//     read; Breakpad's rules tell them apart (a number after the origin
//     index; an odd or even field count), and the writer keeps each
//     record's form.
//   - PUBLIC records at address 0 and FUNCs of size 0 are ignored by
//     Breakpad's resolver; the Object view leaves them out too.
//   - Addresses are module offsets; LoadAddress is 0.
package breakpad
