package dwarf

import "strings"

// Sections holds the raw contents of an object's DWARF sections, already
// decompressed and relocated. The same type describes a main object, a .dwo
// file (whose sections carry a ".dwo" suffix on disk), one unit's
// contributions inside a .dwp package, and a whole package.
//
// The session keeps references to the slices; callers must not modify them
// while it is in use. A file holding both kinds of sections (split DWARF in
// "single" mode) is described by two Sections: the .dwo-suffixed ones
// resolve the skeletons of the others.
type Sections struct {
	Info       []byte // .debug_info
	Abbrev     []byte // .debug_abbrev
	Str        []byte // .debug_str
	StrOffsets []byte // .debug_str_offsets
	LineStr    []byte // .debug_line_str
	Line       []byte // .debug_line
	Addr       []byte // .debug_addr
	Ranges     []byte // .debug_ranges (DWARF 2–4)
	RngLists   []byte // .debug_rnglists (DWARF 5)
	// CUIndex is .debug_cu_index, present only in .dwp packages.
	CUIndex []byte

	// Release, when set, is called with parts of the sections above that
	// a streaming session has finished reading: a line program once its
	// rows are read, .debug_info and the sections its DIEs point into once
	// every DIE is (for TransientSubprograms, a run of units' part of
	// .debug_info and of the range lists once its functions are yielded).
	// A caller whose sections map a file read-only sets it
	// to drop those pages from memory (they are read back from the file
	// should they be touched again); it must ignore bytes that are not
	// such a mapping, such as decompressed sections. It may be called
	// from several goroutines at once.
	Release func([]byte)

	// pkg is the package a unit's sections were cut from.
	pkg *Package
}

// Add stores data as the section called name and reports whether the name
// is one Sections keeps. It accepts the spellings object formats use:
// ".debug_info", ".zdebug_info" (ELF, data already decompressed),
// ".debug_info.dwo" (split DWARF) and "__debug_info" (Mach-O).
func (s *Sections) Add(name string, data []byte) bool {
	n := strings.TrimSuffix(name, ".dwo")
	switch {
	case strings.HasPrefix(n, ".debug_"):
		n = n[len(".debug_"):]
	case strings.HasPrefix(n, ".zdebug_"):
		n = n[len(".zdebug_"):]
	case strings.HasPrefix(n, "__debug_"):
		n = n[len("__debug_"):]
	default:
		return false
	}
	var p *[]byte
	switch n {
	case "info":
		p = &s.Info
	case "abbrev":
		p = &s.Abbrev
	case "str":
		p = &s.Str
	case "str_offsets", "str_offs": // Mach-O truncates names to 16 bytes
		p = &s.StrOffsets
	case "line_str":
		p = &s.LineStr
	case "line":
		p = &s.Line
	case "addr":
		p = &s.Addr
	case "ranges":
		p = &s.Ranges
	case "rnglists":
		p = &s.RngLists
	case "cu_index":
		p = &s.CUIndex
	default:
		return false
	}
	*p = data
	return true
}

// size is the total size of the sections, the measure for work budgets.
func (s *Sections) size() int {
	return len(s.Info) + len(s.Abbrev) + len(s.Str) + len(s.StrOffsets) + len(s.LineStr) +
		len(s.Line) + len(s.Addr) + len(s.Ranges) + len(s.RngLists) + len(s.CUIndex)
}
