package breakpad

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
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
	blocks, err := startStackRecords(obj, opts, false)()
	return blockLines(blocks), err
}

// startStackRecords finds the unwind tables stackRecords converts and
// returns a function that waits for the records. With concurrent set, and
// when every table is DWARF call frame information (which is safe for
// concurrent use and reads nothing of the object once found), the records
// are built on their own goroutine meanwhile: an ELF file's STACK CFI
// records take as long to build as a good part of its FUNC records. The
// caller must call the function before the object is closed, whatever
// else fails. An error finding the tables is returned by the function too,
// so that it comes where stackRecords would report it.
//
// The records come as text, blocks of whole lines each ending in "\n",
// in the order they are written: a string per line took twice the memory
// of the text.
func startStackRecords(obj debugfiles.Object, opts ConvertOptions, concurrent bool) func() ([][]byte, error) {
	if !opts.CFI {
		return func() ([][]byte, error) { return nil, nil }
	}
	tables := opts.UnwindTables
	if tables == nil {
		var err error
		if tables, err = unwind.Tables(obj); err != nil {
			err = fmt.Errorf("breakpad: %w", err)
			return func() ([][]byte, error) { return nil, err }
		}
	}
	build := func() [][]byte {
		blocks, _ := stackCFIText(tables)
		// DWARF call frame information has no frame data: its rows need
		// not be read a second time for STACK WIN records.
		var win []unwind.Table
		for _, t := range tables {
			if _, ok := t.(*cfi.Table); !ok {
				win = append(win, t)
			}
		}
		if len(win) > 0 {
			lines, _ := StackWin(win)
			var b []byte
			for _, l := range lines {
				// A frame's program comes from the PDB: a line break
				// in it would end the record (see Writer.Stack).
				b = append(appendName(b, l), '\n')
			}
			blocks = append(blocks, b)
		}
		return blocks
	}
	allCFI := true
	for _, t := range tables {
		if _, ok := t.(*cfi.Table); !ok {
			allCFI = false
		}
	}
	if !concurrent || !allCFI || len(tables) == 0 || runtime.GOMAXPROCS(0) < 2 {
		return func() ([][]byte, error) { return build(), nil }
	}
	var blocks [][]byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		blocks = build()
	}()
	return func() ([][]byte, error) {
		<-done
		return blocks, nil
	}
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
	// The STACK records are built while the functions are read; they are
	// waited for on every path, as they read the object's data.
	waitStack := startStackRecords(obj, opts, true)
	stackWaited := false
	defer func() {
		if !stackWaited {
			waitStack()
		}
	}()
	// An ELF file's symbol table is read while the functions are: it
	// takes a few milliseconds, and elf.Object reads it once, from any
	// goroutine, from the file's immutable mapping. Other formats read
	// theirs afterwards, as before. Either way it is read before
	// returning, as it reads the object's data.
	var syms []debugfiles.Symbol
	readSyms := func() {
		for s := range obj.Symbols() {
			syms = append(syms, s)
		}
	}
	var symsRead chan struct{}
	if obj.Format() == debugfiles.FormatELF && runtime.GOMAXPROCS(0) >= 2 {
		symsRead = make(chan struct{})
		go func() {
			defer close(symsRead)
			readSyms()
		}()
		defer func() { <-symsRead }()
	}
	var (
		recs  []record
		store recordStore
		tmp   []byte
		fn    Func
	)
	if obj.Features()&debugfiles.FeatureDebug != 0 {
		err := eachFunction(obj, func(f *debugfiles.Function, cf *dwarf.CompactFunction) {
			if f.Name == "" || f.Size == 0 || f.End() < f.Address {
				return
			}
			e := entry{f: f, name: c.name(f.Name)}
			if cf != nil {
				tmp = c.encodeCompact(tmp[:0], e, cf, &fn)
			} else {
				c.convert(e, &fn)
				tmp = encodeFunc(tmp[:0], &fn)
			}
			recs = append(recs, record{addr: f.Address, size: f.Size, name: e.name, ref: store.add(tmp)})
		})
		if err != nil {
			return err
		}
	}
	if symsRead != nil {
		<-symsRead
	} else {
		readSyms()
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
			decodeFunc(store.get(r.ref), r.addr, &fn)
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
	writeFuncs(w, kept, &store, fileMap, originMap)
	for _, p := range m.Publics {
		w.Public(p)
	}
	stack, err := waitStack()
	stackWaited = true
	if err != nil {
		return err
	}
	for _, b := range stack {
		w.put(b)
	}
	return w.Flush()
}

// funcBlock is how many FUNC records writeFuncs formats in one piece: few
// enough that the blocks formatted ahead of the output (a few hundred
// kilobytes of text) stay small beside the records, many enough that
// handing them over costs nothing measurable.
const funcBlock = 32

// writeFuncs writes the FUNC records of kept, in order. Their text is most
// of a symbol file; blocks of it are formatted on up to four goroutines
// (a few blocks ahead of the output, which bounds the memory held) and
// written in order.
func writeFuncs(w *Writer, kept []record, store *recordStore, fileMap, originMap []int64) {
	format := func(w *Writer, recs []record) {
		for i := range recs {
			w.encodedFunc(&recs[i], store.get(recs[i].ref), fileMap, originMap)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 || len(kept) <= funcBlock {
		format(w, kept)
		return
	}
	type block struct {
		text []byte
		done chan struct{}
	}
	blocks := make([]block, (len(kept)+funcBlock-1)/funcBlock)
	for i := range blocks {
		blocks[i].done = make(chan struct{})
	}
	window := make(chan struct{}, 2*workers) // blocks formatted or being formatted, not yet written
	jobs := make(chan int, 2*workers)
	// Buffers go back to the workers once written: as many as the window
	// holds, each grown once to a block's size.
	free := make(chan []byte, 2*workers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // feeder; the window bounds what is queued
		defer wg.Done()
		defer close(jobs)
		for i := range blocks {
			window <- struct{}{}
			jobs <- i
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b := &blocks[i]
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				bw := memWriter(buf)
				format(bw, kept[i*funcBlock:min((i+1)*funcBlock, len(kept))])
				b.text = bw.text()
				close(b.done)
			}
		}()
	}
	for i := range blocks {
		b := &blocks[i]
		<-b.done
		w.put(b.text)
		free <- b.text // never blocks: at most one buffer per window slot
		b.text = nil
		<-window
	}
	wg.Wait()
}

// compactSession is what WriteObject uses of a debug session that can
// yield functions with compact lines (dwarf.Session): it spares building
// a LineInfo per line row only to convert it.
type compactSession interface {
	CompactFunctions() iter.Seq2[*dwarf.CompactFunction, error]
}

// transientSession is what WriteObject uses of a debug session that can
// yield functions with compact lines in storage it reuses
// (dwarf.Session): it spares allocating and collecting every tree.
type transientSession interface {
	TransientCompactFunctions() iter.Seq2[*dwarf.CompactFunction, error]
}

// subprogramSession is what WriteObject uses of a debug session that can
// also leave out the nameless functions made of code no function covers
// (dwarf.Session), which no FUNC record is written for: it then reads the
// debug information a few units at a time instead of all at once.
type subprogramSession interface {
	TransientSubprograms() iter.Seq2[*dwarf.CompactFunction, error]
}

// eachFunction runs obj's debug session in its own goroutine and hands the
// functions to use in this one, in batches, so that reading the debug
// information and converting it overlap. A session with compact lines
// hands each function with them (cf, whose Function is f); others hand
// the trees alone (cf nil). A session reusing its storage builds the
// trees on goroutines of its own ahead of this one, and hands each
// function to use directly: use must keep nothing of it but its name.
func eachFunction(obj debugfiles.Object, use func(f *debugfiles.Function, cf *dwarf.CompactFunction)) error {
	sess, err := obj.DebugSession()
	if err != nil {
		return fmt.Errorf("breakpad: %w", err)
	}
	var readErr error
	if ss, ok := sess.(subprogramSession); ok {
		for cf, err := range ss.TransientSubprograms() {
			if err != nil {
				readErr = err
				break
			}
			use(cf.Function, cf)
		}
	} else if ts, ok := sess.(transientSession); ok {
		for cf, err := range ts.TransientCompactFunctions() {
			if err != nil {
				readErr = err
				break
			}
			use(cf.Function, cf)
		}
	} else if cs, ok := sess.(compactSession); ok {
		readErr = pipeline(cs.CompactFunctions(), func(cf *dwarf.CompactFunction) { use(cf.Function, cf) })
	} else {
		readErr = pipeline(sess.Functions(), func(f *debugfiles.Function) { use(f, nil) })
	}
	cerr := sess.Close()
	if readErr != nil {
		return fmt.Errorf("breakpad: %w", readErr)
	}
	if cerr != nil {
		return fmt.Errorf("breakpad: %w", cerr)
	}
	return nil
}

// pipeline reads seq on its own goroutine and hands the items to use on
// this one in batches. It returns the sequence's error, once the reading
// goroutine is done.
func pipeline[T any](seq iter.Seq2[T, error], use func(T)) error {
	// A few batches in flight keep both sides busy; more would only hold
	// more trees in memory.
	const batch = 32
	batches := make(chan []T, 4)
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(batches)
		cur := make([]T, 0, batch)
		for x, err := range seq {
			if err != nil {
				readErr = err
				return
			}
			if cur = append(cur, x); len(cur) == batch {
				select {
				case batches <- cur:
				case <-done:
					return
				}
				cur = make([]T, 0, batch)
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
		for _, x := range b {
			use(x)
		}
	}
	close(done)
	return readErr // written before batches was closed
}

// record is a converted function held by WriteObject: its FUNC fields and
// where its lines and inlines are encoded.
type record struct {
	addr, size uint64
	name       string
	multiple   bool
	ref        recordRef
}

// recordStore holds encoded functions in blocks of recordBlock bytes, so
// that it grows without copying what it holds: a single growing slice
// would, and would need twice its size while it does.
type recordStore struct {
	blocks [][]byte
}

// recordRef locates an encoded function in a recordStore.
type recordRef struct {
	block    int32
	off, end int32
}

// recordBlock is small enough that the unused end of the last block
// stays a small part of the store, which is most of what WriteObject holds
// when it writes.
const recordBlock = 128 << 10

// add copies b into the store; a record larger than a block gets a block
// of its own.
func (s *recordStore) add(b []byte) recordRef {
	n := len(s.blocks)
	if n == 0 || len(s.blocks[n-1])+len(b) > cap(s.blocks[n-1]) {
		s.blocks = append(s.blocks, make([]byte, 0, max(recordBlock, len(b))))
		n++
	}
	last := &s.blocks[n-1]
	off := len(*last)
	*last = append(*last, b...)
	return recordRef{block: int32(n - 1), off: int32(off), end: int32(len(*last))}
}

func (s *recordStore) get(r recordRef) []byte { return s.blocks[r.block][r.off:r.end] }

// encodeFunc appends fn's inlines and lines, in the order of their
// records, as unsigned varints, addresses relative to the function. The
// lines come last and run to the end of the record, without a count, so
// that encodeCompact need not count them first. Writer.encodedFunc formats
// the text straight from it.
func encodeFunc(b []byte, fn *Func) []byte {
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
	le := lineEncoder{end: fn.Address}
	for _, l := range fn.Lines {
		b = le.append(b, l.Address, l.Size, l.Number, uint64(l.File))
	}
	return b
}

// lineEncoder writes the line records of a function as encodeFunc stores
// them. They are most of what WriteObject holds until it writes: each is
// stored relative to the one before, which nearly always ends where it
// starts, in the same file, a few lines away, so that most take two
// bytes (the size, and a header with the line delta and two flags)
// instead of a varint per field.
type lineEncoder struct {
	end  uint64 // where the previous line ended; the function's address at first
	line uint32
	file uint64
}

// Flags in the low bits of a line's header; the line delta, zigzag
// encoded, is above them.
const (
	lineGap      = 1 << iota // a zigzag address delta from the previous end follows
	lineNewFile              // the file index follows
	lineFlagBits = iota
)

// append appends a line of size bytes at addr.
func (e *lineEncoder) append(b []byte, addr, size uint64, line uint32, file uint64) []byte {
	dl := int64(line) - int64(e.line)
	h := uint64(dl<<1^dl>>63) << lineFlagBits
	if h|size < 0x80 && addr == e.end && file == e.file {
		// Most lines: two bytes, the header and the size.
		e.end, e.line = addr+size, line
		return append(b, byte(h), byte(size))
	}
	if addr != e.end {
		h |= lineGap
	}
	if file != e.file {
		h |= lineNewFile
	}
	b = binary.AppendUvarint(b, h)
	if addr != e.end {
		b = binary.AppendVarint(b, int64(addr-e.end))
	}
	b = binary.AppendUvarint(b, size)
	if file != e.file {
		b = binary.AppendUvarint(b, file)
	}
	e.end, e.line, e.file = addr+size, line, file
	return b
}

// lineDecoder reads what lineEncoder wrote.
type lineDecoder struct {
	end  uint64
	line uint32
	file uint64
}

// next reads a line; d is not at its end.
func (ld *lineDecoder) next(d *encoded) (addr, size uint64, line uint32, file uint64) {
	if i := d.i; i+1 < len(d.b) {
		if h, sz := d.b[i], d.b[i+1]; (h|sz) < 0x80 && h&(lineGap|lineNewFile) == 0 {
			// The two bytes of most lines (lineEncoder.append).
			z := h >> lineFlagBits
			ld.line += uint32(z>>1) ^ -uint32(z&1)
			d.i += 2
			addr, size = ld.end, uint64(sz)
			ld.end += size
			return addr, size, ld.line, ld.file
		}
	}
	h := d.u()
	z := h >> lineFlagBits
	ld.line = uint32(int64(ld.line) + (int64(z>>1) ^ -int64(z&1)))
	addr = ld.end
	if h&lineGap != 0 {
		addr += uint64(d.s())
	}
	size = d.u()
	if h&lineNewFile != 0 {
		ld.file = d.u()
	}
	ld.end = addr + size
	return addr, size, ld.line, ld.file
}

// decodeFunc reads what encodeFunc wrote for a function at base into fn's
// lines and inlines, reusing their slices.
func decodeFunc(b []byte, base uint64, fn *Func) {
	d := encoded{b: b}
	// Reuse the inline records and their range slices.
	inl := fn.Inlines[:cap(fn.Inlines)]
	n := int(d.u())
	if len(inl) < n {
		inl = append(inl, make([]Inline, n-len(inl))...)
	}
	inl = inl[:n]
	for i := range inl {
		in := &inl[i]
		in.Depth, in.CallLine, in.CallFile, in.Origin = uint32(d.u()), uint32(d.u()), int64(d.u())-1, int64(d.u())
		in.Legacy = false
		rs := in.Ranges[:0]
		for range d.u() {
			rs = append(rs, Range{Address: base + uint64(d.s()), Size: d.u()})
		}
		in.Ranges = rs
	}
	fn.Inlines = inl
	fn.Lines = fn.Lines[:0]
	ld := lineDecoder{end: base}
	for d.i < len(d.b) {
		addr, size, line, file := ld.next(&d)
		fn.Lines = append(fn.Lines, Line{Address: addr, Size: size, Number: line, File: int64(file)})
	}
}

// encoded reads the varints encodeFunc writes. The records are our own, so
// it does not check them.
type encoded struct {
	b []byte
	i int
}

// u reads an unsigned varint; most are one byte, nearly all the rest
// (addresses in a function) two.
func (d *encoded) u() uint64 {
	if i := d.i; i < len(d.b) {
		if c := d.b[i]; c < 0x80 {
			d.i++
			return uint64(c)
		} else if i+1 < len(d.b) && d.b[i+1] < 0x80 {
			d.i += 2
			return uint64(c&0x7f) | uint64(d.b[i+1])<<7
		}
	}
	v, n := binary.Uvarint(d.b[d.i:])
	d.i += max(n, 1)
	return v
}

// s reads a zigzag varint.
func (d *encoded) s() int64 {
	v, n := binary.Varint(d.b[d.i:])
	d.i += max(n, 1)
	return v
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
	// byRawName maps an inlinee's name as the session reports it to its
	// origin index: one lookup instead of demangling's and origin's.
	byRawName map[string]int64
	levels    []inlineLevel

	// The provisional indexes of the files of the unit last seen
	// (unitFileIDs), -1 where not known yet.
	unitFiles *debugfiles.FileInfo
	unitIDs   []int64

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

// originOf is origin(name(raw)), remembered by raw name.
func (c *converter) originOf(raw string) int64 {
	if id, ok := c.byRawName[raw]; ok {
		return id
	}
	id := c.origin(c.name(raw))
	if c.byRawName == nil {
		c.byRawName = map[string]int64{}
	}
	c.byRawName[raw] = id
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

// encodeCompact is convert then encodeFunc for a function whose lines come
// as compact rows (its Lines are empty). The rows are encoded as they are
// read, without a Line each: this runs on the one goroutine that takes the
// functions from the session, where building the Lines cost as much as
// encoding them. fn is left holding the inlines.
func (c *converter) encodeCompact(b []byte, e entry, cf *dwarf.CompactFunction, fn *Func) []byte {
	*fn = Func{Address: e.f.Address, Size: e.f.Size, Name: e.name, Multiple: e.multiple,
		Lines: fn.Lines[:0], Inlines: fn.Inlines[:0]}
	if !c.opts.NoInlines {
		c.inlines(fn, e.f.Inlinees, 0)
	}
	b = encodeFunc(b, fn) // no lines: they are appended below
	f := cf.Function
	ids := c.unitFileIDs(cf.Files)
	le := lineEncoder{end: f.Address}
	// The session yields the rows sorted, sized and within the function;
	// they are clipped all the same, as lines does.
	for _, r := range cf.Rows {
		start, end := max(r.Address, f.Address), min(r.Address+r.Size, f.End())
		if start >= end {
			continue
		}
		var id int64
		if int(r.File) < len(ids) {
			if id = ids[r.File]; id < 0 {
				id = c.file(cf.Files[r.File])
				ids[r.File] = id
			}
		} else {
			id = c.file(debugfiles.FileInfo{})
		}
		b = le.append(b, start, end-start, r.Line, uint64(id))
	}
	return b
}

// unitFileIDs returns the provisional index of each of a unit's files, -1
// where not yet looked up, from a table kept for the unit last seen: a
// unit's functions come together, and each file of it is then converted
// once.
func (c *converter) unitFileIDs(files []debugfiles.FileInfo) []int64 {
	if len(files) == 0 {
		return nil
	}
	if &files[0] != c.unitFiles {
		c.unitFiles = &files[0]
		c.unitIDs = slices.Grow(c.unitIDs[:0], len(files))[:len(files)]
		for k := range c.unitIDs {
			c.unitIDs[k] = -1
		}
	}
	return c.unitIDs
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
// It works in the converter's per-depth scratch space, and reuses the range
// slices of fn's spare INLINE records, so converting a function allocates
// only when it is larger than every one before it.
func (c *converter) inlines(fn *Func, sibs []*debugfiles.Function, depth uint32) {
	if int(depth) >= len(c.levels) {
		c.levels = append(c.levels, make([]inlineLevel, int(depth)+1-len(c.levels))...)
	}
	lv := &c.levels[depth]
	lv.groups, lv.members = lv.groups[:0], lv.members[:0]
	for _, s := range sibs {
		if s.Size == 0 || s.End() < s.Address {
			continue
		}
		origin := c.originOf(s.Name)
		file := int64(-1)
		if s.CallFile.Name != "" {
			file = c.file(s.CallFile)
		}
		// Sibling lists are short: a scan beats a map.
		g := -1
		for i := range lv.groups {
			if x := &lv.groups[i]; x.origin == origin && x.file == file && x.line == s.CallLine {
				g = i
				break
			}
		}
		if g < 0 {
			g = len(lv.groups)
			lv.groups = append(lv.groups, inlineGroup{origin: origin, file: file, line: s.CallLine})
		}
		lv.members = append(lv.members, groupMember{f: s, group: g})
	}
	for g := range lv.groups {
		// lv is re-read after each recursion: a deeper call may grow
		// c.levels and move it.
		lv = &c.levels[depth]
		gr := lv.groups[g]
		in := Inline{Depth: depth, CallLine: gr.line, CallFile: gr.file, Origin: gr.origin}
		if n := len(fn.Inlines); n < cap(fn.Inlines) {
			in.Ranges = fn.Inlines[:n+1][n].Ranges[:0]
		}
		lv.children = lv.children[:0]
		for _, m := range lv.members {
			if m.group != g {
				continue
			}
			in.Ranges = append(in.Ranges, Range{Address: m.f.Address, Size: m.f.Size})
			lv.children = append(lv.children, m.f.Inlinees...)
		}
		fn.Inlines = append(fn.Inlines, in)
		if len(lv.children) > 0 {
			c.inlines(fn, lv.children, depth+1)
		}
	}
}

// inlineLevel is the scratch space of converter.inlines at one depth.
type inlineLevel struct {
	groups   []inlineGroup
	members  []groupMember
	children []*debugfiles.Function
}

// inlineGroup is the siblings with one origin and call site, which become
// one INLINE record.
type inlineGroup struct {
	origin, file int64
	line         uint32
}

// groupMember is a sibling and the group it belongs to.
type groupMember struct {
	f     *debugfiles.Function
	group int
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
