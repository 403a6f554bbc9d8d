package breakpad

import "fmt"

// Module is the content of a symbol file as the writer emits it: numbering
// (FILE and INLINE_ORIGIN indexes) is explicit and every slice is written
// in order, so a parsed file is written back as it was (see ReadModule).
// FromObject fills a Module the way dump_syms numbers and orders things.
type Module struct {
	// OS, Arch, ID and Name make the MODULE record: the OS as dump_syms
	// spells it ("Linux", "mac", "windows"), the architecture in Breakpad's
	// spelling, the debug id in Breakpad's form, the debug file's name.
	OS, Arch, ID, Name string
	// CodeID and CodeFile make the "INFO CODE_ID" record when CodeID is
	// not empty; CodeFile is only written by Windows dump_syms.
	CodeID, CodeFile string
	// Info holds other INFO records, each the text after "INFO ".
	Info          []string
	Files         []File
	InlineOrigins []InlineOrigin
	Funcs         []Func
	Publics       []Public
	// InterleavePublics writes PUBLIC records among the FUNC records, each
	// before the first FUNC at a higher address, as Mozilla's and the
	// Windows dump_syms do; otherwise they follow all FUNC records, as
	// Breakpad's Linux and macOS dump_syms write them.
	InterleavePublics bool
	// Stack holds STACK records ("STACK CFI ...", "STACK WIN ..."), each a
	// whole line, written after everything else.
	Stack []string
}

// File is a FILE record.
type File struct {
	Index int64
	Name  string
}

// InlineOrigin is an INLINE_ORIGIN record: the name of a function that is
// inlined somewhere. Legacy records the older form, which also names a file
// (File, -1 for none).
type InlineOrigin struct {
	Index  int64
	Name   string
	Legacy bool
	File   int64
}

// Func is a FUNC record with its INLINE and line records.
type Func struct {
	// Multiple is the "m" flag: the code is shared by several functions.
	Multiple  bool
	Address   uint64
	Size      uint64
	ParamSize uint64
	Name      string
	// Inlines are written in order; a parent precedes its children (the
	// depth-first order dump_syms uses).
	Inlines []Inline
	Lines   []Line
}

// Inline is an INLINE record: ranges of code of InlineOrigin Origin,
// inlined at Depth from CallLine of file CallFile (-1 for none). Legacy
// records the older form, which has no call file field.
type Inline struct {
	Depth    uint32
	CallLine uint32
	CallFile int64
	Origin   int64
	Ranges   []Range
	Legacy   bool
}

// Line is a line record: Size bytes at Address come from line Number of the
// file with index File.
type Line struct {
	Address uint64
	Size    uint64
	Number  uint32
	File    int64
}

// Public is a PUBLIC record.
type Public struct {
	Multiple  bool
	Address   uint64
	ParamSize uint64
	Name      string
}

// ReadModule reads every record of rd into a Module. Malformed lines are
// skipped as rd skips them (rd.Skipped counts them; set rd.Strict to stop).
//
// Writing the result with WriteModule reproduces the file byte for byte
// when it was written by one of the dump_syms variants, except for these
// normalizations: a missing final newline is added, "\r\n" and a lone "\r"
// become "\n", runs of spaces between fields become one, hex digits become lowercase
// (and a "0x" prefix goes), anything after a line record's file index is
// dropped, INFO CODE_ID comes before other INFO records, records are
// regrouped in the order MODULE, INFO, FILE, INLINE_ORIGIN, FUNC (with its
// INLINE records, then its line records) and PUBLIC, STACK; second MODULE
// records and empty lines are dropped.
func ReadModule(rd *Reader) (*Module, error) {
	m := &Module{}
	sawModule, sawCodeID, sawPublic := false, false, false
	for rd.Next() {
		rec := rd.Record()
		switch rec.Kind {
		case KindModule:
			if !sawModule {
				sawModule = true
				r := &rec.Module
				m.OS, m.Arch, m.ID, m.Name = string(r.OS), string(r.Arch), string(r.ID), string(r.Name)
			}
		case KindInfo:
			if !sawCodeID && rec.Info.CodeID != nil {
				sawCodeID = true
				m.CodeID, m.CodeFile = string(rec.Info.CodeID), string(rec.Info.CodeFile)
			} else {
				m.Info = append(m.Info, string(rec.Text[len("INFO "):]))
			}
		case KindFile:
			m.Files = append(m.Files, File{Index: rec.File.Index, Name: string(rec.File.Name)})
		case KindInlineOrigin:
			r := &rec.InlineOrigin
			m.InlineOrigins = append(m.InlineOrigins, InlineOrigin{Index: r.Index, Name: string(r.Name), Legacy: r.HasFile, File: r.File})
		case KindFunc:
			r := &rec.Func
			m.Funcs = append(m.Funcs, Func{Multiple: r.Multiple, Address: r.Address, Size: r.Size, ParamSize: r.ParamSize, Name: string(r.Name)})
			if sawPublic {
				m.InterleavePublics = true
			}
		case KindLine:
			f := &m.Funcs[len(m.Funcs)-1]
			r := &rec.Line
			f.Lines = append(f.Lines, Line{Address: r.Address, Size: r.Size, Number: r.Line, File: r.File})
		case KindInline:
			f := &m.Funcs[len(m.Funcs)-1]
			r := &rec.Inline
			f.Inlines = append(f.Inlines, Inline{
				Depth: r.Depth, CallLine: r.CallLine, CallFile: r.CallFile, Origin: r.Origin,
				Ranges: append([]Range(nil), r.Ranges...), Legacy: !r.HasCallFile,
			})
		case KindPublic:
			sawPublic = true
			r := &rec.Public
			m.Publics = append(m.Publics, Public{Multiple: r.Multiple, Address: r.Address, ParamSize: r.ParamSize, Name: string(r.Name)})
		case KindStackCFIInit, KindStackCFI, KindStackWin:
			m.Stack = append(m.Stack, string(rec.Text))
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if !sawModule {
		return nil, fmt.Errorf("breakpad: %w", ErrNoModule)
	}
	return m, nil
}
