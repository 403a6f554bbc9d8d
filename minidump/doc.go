// Package minidump reads minidump files as written by Windows (MiniDumpWriteDump),
// Breakpad (Linux, macOS), Crashpad and sentry-native.
//
// The format is Microsoft's MINIDUMP_* structures (minidumpapiset.h) plus the
// extensions Breakpad defines in minidump_format.h (Linux /proc streams,
// Breakpad and assertion info, CPU contexts for non-Windows architectures) and
// Crashpad's own streams (client ids, annotations).
//
// A File is built from an io.ReaderAt and reads only the directory when it is
// opened; every stream is decoded on request. No length or count taken from
// the input allocates more than the bytes the input actually holds, so hostile
// dumps fail with a *FormatError instead of exhausting memory. Memory regions
// are never copied: Memory indexes the descriptors of both memory lists and
// slices the mapped file on each read.
//
// Quirks handled here, as Breakpad and rust-minidump handle them:
//   - list streams may carry 4 (thread, module, memory lists) bytes of padding
//     after their count so entries are 8-byte aligned;
//   - Breakpad wrote ARM64 contexts in an older layout (flag 0x80000000) before
//     adopting Microsoft's (flag 0x00400000); both are read;
//   - a stream type may appear more than once; the first wins and the rest are
//     reported as warnings.
package minidump
