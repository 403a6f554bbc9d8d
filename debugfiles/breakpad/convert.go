package breakpad

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// PublicFilter selects the symbols that become PUBLIC records.
type PublicFilter uint8

const (
	// PublicsOutsideFuncs writes a PUBLIC record only for symbols whose
	// address no FUNC covers. Breakpad's resolver never reports a PUBLIC
	// inside a FUNC, so the others would be dead weight.
	PublicsOutsideFuncs PublicFilter = iota
	// PublicsNotAtFuncs drops only the symbols at a FUNC's start address
	// (and, for "arm", at that address with the Thumb bit set), which is
	// exactly what Breakpad's Module::AddFunction does; choose it to match
	// dump_syms output line for line.
	PublicsNotAtFuncs
)

// ConvertOptions tunes FromObject. The zero value gives dump_syms' output
// for the object, with names as the object reports them.
type ConvertOptions struct {
	// OS is the MODULE operating system. Empty means by format: "Linux"
	// for ELF, "mac" for Mach-O, "windows" for PE and PDB, and the
	// recorded one for a Breakpad object.
	OS string
	// Arch is the MODULE architecture; empty means the object's, in
	// Breakpad's spelling.
	Arch string
	// Name is the MODULE name; empty means the base name of the object's
	// name (for a PE image, of its PDB when it names one).
	Name string
	// CodeFile is written after the code id in INFO CODE_ID; empty means
	// the base name of a PE image's name, and nothing for other formats.
	CodeFile string
	// Demangle, when set, is applied to function, inlinee and symbol names.
	// dump_syms writes demangled names; debug sessions report linkage
	// names, so a caller wanting dump_syms' text passes a demangler here.
	Demangle func(string) string
	// Multiple marks code shared by several functions or symbols with the
	// "m" flag and keeps only the first of them, as dump_syms does when its
	// multiple field is enabled; otherwise functions at one address with
	// different names are all kept.
	Multiple bool
	// Publics selects the symbols written as PUBLIC records.
	Publics PublicFilter
	// NoInlines leaves out INLINE and INLINE_ORIGIN records (and the files
	// only call sites use), as dump_syms does without -d.
	NoInlines bool
	// CFI adds STACK CFI records after everything else (see StackCFI), as
	// dump_syms does without -c.
	CFI bool
	// UnwindTables are the tables CFI converts; nil means the object's own
	// (when it is an unwind.Source). A caller pairing a binary with its
	// debug file passes both files' tables.
	UnwindTables []unwind.Table
}

// stackRecords returns the STACK CFI records, then the STACK WIN records
// (Windows x86 frame data), that opts asks for.
func stackRecords(obj debugfiles.Object, opts ConvertOptions) ([]string, error) {
	if !opts.CFI {
		return nil, nil
	}
	tables := opts.UnwindTables
	if tables == nil {
		var err error
		if tables, err = unwind.Tables(obj); err != nil {
			return nil, fmt.Errorf("breakpad: %w", err)
		}
	}
	lines, _ := StackCFI(tables)
	win, _ := StackWin(tables)
	return append(lines, win...), nil
}

// FromObject converts an object's functions and symbol table into a Module
// the way dump_syms builds one (Breakpad's Module class):
//
//   - FUNCs are sorted by address, then name; exact duplicates are
//     dropped. Each FUNC's lines are the function's Lines clipped to it,
//     with sizes "up to the next line" made explicit.
//   - Inlinees become INLINE records in depth-first order. Siblings with
//     the same name and call site become one record with several ranges,
//     which is how an INLINE record with several ranges reads back.
//   - FILE records are the files that lines and call sites use (paths
//     joined by FileInfo.Path), numbered from 0 in name order;
//     INLINE_ORIGIN records are the inlinee names, numbered in name order.
//   - PUBLIC records come from the symbol table, the first of several at
//     one address, filtered by opts.Publics. An object without debug
//     information (no FeatureDebug) contributes only PUBLIC records, as
//     dump_syms writes a stripped binary.
//
// Parameter sizes are 0. STACK CFI records are written when opts.CFI is
// set.
func FromObject(obj debugfiles.Object, opts ConvertOptions) (*Module, error) {
	m := header(obj, opts)
	funcs, syms, err := readObject(obj)
	if err != nil {
		return nil, err
	}
	c := newConverter(m, opts)
	for _, e := range c.order(funcs) {
		var fn Func
		c.convert(e, &fn)
		m.Funcs = append(m.Funcs, fn)
	}
	c.publics(syms, funcSpans(m.Funcs))
	fileMap, originMap := c.number()
	for fi := range m.Funcs {
		remap(&m.Funcs[fi], fileMap, originMap)
	}
	stack, err := stackRecords(obj, opts)
	if err != nil {
		return nil, err
	}
	m.Stack = append(m.Stack, stack...)
	return m, nil
}

// WriteObject writes what WriteModule(FromObject(obj, opts)) would, without
// holding the object's function trees or the converted module: each
// function is converted as the debug session yields it and kept as a
// compact binary record (a few bytes per line) until the file and origin
// tables, which precede the first FUNC and are numbered in name order, are
// known; then the records are written in address order.
func WriteObject(out io.Writer, obj debugfiles.Object, opts ConvertOptions) error {
	m := header(obj, opts)
	c := newConverter(m, opts)
	var (
		recs []record
		buf  []byte
		fn   Func
	)
	if obj.Features()&debugfiles.FeatureDebug != 0 {
		err := eachFunction(obj, func(f *debugfiles.Function) {
			if f.Name == "" || f.Size == 0 || f.End() < f.Address {
				return
			}
			e := entry{f: f, name: c.name(f.Name)}
			c.convert(e, &fn)
			off := len(buf)
			buf = encodeFunc(buf, &fn)
			recs = append(recs, record{addr: f.Address, size: f.Size, name: e.name, off: off, end: len(buf)})
		})
		if err != nil {
			return err
		}
	}
	var syms []debugfiles.Symbol
	for s := range obj.Symbols() {
		syms = append(syms, s)
	}

	// The order and duplicates of order(), on records.
	slices.SortStableFunc(recs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.addr, b.addr), strings.Compare(a.name, b.name))
	})
	kept := recs[:0]
	for _, r := range recs {
		if n := len(kept); n > 0 {
			prev := &kept[n-1]
			if prev.addr == r.addr && (prev.name == r.name || opts.Multiple) {
				if prev.name != r.name {
					prev.multiple = true
				}
				continue
			}
		}
		kept = append(kept, r)
	}
	spans := make([]span, 0, len(kept))
	for _, r := range kept {
		spans = append(spans, span{r.addr, r.size})
	}
	dropped := len(kept) < len(recs)
	var usedFiles, usedOrigins []bool
	if dropped {
		// Only the files and origins of kept functions are numbered, as
		// FromObject registers them.
		usedFiles = make([]bool, len(c.fileNames))
		usedOrigins = make([]bool, len(c.originNames))
		for _, r := range kept {
			decodeFunc(buf[r.off:r.end], r.addr, &fn)
			for _, l := range fn.Lines {
				usedFiles[l.File] = true
			}
			for _, in := range fn.Inlines {
				if in.CallFile >= 0 {
					usedFiles[in.CallFile] = true
				}
				usedOrigins[in.Origin] = true
			}
		}
		c.fileNames, c.originNames = keepUsed(c.fileNames, usedFiles), keepUsed(c.originNames, usedOrigins)
	}
	c.publics(syms, spans)
	fileMap, originMap := c.number()
	if dropped {
		fileMap, originMap = spread(fileMap, usedFiles), spread(originMap, usedOrigins)
	}

	w := NewWriter(out)
	w.header(m)
	for _, r := range kept {
		decodeFunc(buf[r.off:r.end], r.addr, &fn)
		fn.Address, fn.Size, fn.Name, fn.Multiple = r.addr, r.size, r.name, r.multiple
		remap(&fn, fileMap, originMap)
		w.Func(&fn)
	}
	for _, p := range m.Publics {
		w.Public(p)
	}
	stack, err := stackRecords(obj, opts)
	if err != nil {
		return err
	}
	for _, s := range stack {
		w.Stack(s)
	}
	return w.Flush()
}

// eachFunction runs obj's debug session in its own goroutine and hands the
// functions to use in this one, in batches, so that reading the debug
// information and converting it overlap.
func eachFunction(obj debugfiles.Object, use func(*debugfiles.Function)) error {
	sess, err := obj.DebugSession()
	if err != nil {
		return fmt.Errorf("breakpad: %w", err)
	}
	const batch = 64
	batches := make(chan []*debugfiles.Function, 8)
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(batches)
		cur := make([]*debugfiles.Function, 0, batch)
		for f, err := range sess.Functions() {
			if err != nil {
				readErr = err
				return
			}
			if cur = append(cur, f); len(cur) == batch {
				select {
				case batches <- cur:
				case <-done:
					return
				}
				cur = make([]*debugfiles.Function, 0, batch)
			}
		}
		if len(cur) > 0 {
			select {
			case batches <- cur:
			case <-done:
			}
		}
	}()
	for b := range batches {
		for _, f := range b {
			use(f)
		}
	}
	close(done)
	cerr := sess.Close()
	if readErr != nil {
		return fmt.Errorf("breakpad: %w", readErr)
	}
	if cerr != nil {
		return fmt.Errorf("breakpad: %w", cerr)
	}
	return nil
}

// record is a converted function held by WriteObject: its FUNC fields and
// where its lines and inlines are encoded.
type record struct {
	addr, size uint64
	name       string
	multiple   bool
	off, end   int
}

// encodeFunc appends fn's lines and inlines as unsigned varints, addresses
// relative to the function.
func encodeFunc(b []byte, fn *Func) []byte {
	b = binary.AppendUvarint(b, uint64(len(fn.Lines)))
	for _, l := range fn.Lines {
		b = binary.AppendUvarint(b, l.Address-fn.Address)
		b = binary.AppendUvarint(b, l.Size)
		b = binary.AppendUvarint(b, uint64(l.Number))
		b = binary.AppendUvarint(b, uint64(l.File))
	}
	b = binary.AppendUvarint(b, uint64(len(fn.Inlines)))
	for _, in := range fn.Inlines {
		b = binary.AppendUvarint(b, uint64(in.Depth))
		b = binary.AppendUvarint(b, uint64(in.CallLine))
		b = binary.AppendUvarint(b, uint64(in.CallFile+1))
		b = binary.AppendUvarint(b, uint64(in.Origin))
		b = binary.AppendUvarint(b, uint64(len(in.Ranges)))
		for _, r := range in.Ranges {
			// Inlinees are clipped to their function, but a zigzag
			// delta costs nothing and survives any input.
			b = binary.AppendVarint(b, int64(r.Address-fn.Address))
			b = binary.AppendUvarint(b, r.Size)
		}
	}
	return b
}

// decodeFunc reads what encodeFunc wrote for a function at base into fn's
// lines and inlines, reusing their slices.
func decodeFunc(b []byte, base uint64, fn *Func) {
	u := func() uint64 {
		v, n := binary.Uvarint(b)
		b = b[n:]
		return v
	}
	fn.Lines = fn.Lines[:0]
	for range u() {
		fn.Lines = append(fn.Lines, Line{Address: base + u(), Size: u(), Number: uint32(u()), File: int64(u())})
	}
	// Reuse the inline records and their range slices.
	inl := fn.Inlines[:cap(fn.Inlines)]
	n := int(u())
	if len(inl) < n {
		inl = append(inl, make([]Inline, n-len(inl))...)
	}
	inl = inl[:n]
	for i := range inl {
		in := &inl[i]
		in.Depth, in.CallLine, in.CallFile, in.Origin = uint32(u()), uint32(u()), int64(u())-1, int64(u())
		in.Legacy = false
		rs := in.Ranges[:0]
		for range u() {
			v, k := binary.Varint(b)
			b = b[k:]
			rs = append(rs, Range{Address: base + uint64(v), Size: u()})
		}
		in.Ranges = rs
	}
	fn.Inlines = inl
}

// keepUsed returns the names whose used flag is set, in order.
func keepUsed(names []string, used []bool) []string {
	out := make([]string, 0, len(names))
	for i, n := range names {
		if used[i] {
			out = append(out, n)
		}
	}
	return out
}

// spread turns a map over the used names back into one over all
// provisional indexes; unused ones map to -1.
func spread(m []int64, used []bool) []int64 {
	out := make([]int64, len(used))
	k := 0
	for i, u := range used {
		out[i] = -1
		if u {
			out[i] = m[k]
			k++
		}
	}
	return out
}

// header fills the MODULE and INFO CODE_ID fields of a new Module.
func header(obj debugfiles.Object, opts ConvertOptions) *Module {
	m := &Module{
		OS:     opts.OS,
		Arch:   opts.Arch,
		ID:     obj.DebugID().Breakpad(),
		Name:   opts.Name,
		CodeID: strings.ToUpper(obj.CodeID()),
	}
	if m.OS == "" {
		m.OS = defaultOS(obj)
	}
	if m.Arch == "" {
		m.Arch = BreakpadArch(obj.Arch())
		if b, ok := obj.(interface{ BreakpadArch() string }); ok {
			m.Arch = b.BreakpadArch()
		}
	}
	if m.Name == "" {
		m.Name = baseName(obj.Name())
		if obj.Format() == debugfiles.FormatPE && obj.DebugFile() != "" {
			m.Name = baseName(obj.DebugFile())
		}
	}
	if m.CodeID != "" {
		b, isSym := obj.(*Object)
		switch {
		case opts.CodeFile != "":
			m.CodeFile = opts.CodeFile
		case isSym:
			m.CodeFile = b.CodeFile()
		case obj.Format() == debugfiles.FormatPE:
			m.CodeFile = baseName(obj.Name())
		}
	}
	return m
}

// readObject reads the named functions of obj's debug information (none
// without FeatureDebug) and its symbol table.
func readObject(obj debugfiles.Object) ([]*debugfiles.Function, []debugfiles.Symbol, error) {
	var funcs []*debugfiles.Function
	if obj.Features()&debugfiles.FeatureDebug != 0 {
		sess, err := obj.DebugSession()
		if err != nil {
			return nil, nil, fmt.Errorf("breakpad: %w", err)
		}
		for f, err := range sess.Functions() {
			if err != nil {
				sess.Close()
				return nil, nil, fmt.Errorf("breakpad: %w", err)
			}
			if f.Name == "" {
				// Code no function covers (padding, assembler units): a
				// symbolizer may use its lines, but dump_syms writes no
				// FUNC for it.
				continue
			}
			funcs = append(funcs, f)
		}
		if err := sess.Close(); err != nil {
			return nil, nil, fmt.Errorf("breakpad: %w", err)
		}
	}
	var syms []debugfiles.Symbol
	for s := range obj.Symbols() {
		syms = append(syms, s)
	}
	return funcs, syms, nil
}

func defaultOS(obj debugfiles.Object) string {
	if b, ok := obj.(interface{ OS() string }); ok && b.OS() != "" {
		return b.OS()
	}
	switch obj.Format() {
	case debugfiles.FormatMachO:
		return "mac"
	case debugfiles.FormatPE, debugfiles.FormatPDB:
		return "windows"
	default:
		return "Linux"
	}
}

// baseName strips a path with either separator, as dump_syms names modules.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return path.Base(p)
}

// converter accumulates the file and origin tables while functions are
// converted; indexes are provisional until number sorts the names.
type converter struct {
	m                      *Module
	opts                   ConvertOptions
	files                  map[string]int64 // name -> provisional index
	origins                map[string]int64
	fileNames, originNames []string

	demangled map[string]string
	byInfo    map[debugfiles.FileInfo]int64

	// The last file looked up, and its index.
	lastFile debugfiles.FileInfo
	lastID   int64
	lastOK   bool
}

func newConverter(m *Module, opts ConvertOptions) *converter {
	return &converter{m: m, opts: opts, files: map[string]int64{}, origins: map[string]int64{}}
}

func (c *converter) name(s string) string {
	if c.opts.Demangle != nil {
		// Inlined functions repeat their names thousands of times;
		// demangling is the expensive part of converting them.
		d, ok := c.demangled[s]
		if !ok {
			d = c.opts.Demangle(s)
			if c.demangled == nil {
				c.demangled = map[string]string{}
			}
			c.demangled[s] = d
		}
		s = d
	}
	if s == "" {
		return nameOmitted
	}
	return s
}

func (c *converter) file(fi debugfiles.FileInfo) int64 {
	// Consecutive lines nearly always share a file, and a map keyed by
	// the parts beats joining the path again for the others.
	if c.lastOK && fi == c.lastFile {
		return c.lastID
	}
	id, ok := c.byInfo[fi]
	if !ok {
		id = c.filePath(fi.Path())
		if c.byInfo == nil {
			c.byInfo = map[debugfiles.FileInfo]int64{}
		}
		c.byInfo[fi] = id
	}
	c.lastFile, c.lastID, c.lastOK = fi, id, true
	return id
}

func (c *converter) filePath(p string) int64 {
	if id, ok := c.files[p]; ok {
		return id
	}
	id := int64(len(c.fileNames))
	c.files[p] = id
	c.fileNames = append(c.fileNames, p)
	return id
}

func (c *converter) origin(name string) int64 {
	if id, ok := c.origins[name]; ok {
		return id
	}
	id := int64(len(c.originNames))
	c.origins[name] = id
	c.originNames = append(c.originNames, name)
	return id
}

// entry is a function to write, with its converted name.
type entry struct {
	f        *debugfiles.Function
	name     string
	multiple bool
}

// order sorts the functions by address, then name, and drops the ones
// dump_syms drops: empty ones and exact duplicates (with opts.Multiple,
// every later function at one address, marking the first "m").
func (c *converter) order(funcs []*debugfiles.Function) []entry {
	es := make([]entry, 0, len(funcs))
	for _, f := range funcs {
		if f.Size == 0 || f.End() < f.Address {
			continue
		}
		es = append(es, entry{f: f, name: c.name(f.Name)})
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.f.Address, b.f.Address), strings.Compare(a.name, b.name))
	})
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if prev.f.Address == e.f.Address && (prev.name == e.name || c.opts.Multiple) {
				if prev.name != e.name {
					prev.multiple = true
				}
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// convert fills fn with the records of e, reusing fn's slices, with
// provisional file and origin indexes.
func (c *converter) convert(e entry, fn *Func) {
	*fn = Func{Address: e.f.Address, Size: e.f.Size, Name: e.name, Multiple: e.multiple,
		Lines: c.lines(e.f, fn.Lines[:0]), Inlines: fn.Inlines[:0]}
	if !c.opts.NoInlines {
		c.inlines(fn, e.f.Inlinees, 0)
	}
}

// remap replaces provisional indexes with final ones.
func remap(f *Func, fileMap, originMap []int64) {
	for li := range f.Lines {
		f.Lines[li].File = fileMap[f.Lines[li].File]
	}
	for ii := range f.Inlines {
		in := &f.Inlines[ii]
		if in.CallFile >= 0 {
			in.CallFile = fileMap[in.CallFile]
		}
		in.Origin = originMap[in.Origin]
	}
}

// lines converts a function's lines, clipped to the function, with sizes
// of 0 ("up to the next line") resolved against the next line's address.
func (c *converter) lines(f *debugfiles.Function, out []Line) []Line {
	ls := f.Lines
	byAddr := func(a, b debugfiles.LineInfo) int { return cmp.Compare(a.Address, b.Address) }
	if !slices.IsSortedFunc(ls, byAddr) {
		ls = slices.Clone(ls)
		slices.SortStableFunc(ls, byAddr)
	}
	for i, l := range ls {
		start, end := l.Address, l.Address+l.Size
		if l.Size == 0 || end < start {
			end = f.End()
			for _, n := range ls[i+1:] {
				if n.Address > start {
					end = min(end, n.Address)
					break
				}
			}
		}
		start, end = max(start, f.Address), min(end, f.End())
		if start >= end {
			continue
		}
		out = append(out, Line{Address: start, Size: end - start, Number: l.Line, File: c.file(l.File)})
	}
	return out
}

// inlines appends INLINE records for a list of sibling inlinees and their
// descendants, depth first, merging siblings with one name and call site.
func (c *converter) inlines(fn *Func, sibs []*debugfiles.Function, depth uint32) {
	type group struct {
		origin, file int64
		line         uint32
		members      []*debugfiles.Function
	}
	var groups []group
next:
	for _, s := range sibs {
		if s.Size == 0 || s.End() < s.Address {
			continue
		}
		origin := c.origin(c.name(s.Name))
		file := int64(-1)
		if s.CallFile.Name != "" {
			file = c.file(s.CallFile)
		}
		// Sibling lists are short: a scan beats a map.
		for i := range groups {
			if g := &groups[i]; g.origin == origin && g.file == file && g.line == s.CallLine {
				g.members = append(g.members, s)
				continue next
			}
		}
		groups = append(groups, group{origin: origin, file: file, line: s.CallLine, members: []*debugfiles.Function{s}})
	}
	for _, g := range groups {
		in := Inline{Depth: depth, CallLine: g.line, CallFile: g.file, Origin: g.origin}
		in.Ranges = make([]Range, 0, len(g.members))
		var children []*debugfiles.Function
		for _, mb := range g.members {
			in.Ranges = append(in.Ranges, Range{Address: mb.Address, Size: mb.Size})
			children = append(children, mb.Inlinees...)
		}
		fn.Inlines = append(fn.Inlines, in)
		c.inlines(fn, children, depth+1)
	}
}

// span is a written FUNC's address range.
type span struct{ Address, Size uint64 }

func funcSpans(fs []Func) []span {
	out := make([]span, len(fs))
	for i, f := range fs {
		out[i] = span{f.Address, f.Size}
	}
	return out
}

func (c *converter) publics(syms []debugfiles.Symbol, funcs []span) {
	slices.SortStableFunc(syms, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) })
	// maxEnd[i] is the highest end among funcs[:i+1], so "is a covered by
	// any FUNC starting at or below it" is one binary search.
	maxEnd := make([]uint64, len(funcs))
	for i, f := range funcs {
		maxEnd[i] = f.Address + f.Size
		if i > 0 {
			maxEnd[i] = max(maxEnd[i], maxEnd[i-1])
		}
	}
	startsAt := func(a uint64) bool {
		i := sort.Search(len(funcs), func(k int) bool { return funcs[k].Address >= a })
		return i < len(funcs) && funcs[i].Address == a
	}
	arm := c.m.Arch == "arm"
	for _, s := range syms {
		if n := len(c.m.Publics); n > 0 && c.m.Publics[n-1].Address == s.Address {
			if c.opts.Multiple {
				c.m.Publics[n-1].Multiple = true
			}
			continue
		}
		switch c.opts.Publics {
		case PublicsNotAtFuncs:
			if startsAt(s.Address) || (arm && s.Address&1 == 1 && startsAt(s.Address&^1)) {
				continue
			}
		default:
			i := sort.Search(len(funcs), func(k int) bool { return funcs[k].Address > s.Address })
			if i > 0 && maxEnd[i-1] > s.Address {
				continue
			}
		}
		c.m.Publics = append(c.m.Publics, Public{Address: s.Address, Name: c.name(s.Name)})
	}
}

// number sorts the file and origin tables by name, as dump_syms numbers
// them, and returns the maps from provisional to final indexes.
func (c *converter) number() (fileMap, originMap []int64) {
	fileMap = renumber(c.fileNames)
	originMap = renumber(c.originNames)
	for _, n := range c.fileNames {
		c.m.Files = append(c.m.Files, File{Name: n})
	}
	slices.SortFunc(c.m.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for i := range c.m.Files {
		c.m.Files[i].Index = int64(i)
	}
	for _, n := range c.originNames {
		c.m.InlineOrigins = append(c.m.InlineOrigins, InlineOrigin{Name: n})
	}
	slices.SortFunc(c.m.InlineOrigins, func(a, b InlineOrigin) int { return strings.Compare(a.Name, b.Name) })
	for i := range c.m.InlineOrigins {
		c.m.InlineOrigins[i].Index = int64(i)
	}
	return fileMap, originMap
}

// renumber maps provisional indexes (positions in names) to positions in
// name order.
func renumber(names []string) []int64 {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	m := make([]int64, len(names))
	for final, prov := range order {
		m[prov] = int64(final)
	}
	return m
}
