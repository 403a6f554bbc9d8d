// Package symcache writes and reads the symcache: Cairn's compact,
// versioned, memory-mappable map from a code address to the inline chain
// at that address (function, symbol address, file and line of every frame).
// Every frame of every crash is symbolicated through it, so it is built
// once per debug file and looked up without parsing and without
// allocating. SPEC.md beside this file documents every byte.
//
// # Building
//
// Write converts any debugfiles.Object: DWARF from ELF, Mach-O and mingw PE
// files, PDB, Breakpad .sym files with INLINE records, and objects with a
// symbol table only (functions without lines). One goroutine reads the
// object's debug session while a Builder flattens each function tree it is
// handed into address ranges and keeps only those (a tree can be freed once
// flattened); the Builder then resolves overlaps between functions and
// writes the file.
//
// The contract: a symcache answers exactly what debugfiles.NewIndex over
// the same functions answers (Index.AppendLookup), for every address —
// the same overlap rules between functions and between inlinees, the same
// line-row fallback to outer frames, lines of size 0 reaching to the next
// row, inline chains cut at 256 frames. The tests check it at 100,000
// random code addresses and every boundary of every fixture.
//
// # Reading
//
// Open maps a file; New reads a byte slice; FromReaderAt copies from an
// io.ReaderAt. Opening checks the fixed header and the bounds of every
// section and nothing else, so its cost does not grow with the file:
// the header's CRC-32C over the whole file is checked by Verify, which
// callers run once on files that come from elsewhere (the CLI does).
// Lookups are bounds-checked on every read, so a file damaged past its
// header can give wrong answers but never a panic or a loop, nor an
// allocation that a sound file would not cause.
//
// Lookup takes an address relative to the object's load address (as
// debugfiles reports addresses; a crash address minus the module base)
// and appends the frames innermost first. Callers pass return addresses
// already adjusted (PROTOCOL.md, "Caller frames"). Frame strings are
// views of the mapped bytes (unsafe.String): they stay valid until Close,
// and callers that keep them longer copy them. Names are raw; demangling is
// the caller's choice (package demangle), and Frame.FunctionIndex lets a
// caller cache the demangled name per function.
//
// # Lookup cost
//
// One lookup is a binary search over the regions (usually one), a page index
// computed from the address, the decoding of the few entries of that page
// (about 8 on average; the writer sizes pages for it), then one node record
// per frame (and the entry of the node directory that says where its block
// of 16 records starts and how wide its columns are), and from the
// outermost frame inwards the top-level record and one site record per
// inlined frame. Entries are Huffman-coded against a
// small model of the page (recall.go) and read through 256-entry decode
// tables, and the tables are bit-packed: a cache is about 29% smaller than
// version 1's byte-aligned tables and byte-coded entries made it, and its
// pages, half as large, keep a lookup as fast (no allocation; see
// BENCHMARKS.md, "SymCache"). Version 3 numbers an inlined node's call site
// among those of its caller, which takes the node records from 35 to 21
// bits on large inputs, and bit-packs the page directory: the whole cache
// is about 10% below version 2's. Version 5 splits each page into two
// streams, tags and node differences from its start, files and lines from
// its end, so that a lookup follows two short chains of codes side by side
// instead of one long one: about 9% faster, at the same size. Version 6
// sizes the node columns per block of 16 records rather than per file:
// 10% smaller on a real library whose largest functions inline hundreds of
// calls (CPython's libpython), for lookups about 4–7% slower. Version 7
// codes a page's first entry against the entry that starts its group of
// pages, which the page directory holds, and codes three things in the
// pages better: the node entered next for the first time, a line without a
// base, and the file a page starts in. On libpython the cache is 3% smaller
// at the same lookup cost (on the bench fixture 0.5%, for lookups 2–9%
// slower). Version 8 keeps a site's call file, and the high bits of its
// call line, with the function it is inlined into, whose row a lookup
// reads for the frame's name anyway, and shares the bytes of a name that
// another begins with, and gives the top-level table's addresses a base
// per block of rows: about 3.5% smaller on libpython and the bench
// fixture, 5% on a large PDB, at the same lookup cost. Version 9 writes
// code without a function (padding between functions, which has line
// rows) as ranges of no node with a file and a line rather than as a node
// of its own, writes the last range of a page that goes on into the next
// as its start alone (the next page starts with it), and sizes the
// language column by the languages present: 6.4% smaller on libpython.
//
// # Versions
//
// Version is stored in the header. A reader refuses any other version
// with ErrVersion; symcaches are derived data, and a version bump makes
// every cache key change (the CLI's cache file names carry it), so old
// caches are rebuilt, never read.
package symcache
