// Package macho reads Mach-O objects, fat archives and dSYM bundles, including
// compact unwind information, for the debugfiles Object view.
package macho
