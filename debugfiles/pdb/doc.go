// Package pdb reads Microsoft PDB files (MSF 7.0) for the debugfiles Object
// view: the identity of the PDB, its public symbols, and functions with
// their address ranges, line tables and inline chains.
//
// Specifications: LLVM's "The PDB File Format" (the MSF container, the PDB
// info, DBI, TPI/IPI, module and publics streams, the /names string table)
// and Microsoft's cvinfo.h from microsoft-pdb (CodeView symbol and type
// records, C13 line subsections, the binary annotations of S_INLINESITE).
//
// # Reading
//
// An Object reads the MSF superblock and stream directory, the PDB info
// stream, the DBI stream and the section headers when it is opened; the
// publics, the module streams, the string table and the type records are
// read when asked for, and only the blocks they occupy. Every count and
// size read from the file is checked against what the file or stream can
// hold before anything is allocated for it: no stream is larger than the
// file, a directory cannot list more blocks than it has bytes for, and the
// inline functions one procedure yields are bounded by its line rows and
// annotations. Malformed data gives a *FormatError (wrapped with "pdb:"
// and what was being read), never a panic. An Object from Open memory-maps
// the file and releases the pages of each module stream once it has been
// decoded, so indexing a PDB does not keep the file resident.
//
// # Identity
//
// The debug id is the GUID of the PDB info stream with the age of the DBI
// stream, as Sentry's symbolic computes it: the image's CodeView record
// carries the DBI age, while tools that rewrite a PDB bump the info
// stream's. The architecture comes from the DBI machine type. A PDB has no
// code id, and every address it reports is an image RVA (LoadAddress 0).
// Features: a symbol table with a publics stream, debug information when a
// module has symbols or C13 lines, unwind information when the old or new
// FPO stream (x86 frame data) was copied in. Symbols are the S_PUB32
// records in executable sections, sorted by address.
//
// # Addresses
//
// Symbols and lines locate code as segment:offset; segment n is section
// header n-1 of the image. A PDB of an image rewritten after linking (OMAP)
// carries the original section headers and a table from original to final
// addresses: functions, lines and inlinees are built in original addresses
// and moved, split where the optimizer split their code and dropped where
// it removed it.
//
// # Functions
//
// Every S_GPROC32/S_LPROC32 (and the _ID and _DPC forms) of every module
// becomes one function, with the module's DEBUG_S_LINES rows inside its
// range, file names through DEBUG_S_FILECHKSMS into /names (full paths as
// recorded, Windows separators kept). S_SEPCODE blocks become functions of
// the same name, S_THUNK32 records functions without lines. The rules
// follow llvm-symbolizer's PDB reader wherever it is right:
//
//   - A function is named by the public symbol at its start when there is
//     one (the decorated linkage name, as Function.Name asks for), else by
//     the procedure's own name.
//   - The first row of a line subsection covers the code before it: a
//     function starting with inlined code may have its first row after its
//     first byte.
//   - Of several rows at one address the last covers it (the first is
//     empty); llvm-symbolizer answers with the first for exactly that
//     address, Sentry and llvm-symbolizer's DWARF reader with the last.
//   - Inline sites become inlinee functions, one per contiguous range of
//     their binary annotation rows inside the parent, split where the
//     parent's line changes: the parent's line there is the line the
//     inlined call was made from (CallFile/CallLine). The rows start at the
//     inlinee's line of DEBUG_S_INLINEELINES (both signatures). Names come
//     from the IPI stream: an LF_FUNC_ID qualified by its scope's
//     LF_STRING_ID, an LF_MFUNC_ID by its class's name from the TPI stream.
//     The rows follow the annotations exactly; llvm-symbolizer 14 reports
//     the row after the one containing an address (see the oracle tests).
//   - Public symbols fill the gaps: each public in an executable section
//     extends to the next public or the end of its section, and the parts
//     of that extent outside every procedure (code without debug
//     information, padding between functions) become functions without
//     lines named by it.
package pdb
