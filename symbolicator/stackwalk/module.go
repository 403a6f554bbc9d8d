package stackwalk

import (
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/minidump"
)

// Module is a module of the dump: a loaded image or, with Unloaded set,
// one the process had unloaded.
type Module struct {
	// Index is the module's position in the dump's module list (or in the
	// unloaded module list).
	Index int
	// Base and Size delimit the image in the process's address space, as
	// the dump records them; Breakpad's lookup range may be shorter where
	// images overlap (see End).
	Base, Size uint64
	// CodeFile is the path of the image; DebugFile the name of its debug
	// file (the PDB of a Windows image, the image itself for ELF).
	CodeFile, DebugFile string
	// DebugID is the debug identifier in Breakpad's form (33+ uppercase
	// hex digits); CodeID the code identifier in Sentry's form.
	DebugID, CodeID string
	// BreakpadCodeID is the code identifier as Breakpad reports it.
	BreakpadCodeID string
	// Version is the image's file version ("5.1.2600.2180"), or "".
	Version string
	// Unloaded marks a module of the unloaded module list.
	Unloaded bool

	// end is the end of the module's lookup range: Base+Size, or less
	// where Breakpad shortens an image overlapping the next one.
	end uint64
}

// End is the first address past the image.
func (m *Module) End() uint64 { return m.Base + m.Size }

// Symbolized is what a module's debug information says about one address:
// the function and source line of the outermost (physical) frame and the
// frames inlined into it. Addresses are relative to the module's base.
type Symbolized struct {
	// Function is the function's name as the debug information spells
	// it; FunctionBase where it starts.
	Function     string
	FunctionBase uint64
	// File and Line are the physical frame's source position: with
	// inlined frames, the call site of the outermost inlined call.
	File string
	Line uint32
	// LineBase is the start of the line record holding the address, when
	// HasLineBase; Breakpad prints offsets from it.
	LineBase    uint64
	HasLineBase bool
	// Inlines are the inlined frames, innermost first.
	Inlines []InlineFrame
}

// InlineFrame is a frame inlined at an address.
type InlineFrame struct {
	Function string
	// FunctionBase is the start of the inlined range holding the address.
	FunctionBase uint64
	File         string
	Line         uint32
}

// Symbols answers symbol lookups for one module.
type Symbols interface {
	// Symbolize describes addr (relative to the module's base) into s,
	// whose Inlines storage it may reuse; without inlines it leaves
	// Inlines empty (stack scanning asks only whether a function covers
	// an address). It reports whether a function or public symbol covers
	// addr.
	Symbolize(addr uint64, inlines bool, s *Symbolized) bool
}

// Unwinder answers unwind lookups for one module.
type Unwinder interface {
	// CFI fills row with the unwind rules at addr (relative to the
	// module's base; row.Regs' storage is reused) and reports whether
	// there are any.
	CFI(addr uint64, row *unwind.Row) bool
	// Win returns the Windows x86 frame data (STACK WIN FrameData, else
	// FPO) covering addr.
	Win(addr uint64) (unwind.WinFrame, bool)
	// ParamSize returns the stack parameter size of the function covering
	// addr, as x86 symbol files record it for functions without frame
	// data.
	ParamSize(addr uint64) (uint32, bool)
}

// Status is what became of a module's debug information, in Sentry's
// terms (debug_status, unwind_status).
type Status uint8

// Statuses.
const (
	// StatusUnused: the walk never needed the module.
	StatusUnused Status = iota
	// StatusFound: debug information was found and used.
	StatusFound
	// StatusMissing: no debug information was found.
	StatusMissing
	// StatusMalformed: a file was found but could not be read.
	StatusMalformed
)

var statusNames = [...]string{"unused", "found", "missing", "malformed"}

// String is Sentry's spelling of the status.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "other"
}

// Debug is what a Modules implementation found for one module. Either part
// may be nil.
type Debug struct {
	Symbols  Symbols
	Unwinder Unwinder
	// SymbolStatus and UnwindStatus report the outcome; implementations
	// set them, and the walker derives Found and
	// Missing from nil-ness when they are left at StatusUnused.
	SymbolStatus, UnwindStatus Status
	// Corrupt is set when the debug information had malformed parts that
	// were skipped (Breakpad's "corrupt symbols" warning).
	Corrupt bool
	// Source says where the information came from (a path), for reports.
	Source string
}

// Modules finds the debug information of a dump's modules: for each one
// a symbolizer and an unwind source. The walker asks at most once per
// module, when a frame first needs it, so that modules no frame touches
// cost nothing. Implementations must be safe for use by one walk at a
// time and release what they opened themselves (SymbolPaths.Close).
type Modules interface {
	Find(ctx context.Context, m *Module) Debug
}

// moduleSet finds the module holding an address: the loaded modules first,
// then the unloaded ones, as Breakpad's frame symbolizer looks them up.
type moduleSet struct {
	loaded   []*Module // by lookup range start
	unloaded []*Module
	all      []*Module // loaded in dump order
}

// newModuleSet builds the lookup tables. On Linux and Android, Breakpad
// truncates the lower of two overlapping images at the start of the
// higher; elsewhere an image overlapping one listed before it is left out
// of lookups (Breakpad refuses the whole module list there; keeping the
// rest is kinder). An image listed twice with the same range, name and
// identifier is looked up once.
func newModuleSet(mods []minidump.Module, unloaded []minidump.UnloadedModule, platform minidump.PlatformID) *moduleSet {
	s := &moduleSet{}
	truncate := platform == minidump.PlatformLinux || platform == minidump.PlatformAndroid
	for i := range mods {
		mm := &mods[i]
		m := &Module{
			Index: i, Base: mm.BaseOfImage, Size: uint64(mm.SizeOfImage),
			CodeFile: mm.Name, DebugFile: mm.DebugFile(), DebugID: mm.BreakpadDebugID(),
			CodeID: mm.CodeID(platform), BreakpadCodeID: mm.BreakpadCodeID(platform),
			Version: mm.VersionInfo.Version(),
		}
		m.end = m.Base + m.Size
		s.all = append(s.all, m)
		if m.Size == 0 || m.end < m.Base || m.Base == ^uint64(0) {
			continue
		}
		s.insert(m, truncate)
	}
	for i := range unloaded {
		u := &unloaded[i]
		m := &Module{Index: i, Base: u.BaseOfImage, Size: uint64(u.SizeOfImage), CodeFile: u.Name, Unloaded: true}
		m.end = m.Base + m.Size
		if m.Size == 0 || m.end < m.Base {
			continue
		}
		s.unloaded = append(s.unloaded, m)
	}
	slices.SortStableFunc(s.unloaded, func(a, b *Module) int { return cmp.Compare(a.Base, b.Base) })
	return s
}

// insert adds a module to the loaded lookup table.
func (s *moduleSet) insert(m *Module, truncate bool) {
	i := sort.Search(len(s.loaded), func(i int) bool { return s.loaded[i].end > m.Base })
	if i < len(s.loaded) && s.loaded[i].Base < m.end {
		o := s.loaded[i]
		if o.Base == m.Base && o.Size == m.Size && o.CodeFile == m.CodeFile && o.CodeID == m.CodeID {
			return // a duplicate entry
		}
		if !truncate {
			return
		}
		// Breakpad's kTruncateLower: the lower range ends where the
		// higher one starts.
		switch {
		case o.Base < m.Base:
			o.end = m.Base
			i++
		case m.Base < o.Base:
			m.end = o.Base
		default:
			return
		}
		if i < len(s.loaded) && s.loaded[i].Base < m.end {
			return
		}
	}
	s.loaded = slices.Insert(s.loaded, i, m)
}

// find returns the loaded module holding addr.
func (s *moduleSet) find(addr uint64) *Module {
	i := sort.Search(len(s.loaded), func(i int) bool { return s.loaded[i].end > addr })
	if i < len(s.loaded) && s.loaded[i].Base <= addr {
		return s.loaded[i]
	}
	return nil
}

// findAny returns the loaded module holding addr, else the unloaded one.
func (s *moduleSet) findAny(addr uint64) *Module {
	if m := s.find(addr); m != nil {
		return m
	}
	for _, m := range s.unloaded {
		if m.Base <= addr && addr < m.end {
			return m
		}
	}
	return nil
}
