// Package pe reads PE images (PE32 and PE32+ executables and DLLs) for the
// debugfiles Object view: identity (kind, architecture, the CodeView record
// naming the PDB, debug id and code id), exports and COFF symbols, the DWARF
// that MinGW toolchains leave in images, and the x64 and ARM64 unwind
// tables a stack walker needs.
//
// The format is Microsoft's "PE Format" specification
// (learn.microsoft.com/windows/win32/debug/pe-format); unwind data follows
// "x64 exception handling" and "ARM64 exception handling" in the MSVC
// documentation. The COFF and optional headers and the section table are
// decoded by the standard library's debug/pe, which also resolves long
// section names ("/4" → ".debug_info") through the COFF string table. Every
// other structure is read here, through an io.ReaderAt (a memory mapping
// for Open), with every offset and count checked against the file before
// anything is allocated for it: the debug directory and its CodeView
// records, the export directory, the exception table (.pdata) and the
// unwind records it points at (.xdata).
//
// Addresses are RVAs, relative to LoadAddress (the image base), like the
// addresses of every other debugfiles Object.
//
// Identifiers follow Sentry (symbolic-debuginfo), so the values agree with
// `sentry-cli debug-files check`:
//   - debug id: the RSDS record's GUID and age; for an entry marked as a
//     Portable PDB (minor version 0x504d) the entry's time stamp replaces
//     the age. An NB10 (PDB 2.0) record, which Sentry ignores, gives its
//     signature as the first four GUID bytes and zeros, with its age.
//   - code id: "%08x%x" of the COFF TimeDateStamp and SizeOfImage.
//   - features: symtab for exports (and COFF function symbols, which Sentry
//     does not read: MinGW images keep them, and have exports of their
//     own where it matters), debug for .debug_info, unwind for a non-empty
//     exception directory (x64 and ARM64 .pdata).
//   - packer stubs (an empty .pdata beside a ".stub*" section) have kind
//     none and no unwind information, as in Sentry.
//
// Unwind data is exposed undigested enough for a stack walker to apply it
// exactly: UnwindTable is the sorted exception table with Lookup;
// X64UnwindInfo decodes UNWIND_INFO (every UWOP code, chained info, handler
// and handler data) and X64UnwindChain follows chains; ARM64UnwindInfo
// decodes packed entries (Flag 1 and 2) into the canonical prolog they
// stand for and unpacked .xdata records (header, extended header, epilog
// scopes, unwind codes, handler) into lists of operations. For consumers
// of unwind rules, Object is an unwind.Source: Table turns the exception
// table of x64 (X64Rows) and ARM64 (ARM64Rows) images into rows.
//
// Quirks handled:
//   - The raw data of a section is padded to the file alignment; section
//     contents are cut at the virtual size, as the loader maps them.
//   - Version 2 x64 unwind info (MSVC) reuses code 6 for UWOP_EPILOG and
//     leaves 7 spare; both keep the slot counts of version 1's SAVE_XMM
//     and SAVE_XMM_FAR, as Windows and LLVM read them.
//   - lld-link writes an export address table starting at ordinal 0 with
//     an empty slot; empty slots (RVA 0) are not exports.
//   - Forwarded exports point into the export directory at a "DLL.Name"
//     string; they have no code in the image and are not symbols.
//   - x86 images have no exception table: their unwind data (FPO and
//     frame data) is in the PDB.
package pe
