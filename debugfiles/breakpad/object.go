package breakpad

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Object is a Breakpad symbol file seen as a debugfiles.Object.
//
// Opening reads the file once to learn its identity, its features and the
// FILE and INLINE_ORIGIN tables; symbols and functions are read again from
// the file each time they are asked for, so a large file is never held in
// memory as a tree.
type Object struct {
	name   string
	data   []byte // the whole file, when it is in memory or mapped
	ra     io.ReaderAt
	size   int64
	closer io.Closer
	closed bool

	os, arch, moduleName string
	id                   debugid.ID
	codeID, codeFile     string
	features             debugfiles.Features
	hasFuncs             bool

	files   nameTable
	origins nameTable

	skipped int
	errs    []*ParseError
}

var _ debugfiles.Object = (*Object)(nil)

// bytesReaderAt is implemented by in-memory and mapped files
// (internal/mmapfile), which the parser then reads without copying.
type bytesReaderAt interface {
	Bytes() []byte
}

// Open maps the named file and reads it as a symbol file; Close unmaps it.
func Open(path string) (*Object, error) {
	f, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("breakpad: %w", err)
	}
	o, err := NewObject(f, int64(f.Len()), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	o.closer = f
	return o, nil
}

// NewObject reads a symbol file of size bytes from r. name is used in
// errors and as the object's name when the MODULE record has none. If r
// has a Bytes() []byte method returning the whole file (a mapped file), the
// file is parsed in place. The file must begin with a MODULE record, as
// every dump_syms writes it; anything else is ErrNoModule, so that format
// sniffing can try other readers.
func NewObject(r io.ReaderAt, size int64, name string) (*Object, error) {
	if size < 0 {
		return nil, fmt.Errorf("breakpad: %s: negative size", name)
	}
	// Sniff before scanning so that a large file of another format is
	// rejected at once rather than read to the end as malformed lines.
	var head [7]byte
	if n, _ := r.ReadAt(head[:], 0); string(head[:n]) != "MODULE " {
		return nil, fmt.Errorf("breakpad: %s: %w", name, ErrNoModule)
	}
	o := &Object{name: name, ra: r, size: size}
	if b, ok := r.(bytesReaderAt); ok && int64(len(b.Bytes())) == size {
		o.data = b.Bytes()
	}
	if err := o.index(); err != nil {
		return nil, err
	}
	return o, nil
}

// ErrNoModule reports a file that does not begin with a MODULE record. It
// wraps debugfiles.ErrUnknownFormat.
var ErrNoModule error = noModuleError{}

// noModuleError is ErrNoModule's type: a value built by fmt.Errorf would be
// formatted at the start of every program that links the package.
type noModuleError struct{}

func (noModuleError) Error() string {
	return debugfiles.ErrUnknownFormat.Error() + ": not a Breakpad symbol file (no MODULE record)"
}

func (noModuleError) Unwrap() error { return debugfiles.ErrUnknownFormat }

// index reads the whole file once: identity, features, name tables and the
// count of malformed lines.
func (o *Object) index() error {
	rd := o.Reader()
	first := true
	var sawCodeID, funcHasLines bool
	for rd.Next() {
		rec := rd.Record()
		if first {
			if rec.Kind != KindModule {
				return fmt.Errorf("breakpad: %s: %w", o.name, ErrNoModule)
			}
			m := rec.Module
			o.os, o.arch, o.moduleName = string(m.OS), string(m.Arch), string(m.Name)
			id, err := debugid.Parse(string(m.ID))
			if err != nil {
				return fmt.Errorf("breakpad: %s: line %d: %w", o.name, rec.LineNo, err)
			}
			o.id = id
			first = false
			continue
		}
		switch rec.Kind {
		case KindInfo:
			if !sawCodeID && rec.Info.CodeID != nil {
				sawCodeID = true
				o.codeID = strings.ToLower(string(rec.Info.CodeID))
				o.codeFile = string(rec.Info.CodeFile)
			}
		case KindFile:
			o.files.add(rec.File.Index, rec.File.Name)
		case KindInlineOrigin:
			o.origins.add(rec.InlineOrigin.Index, rec.InlineOrigin.Name)
		case KindFunc:
			o.features |= debugfiles.FeatureSymtab
			o.hasFuncs, funcHasLines = true, false
		case KindLine:
			if !funcHasLines {
				funcHasLines = true
				o.features |= debugfiles.FeatureDebug
			}
		case KindPublic:
			o.features |= debugfiles.FeatureSymtab
		case KindStackCFIInit, KindStackCFI, KindStackWin:
			o.features |= debugfiles.FeatureUnwind
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("breakpad: %s: %w", o.name, err)
	}
	if first {
		return fmt.Errorf("breakpad: %s: %w", o.name, ErrNoModule)
	}
	o.skipped, o.errs = rd.Skipped(), rd.Errors()
	return nil
}

// Reader returns a new Reader over the whole file, for consumers that want
// the raw records (the STACK records for an unwinder, for instance).
func (o *Object) Reader() *Reader {
	if o.data != nil {
		return NewBytesReader(o.data)
	}
	return NewReader(io.NewSectionReader(o.ra, 0, o.size))
}

// Close releases the mapping made by Open; it does nothing for objects made
// by NewObject. Readers and sessions must be done before Close; the
// functions and symbols they returned stay valid (they hold copies).
func (o *Object) Close() error {
	if o.closer == nil {
		return nil
	}
	c := o.closer
	o.closer, o.data, o.closed = nil, nil, true
	return c.Close()
}

// Format is FormatBreakpad.
func (o *Object) Format() debugfiles.Format { return debugfiles.FormatBreakpad }

// Kind is KindDebug: a symbol file is a debug companion.
func (o *Object) Kind() debugfiles.Kind { return debugfiles.KindDebug }

// Arch is the MODULE architecture in Sentry's spelling.
func (o *Object) Arch() string { return SentryArch(o.arch) }

// BreakpadArch is the MODULE architecture as written ("x86_64", "arm64").
func (o *Object) BreakpadArch() string { return o.arch }

// OS is the MODULE operating system as written ("Linux", "mac", "windows").
func (o *Object) OS() string { return o.os }

// DebugID is the MODULE debug id.
func (o *Object) DebugID() debugid.ID { return o.id }

// CodeID is the INFO CODE_ID id, lowercase, or "".
func (o *Object) CodeID() string { return o.codeID }

// CodeFile is the code file name of INFO CODE_ID (Windows symbol files name
// the executable there), or "".
func (o *Object) CodeFile() string { return o.codeFile }

// Name is the MODULE name (the debug file's base name), or the name given
// to NewObject when the record has none.
func (o *Object) Name() string {
	if o.moduleName != "" {
		return o.moduleName
	}
	return o.name
}

// DebugFile is "": a symbol file points at no other debug file.
func (o *Object) DebugFile() string { return "" }

// Features: symtab when there are FUNC or PUBLIC records, debug when a
// FUNC has line records, unwind when there are STACK records.
func (o *Object) Features() debugfiles.Features { return o.features }

// LoadAddress is 0: symbol file addresses are already module offsets.
func (o *Object) LoadAddress() uint64 { return 0 }

// Skipped is the number of malformed lines the file has; they are ignored,
// as Breakpad's resolver ignores them.
func (o *Object) Skipped() int { return o.skipped }

// ParseErrors returns the first malformed lines (at most 16).
func (o *Object) ParseErrors() []*ParseError { return o.errs }

// Symbols yields the FUNC and PUBLIC records sorted by address (FUNC sizes
// are kept; PUBLIC sizes are 0). Records Breakpad's resolver ignores are
// left out too: FUNCs of size 0 or whose end overflows, and PUBLICs at
// address 0 (dump_syms' own placeholder for symbols like
// _mh_execute_header). Among symbols at one address the one earlier in the
// file comes first, which is the one Breakpad reports. Reading stops
// silently on an I/O error.
func (o *Object) Symbols() iter.Seq[debugfiles.Symbol] {
	return func(yield func(debugfiles.Symbol) bool) {
		var syms []debugfiles.Symbol
		rd := o.Reader()
		for rd.Next() {
			rec := rd.Record()
			switch rec.Kind {
			case KindFunc:
				f := rec.Func
				if f.Size == 0 || f.Address+f.Size < f.Address {
					continue
				}
				syms = append(syms, debugfiles.Symbol{Name: string(f.Name), Address: f.Address, Size: f.Size})
			case KindPublic:
				if rec.Public.Address == 0 {
					continue
				}
				syms = append(syms, debugfiles.Symbol{Name: string(rec.Public.Name), Address: rec.Public.Address})
			}
		}
		slices.SortStableFunc(syms, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) })
		for _, s := range syms {
			if !yield(s) {
				return
			}
		}
	}
}

// DebugSession reads the FUNC records as functions, with the default
// SessionOptions.
func (o *Object) DebugSession() (debugfiles.DebugSession, error) {
	if o.closed {
		return nil, errors.New("breakpad: object is closed")
	}
	return o.Session(SessionOptions{}), nil
}

// nameTable maps FILE and INLINE_ORIGIN indexes to names. Indexes are
// normally dense from 0 (1 in Windows files); a slice serves those, and a
// map takes indexes far beyond the records seen so far, so a hostile index
// never drives an allocation. The first record for an index wins, as in
// Breakpad.
type nameTable struct {
	dense  []string
	has    []bool
	sparse map[int64]string
}

func (t *nameTable) add(idx int64, name []byte) {
	if idx < 0 {
		return
	}
	if idx < int64(len(t.dense)) {
		if !t.has[idx] {
			t.dense[idx], t.has[idx] = string(name), true
		}
		return
	}
	if idx <= 2*int64(len(t.dense))+1024 {
		n := int(idx) + 1
		t.dense = append(t.dense, make([]string, n-len(t.dense))...)
		t.has = append(t.has, make([]bool, n-len(t.has))...)
		t.dense[idx], t.has[idx] = string(name), true
		return
	}
	if t.sparse == nil {
		t.sparse = make(map[int64]string)
	}
	if _, ok := t.sparse[idx]; !ok {
		t.sparse[idx] = string(name)
	}
}

func (t *nameTable) get(idx int64) (string, bool) {
	if idx >= 0 && idx < int64(len(t.dense)) {
		return t.dense[idx], t.has[idx]
	}
	s, ok := t.sparse[idx]
	return s, ok
}
