// Package dwarf builds sorted function, line and inline indexes over DWARF 2-5
// and parses call frame information (.eh_frame, .debug_frame).
package dwarf
