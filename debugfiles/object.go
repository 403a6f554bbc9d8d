// Package debugfiles gives one Object view over every debug-file format Cairn
// reads: kind, architecture, debug id, code id, symbols, and a debug session
// yielding functions with their address ranges, line tables and inline
// chains. Each format lives in its own subpackage (elf, macho, breakpad, pe,
// pdb) and is opened through Open, which sniffs the format.
//
// Addresses are relative to the object's load address: the image base of a
// PE file, the vmaddr of a Mach-O __TEXT segment, the lowest PT_LOAD address
// of an ELF file. A crash address minus the module's base in the minidump is
// therefore directly comparable with the addresses an Object reports.
package debugfiles

import (
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

// Format is a debug-file container format.
type Format uint8

// Formats Cairn reads.
const (
	FormatUnknown Format = iota
	FormatELF
	FormatMachO
	FormatPE
	FormatPDB
	FormatBreakpad
)

var formatNames = [...]string{"unknown", "elf", "macho", "pe", "pdb", "breakpad"}

// String names the format as sentry-cli does ("elf", "macho", ...).
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", f)
}

// Kind is what an object is for, as Sentry classifies debug files.
type Kind uint8

// Object kinds.
const (
	KindNone Kind = iota
	// KindRelocatable is an object file (.o) not yet linked.
	KindRelocatable
	// KindExecutable is a linked program.
	KindExecutable
	// KindLibrary is a shared library.
	KindLibrary
	// KindDebug is a debug companion: a dSYM, a separate .debug file, a PDB,
	// a Breakpad .sym.
	KindDebug
	// KindDump is a core dump.
	KindDump
	// KindSources is a source bundle.
	KindSources
)

var kindNames = [...]string{"none", "rel", "exe", "lib", "dbg", "dump", "src"}

// String is Sentry's short name for the kind ("exe", "lib", "dbg", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Describe is the long name sentry-cli prints ("executable", "debug companion").
func (k Kind) Describe() string {
	return [...]string{"unknown", "relocatable", "executable", "library", "debug companion", "memory dump", "source bundle"}[min(int(k), 6)]
}

// Features says what an object can contribute to symbolication.
type Features uint8

// Feature bits.
const (
	// FeatureSymtab: a symbol table (names of public and local symbols).
	FeatureSymtab Features = 1 << iota
	// FeatureDebug: debug information (functions, lines, inlines).
	FeatureDebug
	// FeatureUnwind: stack unwinding information (CFI, compact unwind, ...).
	FeatureUnwind
	// FeatureSources: embedded source code.
	FeatureSources
)

// Names lists the feature names as sentry-cli prints them.
func (f Features) Names() []string {
	var out []string
	for i, n := range []string{"symtab", "debug", "unwind", "sources"} {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String joins the feature names.
func (f Features) String() string {
	n := f.Names()
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// Symbol is an entry of a symbol table.
type Symbol struct {
	// Name is the raw (possibly mangled) name.
	Name string
	// Address is relative to the load address.
	Address uint64
	// Size is 0 when the table does not record it.
	Size uint64
	// File is the source file a local symbol was compiled from, where the
	// table says (an ELF symbol table's STT_FILE entry before it), as
	// llvm-symbolizer reports it; empty otherwise.
	File string
}

// Object is one debug file, or one architecture of a fat Mach-O file.
type Object interface {
	Format() Format
	Kind() Kind
	// Arch is the architecture in Sentry's spelling: "x86", "x86_64",
	// "arm", "arm64", "arm64e", "ppc", ...
	Arch() string
	DebugID() debugid.ID
	// CodeID is the Sentry-form code id (lowercase), or "" when the format
	// has none.
	CodeID() string
	// Name is the file name the object was opened from, or the code file
	// name the format records.
	Name() string
	// DebugFile is the name of the companion debug file this object points
	// at (a PE image's PDB, an ELF .gnu_debuglink), or "".
	DebugFile() string
	Features() Features
	// LoadAddress is the address the object prefers to be loaded at; every
	// other address the object reports is relative to it.
	LoadAddress() uint64
	// Symbols yields the symbol table sorted by address.
	Symbols() iter.Seq[Symbol]
	// DebugSession opens the debug information for reading functions.
	// Objects without debug information return a session yielding the
	// symbol table as functions without lines.
	DebugSession() (DebugSession, error)
}

// SymbolsBeside is implemented by an Object whose Symbols may be read on
// one goroutine while its debug session reads on another.
type SymbolsBeside interface {
	// SymbolsBesideSession reports whether they may.
	SymbolsBesideSession() bool
}

// SymbolsBesideSession reports whether obj's Symbols may be read on one
// goroutine while its debug session reads on another (SymbolsBeside).
func SymbolsBesideSession(obj Object) bool {
	sb, ok := obj.(SymbolsBeside)
	return ok && sb.SymbolsBesideSession()
}

// DebugSession reads functions from an object's debug information. It may
// hold caches and open sections; Close releases them.
type DebugSession interface {
	// Functions yields every top-level function with its lines and its
	// tree of inlined functions, in no particular order. Iteration stops at
	// the first error, which the sequence yields with a nil function.
	Functions() iter.Seq2[*Function, error]
	Close() error
}

// FileInfo is a source file as the debug information records it.
type FileInfo struct {
	// Name is the file name, possibly relative to Dir.
	Name string
	// Dir is the include directory, possibly relative to CompDir.
	Dir string
	// CompDir is the compilation directory of the unit.
	CompDir string
}

// Path joins CompDir, Dir and Name the way DWARF consumers do: an absolute
// component discards what comes before it.
func (f FileInfo) Path() string {
	p := ""
	for _, part := range []string{f.CompDir, f.Dir, f.Name} {
		switch {
		case part == "":
		case isAbs(part) || p == "":
			p = part
		default:
			sep := "/"
			if strings.Contains(p, `\`) && !strings.Contains(p, "/") {
				sep = `\`
			}
			p = strings.TrimRight(p, `/\`) + sep + part
		}
	}
	return p
}

func isAbs(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
}

// LineInfo maps an address range to a source line.
type LineInfo struct {
	Address uint64
	// Size is the length of the range; 0 means "up to the next line".
	Size uint64
	File FileInfo
	Line uint32
}

// Function is a function and the functions inlined into it.
type Function struct {
	// Address and Size delimit the function; for split functions (hot/cold
	// parts) each part is a separate Function with the same name.
	Address uint64
	Size    uint64
	// Name is the linkage (mangled) name when there is one, else the plain
	// name; Demangle in package demangle makes it readable.
	Name string
	// Lines covers the function's own code and the code inlined into it.
	Lines []LineInfo
	// Inlinees are the functions inlined directly into this one, each with
	// its own Lines and Inlinees.
	Inlinees []*Function
	// CallFile and CallLine are where an inlinee was called from in its
	// parent; zero for top-level functions.
	CallFile FileInfo
	CallLine uint32
	// CompDir is the compilation directory of the unit.
	CompDir string
}

// End is the first address past the function.
func (f *Function) End() uint64 { return f.Address + f.Size }

// ErrUnknownFormat reports a file that is no debug-file format Cairn reads.
var ErrUnknownFormat = errors.New("debugfiles: unknown file format")
