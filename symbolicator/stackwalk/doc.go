// Package stackwalk unwinds thread stacks from a minidump, one unwinder per
// architecture, using CFI first and frame pointers and stack scanning after.
package stackwalk
