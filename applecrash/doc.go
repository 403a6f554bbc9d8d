// Package applecrash reads the crash reports Apple platforms write, so that
// their frames can be symbolicated against dSYMs.
//
// Two formats exist, both described in Apple's "Diagnosing issues using crash
// reports and device logs" documentation ("Examining the fields in a crash
// report", "Interpreting the JSON format of a crash report"):
//
//   - The legacy text report (.crash), written by macOS up to 11 and iOS up to
//     14 and still produced by Xcode and Console when they render a report: a
//     block of "Key: value" header lines, one block per thread
//     ("Thread 0 Crashed:" followed by numbered frame lines), the crashed
//     thread's register state and a "Binary Images:" table that maps address
//     ranges to image names, architectures and UUIDs.
//   - The JSON report (.ips) of macOS 12+ and iOS 15+: a one-line JSON header
//     object (bug_type 309 for a crash) followed by a JSON body with the
//     threads, their frames as (imageIndex, imageOffset) pairs, and the
//     usedImages table. Older .ips files (bug_type 109) carry the same header
//     line followed by a legacy text report; both are read.
//
// Parse sniffs the format; Report is the same whichever format came in, with
// absolute frame addresses and image ranges ready for lookup.
//
// Quirks handled here:
//   - image UUIDs are written with dashes (macOS, ips) or as 32 bare hex
//     digits (iOS); both become the lowercase 8-4-4-4-12 debug id form, and
//     the all-zero UUID of unknown images becomes "";
//   - image names in macOS text reports are bundle identifiers with a
//     "(version)" where iOS reports write the file name and the architecture;
//     a leading "+" marks the app's own binaries;
//   - module and symbol names may contain spaces, so frame lines are split on
//     their address column rather than on whitespace;
//   - a text report cut short still yields what was read before the cut; a
//     JSON report cut short is an error, since its body cannot be decoded.
//
// Nothing here trusts a count or index from the input: every slice grows with
// the lines or JSON values actually read, and an index that points outside
// the image table leaves the frame without a module instead of failing.
package applecrash
