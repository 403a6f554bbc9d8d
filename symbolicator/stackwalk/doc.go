// Package stackwalk unwinds the thread stacks of a minidump and
// symbolicates their frames, one unwinder per architecture (amd64, x86,
// arm64, arm), with Breakpad's minidump_stackwalk as the reference for
// every rule it applies.
//
// # Walking
//
// Process reads the dump, finds the crashed thread (the exception's, or
// the one that requested the dump) and walks every thread except the one
// that wrote the dump. Each walk starts from the thread's CPU context (the
// exception's context for the crashed thread) and finds each caller with
// the first strategy that works, per architecture:
//
//   - amd64 (amd64.go): CFI; for the context frame on Windows a simulated
//     return from a leaf function; off Windows the rbp chain; scanning.
//   - x86 (x86.go): Windows frame data (STACK WIN FrameData programs and
//     FPO records, with the repairs Breakpad makes to MSVC's data: the
//     .raSearchStart scan, the FPO system-call skip, the saved-ebp
//     search); CFI; the ebp chain, scanning when ebp points nowhere.
//   - arm64 (arm64.go): CFI; the x29 frame record chain (recovering lr
//     from the callee's record where CFI did not); scanning. Pointer
//     authentication codes are stripped from every return address.
//   - arm (arm.go): CFI (not on iOS); the r7 frame chain on iOS only;
//     scanning.
//
// CFI is whatever the module has, seen as unwind.Row values: Breakpad
// STACK CFI (evaluated as postfix expressions, exactly as Breakpad
// evaluates them), DWARF CFI, Mach-O compact unwind and PE x64 unwind
// codes (through package cficache). Registers without a rule keep their
// value when they are callee-saved and are unknown otherwise.
//
// Scanning looks at up to 40 words above the stack pointer (160 for the
// context frame's caller) for a value that, less one, lies in a loaded
// module and — when the module has symbols — inside a function. A walk
// stops at an instruction pointer below 4 KiB, a stack pointer that does
// not grow (it may stay equal on the first unwind), Options.MaxFrames
// frames, or Options.MaxScanned frames found by scanning; memory is read
// only from the thread's captured stack, so even a hostile dump ends
// within stack size / word size frames.
//
// Each frame records how it was found (Trust: context, cfi, fp, scan,
// cfi_scan, leaf, inline). Callers are symbolicated at their return
// address moved back into the call (minus 1 on x86 and amd64, 4 on
// arm64, 2 on arm), so that lines and inlined frames are those of the
// call; offsets printed Breakpad's way count from the return address on
// x86 and amd64 and from that adjusted address on arm and arm64
// (Frame.BreakpadOffset).
//
// # Debug information
//
// A Modules implementation finds, per module and only when a frame first
// needs it, a Symbols (function, source line, inlined frames) and an
// Unwinder (CFI, Windows frame data, x86 parameter sizes). SymbolPaths
// implements it over Breakpad symbol stores, cache directories and
// directories of debug files indexed by debug id and code id. Three
// sources answer:
//
//   - SymbolFile reads a Breakpad .sym file directly and lazily: one pass
//     indexes FUNC and PUBLIC records and the STACK records
//     (cficache.SymbolStack); a function's line and INLINE records are
//     parsed when an address inside it is first symbolized. It applies
//     Breakpad's resolver rules (first FUNC wins, PUBLIC records cover up
//     to the next FUNC, INLINE nesting), so frames match
//     minidump_stackwalk's.
//   - SymcacheSymbols and CacheUnwinder answer from a symcache and a
//     cficache, mapped: the fast path once caches exist. A frame's offset
//     counts from the start of its line record there too (the run of
//     equal answers the address lies in, symcache.Cache.RunStart).
//   - Debug files of any format are converted into a symcache and a
//     cficache in memory (or into the cache directory).
//
// # Conformance
//
// On every peer dump of ../shared/fixtures/peers, every frame (module,
// function, source file, line, offset, trust) equals Breakpad's
// minidump_stackwalk's (peers_test.go), and function, file, line and
// trust equal rust-minidump's snapshots (rustminidump_test.go); where
// Cairn's defaults differ, the tests say which answer is right and why.
package stackwalk
