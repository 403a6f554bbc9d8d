// Package dwarf builds Cairn's view of DWARF 2–5 debug information (dwarfstd.org,
// DWARF 5 standard; the GNU split-DWARF extension for DWARF 4 at
// gcc.gnu.org/wiki/DebugFission): functions with address ranges, line tables
// and inline chains, as debugfiles.Function trees (or, for consumers that
// need only a function's own lines, with compact line rows:
// CompactFunctions).
//
// Two entry points read the same way. NewSessionFromSections decodes raw
// sections with this package's own bounded decoder; it is the complete
// path: 32- and 64-bit DWARF 2–5, split DWARF (.dwo files and .dwp
// packages), no per-DIE allocation, errors instead of panics on corrupt
// input, work bounded by a multiple of the input size. NewSession reads a
// *dwarf.Data through the standard library, which cannot decode split units
// and is not hardened against hostile input (its documentation says so: a
// DWARF 5 line header can make it allocate without bound); it serves
// callers that only have a *dwarf.Data and trusted input.
//
// The trees: every subprogram with code yields one top-level Function per
// contiguous address range (ranges of one DIE that touch are merged), so
// hot/cold parts of one function are separate Functions with the same name.
// Every inlined subroutine likewise yields one Function per range, placed
// under the part of its caller containing its start and clipped to it.
// Lines of a top-level function are the line rows within its range, split
// at the bounds of everything inlined into it; each inlinee's Lines are the
// matching part of that array (shared, capacity-limited). The innermost
// frame of an address takes its line from these rows, each outer frame the
// call site of the frame inside it, as llvm-symbolizer composes them. Code
// inside a unit's ranges that no function covers (assembler units,
// skeletons whose .dwo is missing, padding, code whose DIE the compiler
// left out) becomes nameless functions with lines, because llvm-symbolizer
// reports the line row there too.
//
// Names: the linkage name found along the DW_AT_specification and
// DW_AT_abstract_origin chain, else the plain name qualified with the
// enclosing namespaces and classes ("geo::Shape::area"; llvm-symbolizer 14
// prints such names unqualified).
//
// Known quirks handled here:
//   - clang emits no .debug_aranges, so nothing relies on it: every
//     function's ranges come from its own DIE.
//   - ld.bfd leaves functions it discarded at address 0, lld at -1 or -2;
//     such ranges are dropped, as are ranges below Options.LoadAddress.
//   - Line rows sharing an address collapse to the last one, the row
//     llvm-symbolizer reports there; overlapping sequences keep the first.
//   - debug/dwarf's LineReader.SeekPC is wrong on some gcc binaries; line
//     tables are read whole into sorted rows instead.
//   - Split units: string offsets start after the .dwo contribution's
//     header, addresses come from the skeleton's .debug_addr base, range
//     lists use the skeleton's DW_AT_low_pc as base address (the .dwo unit
//     has none; llvm-symbolizer 14 gets this wrong) and, in the GNU DWARF 4
//     form, live in the main object's .debug_ranges after
//     DW_AT_GNU_ranges_base. Call files index the skeleton's line table.
package dwarf

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"iter"

	"github.com/cairn-dev/cairn/debugfiles"
)

// Options configures a Session.
type Options struct {
	// LoadAddress is subtracted from every address so that functions are
	// reported relative to the object's load address. Code below it is
	// dropped.
	LoadAddress uint64
	// ResolveDWO is kept for callers written against the first version of
	// this API. debug/dwarf cannot decode split units (it misses the
	// implicit string-offsets base and the skeleton's address base, and
	// rejects the GNU forms), so a *dwarf.Data is of no use: a session
	// calls it only when ResolveDWOSections is nil, treats ErrNoDWO as
	// "use the skeleton", and fails with an explanation otherwise.
	ResolveDWO func(name, compDir string, id uint64) (*dwarf.Data, error)
	// ResolveDWOSections finds the split-DWARF data of a skeleton unit:
	// name is the unit's DW_AT_dwo_name (or DW_AT_GNU_dwo_name), compDir
	// its DW_AT_comp_dir, id its DWO id. It returns the sections of a
	// .dwo file, or (*Package).Resolve's answer for a .dwp, or ErrNoDWO
	// when the data cannot be found; the skeleton's line table is used
	// then, yielding functions without names. Only NewSessionFromSections
	// resolves split units.
	ResolveDWOSections func(name, compDir string, id uint64) (*Sections, error)
}

// ErrNoDWO reports that a split-DWARF unit's data is unavailable.
var ErrNoDWO = errors.New("dwarf: split DWARF unit not found")

var errClosed = errors.New("dwarf: session is closed")

// Session reads functions from DWARF data. Functions and AllFunctions may
// run concurrently, each building its own trees; Close may not run
// concurrently with them.
type Session struct {
	data *dwarf.Data
	sec  *Sections
	be   bool
	opts Options
}

var _ debugfiles.DebugSession = (*Session)(nil)

// NewSession prepares a session over d, read through the standard library.
// Split units are not resolved: their skeletons' line tables yield
// nameless functions, and a session with a DWO resolver set fails when it
// meets one (use NewSessionFromSections). Line tables are read by
// debug/dwarf's LineReader, which sizes its tables from a line header's
// entry counts: a hostile header of a few hundred bytes makes it spend
// seconds, or ask for more memory than there is (a fatal error, not a
// panic). Untrusted input belongs to NewSessionFromSections, whose reader
// is bounded by its input.
func NewSession(d *dwarf.Data, opts Options) (*Session, error) {
	if d == nil {
		return nil, errors.New("dwarf: nil data")
	}
	return &Session{data: d, opts: opts}, nil
}

// NewSessionFromSections prepares a session over raw sections, read with
// this package's own decoder. It checks the unit headers now, so that data
// which is not DWARF fails here rather than in Functions.
func NewSessionFromSections(s *Sections, opts Options) (*Session, error) {
	if s == nil {
		return nil, errors.New("dwarf: nil sections")
	}
	be, err := sniffBigEndian(s.Info)
	if err != nil {
		return nil, fmt.Errorf("dwarf: %w", err)
	}
	if _, err := unitHeaders(s.Info, be); err != nil {
		return nil, fmt.Errorf("dwarf: %w", err)
	}
	return &Session{sec: s, be: be, opts: opts}, nil
}

// Functions yields every top-level function with its lines and inlinees,
// in the order of the debug information. It reads every unit's DIEs
// first, so that a malformed unit surfaces before the first function, then
// builds and yields the function trees a few at a time: a consumer that
// does not keep the trees never holds the whole program (line tables are
// parsed as they are needed, so an error in one comes after the functions
// before it). Where more than one core is available, runs of functions of
// different units are built on up to four goroutines ahead of the
// consumer, and yielded in order. Each call builds new trees.
func (s *Session) Functions() iter.Seq2[*debugfiles.Function, error] {
	return sessionFunctions(s, false, false,
		func(f *debugfiles.Function) *debugfiles.Function { return f },
		func(cf *CompactFunction) *debugfiles.Function { return cf.Function })
}

// sessionFunctions is the iteration Functions and the compact iterators
// share: debug/dwarf's trees through std when the session reads with it,
// else the builder's functions (compact ones, their storage reused if
// asked) through emitted.
func sessionFunctions[T any](s *Session, compact, reuse bool, std func(*debugfiles.Function) T, emitted func(*CompactFunction) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if s.data != nil {
			fns, err := s.buildStd()
			if err != nil {
				yield(zero, err)
				return
			}
			for _, f := range fns {
				if !yield(std(f), nil) {
					return
				}
			}
			return
		}
		bl, err := s.read()
		if err != nil {
			yield(zero, err)
			return
		}
		bl.reuse = reuse
		bl.tableRows = reuse && compact
		stopped := false
		err = bl.emitEach(compact, func(cf *CompactFunction) bool {
			if !yield(emitted(cf), nil) {
				stopped = true
			}
			return !stopped
		})
		if err != nil && !stopped {
			yield(zero, fmt.Errorf("dwarf: %w", err))
		}
	}
}

// LineRow is a line row in compact form: the code from Address up to
// Address+Size belongs to Line of file File, an index into the files of
// the CompactFunction it belongs to. An index past the end of those files
// stands for an unknown file (the zero FileInfo). Rows hold no pointers,
// so that the garbage collector never scans them.
type LineRow struct {
	Address uint64
	Size    uint64
	File    uint32
	Line    uint32
}

// CompactFunction is a top-level function as CompactFunctions yields it:
// the tree of Functions yields, except that its lines are Rows (or Table)
// and its inlinees have no Lines.
type CompactFunction struct {
	*debugfiles.Function
	// Rows are the function's lines, as Function.Lines would hold them.
	Rows []LineRow
	// Table, which TransientCompactFunctions gives instead of Rows, holds
	// the function's lines as the rows of its unit's line table around
	// it, shared and not copied: from the last row at or before its
	// start to the last before its end. Each answers up to the next one,
	// the last up to the function's end, and none before the first.
	// Their addresses are not made relative to the load address: Load
	// is.
	Table []TableRow
	// Load is the load address that the function's addresses are
	// relative to, and Table's are not.
	Load uint64
	// Files are the files of the function's unit; the functions of one
	// unit share the slice, which must not be modified.
	Files []debugfiles.FileInfo
	// Gap marks a nameless function made of a unit's code that no
	// function covers: none of the whole program's, or, from
	// TransientSubprogramsAndGaps, none of its batch of units', and a
	// consumer keeps only what no function of another batch covers.
	Gap bool
}

// CompactFunctions yields what Functions does, in the same order, with the
// lines in compact form: a third of the memory of LineInfos, without
// pointers, and no line slices for inlinees. Consumers that write a
// function's own lines and its inline ranges (Breakpad .sym records) need
// no more.
func (s *Session) CompactFunctions() iter.Seq2[*CompactFunction, error] {
	return s.compactFunctions(false)
}

// compactFunctions is CompactFunctions, or with reuse set
// TransientCompactFunctions.
func (s *Session) compactFunctions(reuse bool) iter.Seq2[*CompactFunction, error] {
	// debug/dwarf's trees are converted.
	return sessionFunctions(s, true, reuse, compactOf, func(cf *CompactFunction) *CompactFunction { return cf })
}

// TransientCompactFunctions yields what CompactFunctions does, in the same
// order, except that a function is valid only until yield returns: the
// storage of its tree and lines is reused for functions yielded later, so
// the consumer must copy out what it keeps (names and file lists may be
// kept: they are not reused). A consumer that converts each function as
// it comes, as a symcache builder does, is spared the allocation and
// collection of every tree. The lines come as Table rather than Rows,
// wherever the session reads the line tables itself (not through
// debug/dwarf): the rows of the unit's line table, which the session
// neither copies, clips nor cuts at the inlinees' bounds.
func (s *Session) TransientCompactFunctions() iter.Seq2[*CompactFunction, error] {
	return s.compactFunctions(true)
}

// compactOf converts a tree with Lines into the compact form.
func compactOf(f *debugfiles.Function) *CompactFunction {
	cf := &CompactFunction{Function: f, Rows: make([]LineRow, 0, len(f.Lines))}
	index := map[debugfiles.FileInfo]uint32{}
	for _, l := range f.Lines {
		i, ok := index[l.File]
		if !ok {
			i = uint32(len(cf.Files))
			index[l.File] = i
			cf.Files = append(cf.Files, l.File)
		}
		cf.Rows = append(cf.Rows, LineRow{Address: l.Address, Size: l.Size, File: i, Line: l.Line})
	}
	f.Lines = nil
	var drop func(fs []*debugfiles.Function)
	drop = func(fs []*debugfiles.Function) {
		for _, c := range fs {
			c.Lines = nil
			drop(c.Inlinees)
		}
	}
	drop(f.Inlinees)
	return cf
}

// AllFunctions returns every function at once; Functions is the iterator
// form of it.
func (s *Session) AllFunctions() ([]*debugfiles.Function, error) {
	return s.build()
}

func (s *Session) build() ([]*debugfiles.Function, error) {
	switch {
	case s.data != nil:
		return s.buildStd()
	case s.sec == nil:
		return nil, errClosed
	}
	bl, err := s.read()
	if err != nil {
		return nil, err
	}
	fns, err := bl.emit()
	if err != nil {
		return nil, fmt.Errorf("dwarf: %w", err)
	}
	return fns, nil
}

// read walks every unit of the session's sections (and their split units)
// into a builder ready to emit.
func (s *Session) read() (*builder, error) {
	if s.sec == nil {
		return nil, errClosed
	}
	bl := newBuilder(s.opts, s.sec.size())
	bl.presize(len(s.sec.Info))
	bl.sources = append(bl.sources, &source{sec: s.sec, be: s.be, abbrevs: map[abbrevKey]*abbrevTable{}})
	units, err := bl.readSource(0, nil)
	if err != nil {
		return nil, fmt.Errorf("dwarf: %w", err)
	}
	if err := bl.readSplit(units); err != nil {
		return nil, err
	}
	return bl, nil
}

// Close releases the session's data. Sessions hold no resources beyond
// memory, so Close only drops references.
func (s *Session) Close() error {
	s.data, s.sec = nil, nil
	return nil
}
