package pdb

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// c13Signature starts the symbol part of a module stream.
const c13Signature = 4

// releaseStep is how many bytes of a module's symbols are walked between
// releases of their pages.
const releaseStep = 256 << 10

// maxInlineDepth bounds the nesting of inline sites a module may declare;
// real chains are far shorter.
const maxInlineDepth = 256

// moduleBuilder turns one module stream into functions. It is reused from
// module to module to keep its buffers.
type moduleBuilder struct {
	s     *Session
	arena arena
	// budget bounds the inline functions one procedure may produce, in
	// proportion to its line rows and annotations: inline sites that
	// overlap each other (which valid data never has) could otherwise
	// multiply into pieces quadratically.
	budget int
	c      *c13
	// st is the module stream being read; released up to the offset
	// released, as the walk goes.
	st       *stream
	released uint32
	files    map[uint32]string
	sites    []siteRec
	rows     []lineRow // arena of the rows of inline sites
	// yield receives each function as soon as its procedure has been
	// read, so that a consumer flattening functions one at a time holds
	// one procedure's tree rather than a module's; stop is set once it
	// returned false.
	yield func(*debugfiles.Function) bool
	stop  bool
}

// procRec is a procedure whose symbols are being walked.
type procRec struct {
	// name aliases the module stream; it is copied only when no public
	// symbol names the function.
	name      []byte
	seg       uint16
	off, size uint32
	end       uint32
	// seps are the S_SEPCODE blocks of the procedure: code the compiler
	// moved away from it, named like it.
	seps []sepCode
}

// sepCode is a separated code block of a procedure.
type sepCode struct {
	seg       uint16
	off, size uint32
}

// siteRec is an S_INLINESITE of the procedure being walked.
type siteRec struct {
	parent      int32 // index in sites, -1 for the procedure
	firstChild  int32
	lastChild   int32
	nextSibling int32
	end         uint32
	inlinee     uint32
	ann         []byte
}

// build decodes module m of session s, handing its functions to b.yield.
func (b *moduleBuilder) build(s *Session, index int, m *Module) error {
	b.s = s
	if m.Stream < 0 {
		return nil
	}
	st, err := s.o.m.stream(m.Stream)
	if err != nil {
		return nil
	}
	defer st.release()
	symEnd := uint64(m.SymBytes)
	c13Start := symEnd + uint64(m.C11Bytes)
	c13End := c13Start + uint64(m.C13Bytes)
	if c13End > uint64(st.size) {
		return &FormatError{Where: "module", Stream: m.Stream, Msg: fmt.Sprintf("%d bytes of symbols and lines in a stream of %d bytes", c13End, st.size)}
	}
	where := fmt.Sprintf("module %d", index)
	if b.c == nil {
		b.c = &c13{}
	}
	b.c.reset()
	if m.C13Bytes > 0 {
		data, err := st.read(uint32(c13Start), m.C13Bytes)
		if err != nil {
			return err
		}
		if err := b.c.parse(data, where, m.Stream, int64(c13Start), &s.o.am); err != nil {
			return err
		}
		// The line rows are decoded: the pages of a large module's
		// lines need not stay resident while its symbols are walked
		// (the file checksums, looked up later, are read back).
		st.releaseRange(uint32(c13Start), uint32(c13End))
	}
	clear(b.files)
	if b.files == nil {
		b.files = map[uint32]string{}
	}
	if symEnd < 4 {
		return nil
	}
	syms, err := st.read(0, uint32(symEnd))
	if err != nil {
		return err
	}
	if sig := binary.LittleEndian.Uint32(syms); sig != c13Signature {
		// C7 and C11 symbols (toolsets before VC 7) use other record
		// kinds; such a module contributes no functions.
		return nil
	}
	b.st, b.released = st, 0
	defer func() { b.st = nil }()
	return b.walk(syms, where, m.Stream)
}

// walk visits the symbol records of a module. Scopes nest by the End
// offsets their opening records carry (the offset of the record closing
// them), so blocks and other scopes this reader does not track need no
// handling; an End that does not lie after its record and inside the
// enclosing scope is taken to close with the enclosing scope.
func (b *moduleBuilder) walk(syms []byte, where string, stream int) error {
	var proc *procRec
	var cur procRec
	var stack []int32 // open inline sites
	b.sites = b.sites[:0]
	b.rows = b.rows[:0]
	symEnd := uint32(len(syms))
	off := uint32(4)
	for off+4 <= symEnd && !b.stop {
		n := uint32(binary.LittleEndian.Uint16(syms[off:]))
		kind := binary.LittleEndian.Uint16(syms[off+2:])
		next := off + 2 + n
		if n < 2 || next > symEnd {
			return &FormatError{Where: where, Stream: stream, Offset: int64(off), Msg: fmt.Sprintf("symbol record of %d bytes with %d left", n, symEnd-off-2)}
		}
		for len(stack) > 0 && off > b.sites[stack[len(stack)-1]].end {
			stack = stack[:len(stack)-1]
		}
		if proc != nil && off > proc.end {
			b.finishProc(proc)
			proc, stack = nil, stack[:0]
		}
		body := syms[off+4 : next]
		d := newDecoder(where, stream, int64(off+4), body)
		switch kind {
		case sGProc32, sLProc32, sGProc32ID, sLProc32ID, sLProc32DPC, sLProc32DPCID, sGProc32ST, sLProc32ST:
			if proc != nil {
				b.finishProc(proc)
				stack = stack[:0]
			}
			// The records before this procedure are done with: their
			// pages go, every so often, so that a large module is not
			// all resident by the end of its walk.
			if b.st != nil && off-b.released >= releaseStep {
				b.st.releaseRange(b.released, off)
				b.released = off
			}
			cur = procRec{seps: cur.seps[:0]}
			b.sites = b.sites[:0]
			d.u32() // parent
			cur.end = d.u32()
			d.u32() // next
			cur.size = d.u32()
			d.u32() // debug start
			d.u32() // debug end
			d.u32() // type
			cur.off = d.u32()
			cur.seg = d.u16()
			d.u8() // flags
			if kind == sGProc32ST || kind == sLProc32ST {
				cur.name = d.pstring()
			} else {
				cur.name = d.cstring()
			}
			if d.err != nil {
				return d.err
			}
			if cur.end <= off || cur.end >= symEnd {
				cur.end = symEnd
			}
			proc = &cur
		case sInlineSite, sInlineSite2:
			if proc == nil {
				break
			}
			if len(stack) >= maxInlineDepth {
				break
			}
			d.u32() // parent
			end := d.u32()
			inlinee := d.u32()
			if kind == sInlineSite2 {
				d.u32() // invocations
			}
			if d.err != nil {
				return d.err
			}
			limit := proc.end
			parent := int32(-1)
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
				limit = b.sites[parent].end
			}
			if end <= off || end > limit {
				end = limit
			}
			idx := int32(len(b.sites))
			b.sites = append(b.sites, siteRec{parent: parent, firstChild: -1, lastChild: -1, nextSibling: -1, end: end, inlinee: inlinee, ann: body[d.pos:]})
			if parent >= 0 {
				p := &b.sites[parent]
				if p.lastChild >= 0 {
					b.sites[p.lastChild].nextSibling = idx
				} else {
					p.firstChild = idx
				}
				p.lastChild = idx
			}
			stack = append(stack, idx)
		case sInlineSiteEnd:
			// The innermost site ends here: with valid End fields the
			// loop above would close it at the next record anyway; this
			// also closes sites whose End was left 0.
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case sSepCode:
			if proc == nil {
				break
			}
			d.u32() // parent
			d.u32() // end
			size := d.u32()
			d.u32() // flags
			o := d.u32()
			d.u32() // parent offset
			seg := d.u16()
			if d.err == nil {
				proc.seps = append(proc.seps, sepCode{seg: seg, off: o, size: size})
			}
		case sThunk32, sThunk32ST:
			if proc != nil {
				break
			}
			d.u32() // parent
			d.u32() // end
			d.u32() // next
			o := d.u32()
			seg := d.u16()
			size := d.u16()
			d.u8() // ordinal
			var name string
			if kind == sThunk32ST {
				name = string(d.pstring())
			} else {
				name = string(d.cstring())
			}
			if d.err != nil {
				return d.err
			}
			if start, ok := b.s.o.am.srcRVA(seg, o); ok && size > 0 {
				f := b.arena.fn()
				f.Address, f.Size, f.Name = uint64(start), uint64(size), name
				b.emit(f)
			}
		}
		off = next
	}
	if proc != nil && !b.stop {
		b.finishProc(proc)
	}
	return nil
}

// finishProc builds the function of a procedure whose symbols have all
// been read: its own line rows, then its inline sites, level by level.
func (b *moduleBuilder) finishProc(p *procRec) {
	sites := b.sites
	b.rows = b.rows[:0]
	am := &b.s.o.am
	start, ok := am.srcRVA(p.seg, p.off)
	if !ok {
		return
	}
	name := ""
	if n, ok := b.s.publicAt(uint64(start)); ok && am.omap == nil {
		name = n // emit would replace the procedure's own name
	} else {
		name = string(p.name)
	}
	main := b.arena.fn()
	main.Address, main.Size, main.Name = uint64(start), uint64(p.size), name
	pieces := []*debugfiles.Function{main}
	chunks := []uint64{uint64(start)}
	for _, sc := range p.seps {
		a, ok := am.srcRVA(sc.seg, sc.off)
		if !ok {
			chunks = append(chunks, ^uint64(0))
			continue
		}
		chunks = append(chunks, uint64(a))
		if sc.size > 0 {
			f := b.arena.fn()
			f.Address, f.Size, f.Name = uint64(a), uint64(sc.size), name
			pieces = append(pieces, f)
		}
	}
	slices.SortStableFunc(pieces, func(x, y *debugfiles.Function) int { return cmp.Compare(x.Address, y.Address) })
	var rows []lineRow
	for _, f := range pieces {
		r := b.c.rowsIn(f.Address, f.End())
		if len(pieces) == 1 {
			rows = r
		} else {
			rows = append(rows, r...)
		}
		f.Lines = b.lines(r, f.Address, f.End())
	}
	b.budget = 1024 + 4*len(rows)
	for i := range sites {
		b.budget += 4 * len(sites[i].ann)
	}
	for i := range sites {
		if sites[i].parent == -1 {
			b.buildSite(sites, int32(i), pieces, rows, chunks, 0)
		}
	}
	for _, f := range pieces {
		b.emit(f)
	}
}

// emit names a top-level function as llvm-symbolizer does — by the
// public symbol at its address when there is one, a decorated name — moves
// it to final addresses and adds it to the output.
func (b *moduleBuilder) emit(f *debugfiles.Function) {
	am := &b.s.o.am
	if am.omap == nil {
		if n, ok := b.s.publicAt(f.Address); ok {
			f.Name = n
		}
		b.put(f)
		return
	}
	if r, ok := am.translate(uint32(f.Address)); ok {
		if n, ok := b.s.publicAt(uint64(r)); ok {
			f.Name = n
		}
	}
	for _, g := range am.translateFunction(f) {
		b.put(g)
	}
}

// put hands a finished function to the consumer.
func (b *moduleBuilder) put(f *debugfiles.Function) {
	if !b.stop && !b.yield(f) {
		b.stop = true
	}
}

// lines converts the rows of [start, end) to line infos, clipped to the
// range; empty rows (several rows at one address) are dropped, so the last
// of them covers the address.
func (b *moduleBuilder) lines(rows []lineRow, start, end uint64) []debugfiles.LineInfo {
	// Rows are sorted and do not overlap: skip to the first ending after
	// start, stop at the first starting at or after end.
	i, _ := slices.BinarySearchFunc(rows, start, func(r lineRow, a uint64) int { return cmp.Compare(r.end, a+1) })
	j := i
	for j < len(rows) && rows[j].start < end {
		j++
	}
	rows = rows[i:j]
	n := 0
	for _, r := range rows {
		if min(r.end, end) > max(r.start, start) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := b.arena.lineSlice(n)
	for _, r := range rows {
		s, e := max(r.start, start), min(r.end, end)
		if e <= s {
			continue
		}
		out = append(out, debugfiles.LineInfo{Address: s, Size: e - s, File: b.file(r.file), Line: r.line})
	}
	return out
}

// file resolves a file checksum offset of the module to its name.
func (b *moduleBuilder) file(off uint32) debugfiles.FileInfo {
	if name, ok := b.files[off]; ok {
		return debugfiles.FileInfo{Name: name}
	}
	name := ""
	if no, ok := b.c.fileNameOffset(off); ok {
		name = b.s.names.get(no)
	}
	b.files[off] = name
	return debugfiles.FileInfo{Name: name}
}

// buildSite builds the functions of inline site si (an index in sites)
// under the functions of its parent: its line rows come from its binary
// annotations; each range of them inside a parent function becomes one
// function per stretch of the parent's code on one source line, which is
// the line the inlined call was made from (llvm-symbolizer reports the
// parent's line at the address for the caller's frame). The site's own
// inline sites are built under the new functions.
func (b *moduleBuilder) buildSite(sites []siteRec, si int32, parents []*debugfiles.Function, parentRows []lineRow, chunks []uint64, depth int) {
	if depth >= maxInlineDepth || len(parents) == 0 {
		return
	}
	st := &sites[si]
	src, ok := b.c.inlinees[st.inlinee]
	if !ok {
		src = inlineeSource{file: ^uint32(0)}
	}
	first := len(b.rows)
	b.rows = inlineRows(st.ann, chunks, src.line, src.file, b.rows)
	rows := b.rows[first:len(b.rows):len(b.rows)]
	if !slices.IsSortedFunc(rows, cmpRow) {
		slices.SortStableFunc(rows, cmpRow)
	}
	for i := 0; i+1 < len(rows); i++ {
		rows[i].end = min(rows[i].end, rows[i+1].start)
	}
	name := b.s.inlineeName(st.inlinee)
	var pieces []*debugfiles.Function
	for i := 0; i < len(rows); {
		// A range of contiguous rows.
		lo, hi := rows[i].start, rows[i].end
		j := i + 1
		for j < len(rows) && rows[j].start == hi {
			hi = rows[j].end
			j++
		}
		rng := rows[i:j]
		i = j
		if hi <= lo {
			continue
		}
		k, _ := slices.BinarySearchFunc(parents, lo, func(f *debugfiles.Function, a uint64) int { return cmp.Compare(f.End(), a+1) })
		for ; k < len(parents) && parents[k].Address < hi; k++ {
			p := parents[k]
			a, e := max(lo, p.Address), min(hi, p.End())
			for a < e && b.budget > 0 {
				b.budget--
				stop, file, line := callSpan(parentRows, a, e)
				f := b.arena.fn()
				f.Address, f.Size, f.Name = a, stop-a, name
				f.Lines, f.CallLine = b.lines(rng, a, stop), line
				if file != ^uint32(0) {
					f.CallFile = b.file(file)
				}
				p.Inlinees = append(p.Inlinees, f)
				pieces = append(pieces, f)
				a = stop
			}
		}
	}
	for c := st.firstChild; c >= 0; c = sites[c].nextSibling {
		b.buildSite(sites, c, pieces, rows, chunks, depth+1)
	}
}

// callSpan finds the parent's row at a and returns the end of the stretch
// from a (before e) on that row's file and line, and the file and line;
// where no row covers a, the stretch runs to the next row and has line 0
// and file ^0.
func callSpan(rows []lineRow, a, e uint64) (stop uint64, file, line uint32) {
	k, _ := slices.BinarySearchFunc(rows, a, func(r lineRow, x uint64) int { return cmp.Compare(r.start, x+1) })
	k-- // last row starting at or before a
	if k < 0 || a >= rows[k].end {
		stop = e
		if k+1 < len(rows) && rows[k+1].start < e {
			stop = rows[k+1].start
		}
		return stop, ^uint32(0), 0
	}
	r := rows[k]
	stop = min(r.end, e)
	for k+1 < len(rows) && stop < e && rows[k+1].start == stop && rows[k+1].file == r.file && rows[k+1].line == r.line {
		k++
		stop = min(rows[k].end, e)
	}
	return stop, r.file, r.line
}
