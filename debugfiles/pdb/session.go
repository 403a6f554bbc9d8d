package pdb

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// Session reads the functions of a PDB: one per procedure symbol of every
// module stream, with the module's C13 line rows and the tree of inline
// sites, and functions for public symbols outside every procedure. It holds
// the caches of the string table and the type streams; it is not safe for
// concurrent use.
type Session struct {
	o     *Object
	names *stringTable
	ipi   *typeStream
	tpi   *typeStream
	// pubs are the public symbols with an address, sorted by it (stably:
	// of several at one address, the address map's last is last); their
	// names are read from syms when needed: through the Object's file
	// when it has one, else from the stream, nameReads counting the
	// reads since its pages were last released.
	pubs      []pubRef
	syms      *stream
	nameReads int
	pubReader *recordReader
	// lastPub and lastName are the public publicAt found last: a
	// procedure is named by it twice, before and after its pieces are
	// built.
	lastPub  *pubRef
	lastName string
}

var _ debugfiles.DebugSession = (*Session)(nil)

// DebugSession opens a session. The string table, the IPI and the TPI
// streams are looked up here but read only as names are needed.
func (o *Object) DebugSession() (debugfiles.DebugSession, error) {
	return o.NewSession()
}

// NewSession is DebugSession with the concrete type.
func (o *Object) NewSession() (*Session, error) {
	s := &Session{o: o}
	// The session keeps references to the publics rather than the
	// Object's list: a large PDB has a public for every external
	// function, and the names alone are megabytes.
	var err error
	if s.pubs, s.syms, err = o.readPublicRefs(); err != nil {
		return nil, err
	}
	if idx, ok := o.info.NamedStreams["/names"]; ok {
		if st, err := o.m.stream(int(idx)); err == nil {
			data, err := st.all()
			if err != nil {
				return nil, fmt.Errorf("pdb: /names: %w", err)
			}
			if s.names, err = parseStringTable(data, int(idx)); err != nil {
				return nil, fmt.Errorf("pdb: /names: %w", err)
			}
		}
	}
	// The type streams are optional: without them inlinees have no names.
	if o.m.hasStream(streamIPI) {
		if s.ipi, err = openTypeStream(o.m, streamIPI, "ipi"); err != nil {
			return nil, fmt.Errorf("pdb: ipi stream: %w", err)
		}
	}
	if o.m.hasStream(streamTPI) {
		if s.tpi, err = openTypeStream(o.m, streamTPI, "tpi"); err != nil {
			return nil, fmt.Errorf("pdb: tpi stream: %w", err)
		}
	}
	return s, nil
}

// Close releases the session's caches and its copy of the publics.
func (s *Session) Close() error {
	if s.syms != nil {
		s.syms.release()
	}
	s.names, s.ipi, s.tpi, s.pubs, s.syms, s.lastPub, s.pubReader = nil, nil, nil, nil, nil, nil, nil
	return nil
}

// publicAt returns the name llvm-symbolizer gives a function starting at
// rva: the public symbol there, the last of several in the address map's
// order.
func (s *Session) publicAt(rva uint64) (string, bool) {
	i, _ := slices.BinarySearchFunc(s.pubs, rva, func(p pubRef, a uint64) int { return cmp.Compare(uint64(p.rva), a+1) })
	if i == 0 || uint64(s.pubs[i-1].rva) != rva {
		return "", false
	}
	p := &s.pubs[i-1]
	if p == s.lastPub {
		return s.lastName, true
	}
	name, ok := s.publicName(p)
	if ok {
		s.lastPub, s.lastName = p, name
	}
	return name, ok
}

// publicName reads the name of a public. Its record was decoded when the
// session started, so only a file changed under the session fails; the
// public then names nothing.
func (s *Session) publicName(p *pubRef) (string, bool) {
	if s.o.file != nil {
		if s.pubReader == nil {
			s.pubReader = &recordReader{s: s.syms, r: s.o.file}
		}
		name, err := publicName(s.syms, s.pubReader, p.rec)
		return name, err == nil
	}
	name, err := publicName(s.syms, nil, p.rec)
	if s.nameReads++; s.nameReads == pubReleaseEvery {
		s.syms.release()
		s.nameReads = 0
	}
	return name, err == nil
}

// inlineeName names an inlined function by its IPI id.
func (s *Session) inlineeName(id uint32) string {
	if s.ipi == nil {
		return ""
	}
	return s.ipi.idName(id, s.tpi)
}

// Functions yields the functions of every module in module order, each as
// soon as its procedure has been read, then the functions made of public
// symbols for code no procedure covers. A module whose stream cannot be
// decoded ends the sequence with its error, after the functions of its
// procedures read before the error.
func (s *Session) Functions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		var covered spanList
		mods := s.o.Modules()
		mb := moduleBuilder{yield: func(f *debugfiles.Function) bool {
			covered.add(span{f.Address, f.End()})
			return yield(f, nil)
		}}
		for i := range mods {
			if err := mb.build(s, i, &mods[i]); err != nil {
				yield(nil, fmt.Errorf("pdb: module %d (%s): %w", i, mods[i].Name, err))
				return
			}
			if mb.stop {
				return
			}
			// The type records a module looked up are mostly its own:
			// their pages need not stay resident, nor their names and
			// offsets in the caches, which would otherwise grow with
			// every module.
			for _, t := range []*typeStream{s.ipi, s.tpi} {
				if t != nil {
					t.s.release()
					t.forget()
				}
			}
		}
		s.publicFunctions(&covered, func(f *debugfiles.Function) bool { return yield(f, nil) })
	}
}

// AllFunctions collects Functions into a slice.
func (s *Session) AllFunctions() ([]*debugfiles.Function, error) {
	var out []*debugfiles.Function
	for f, err := range s.Functions() {
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// publicFunctions makes functions without lines of the public code
// symbols for the addresses no procedure covers: each public extends to
// the next public or the end of its section, and keeps the parts of that
// extent outside the procedures. This is where llvm-symbolizer names an
// address by the nearest public symbol before it: code without debug
// information, and the padding between functions.
func (s *Session) publicFunctions(covered *spanList, yield func(*debugfiles.Function) bool) {
	// The publics come in address order, so the first covered range
	// ending after a public's start only moves forward: base is it, and
	// each public walks on from a copy.
	base := covered.sorted()
	base.next()
	var a arena
	pubs := s.pubs
	for i := 0; i < len(pubs); i++ {
		p := &pubs[i]
		if !p.code {
			continue
		}
		// Of several publics at one address the last names it (see
		// publicAt); the extent runs to the next address.
		j := i + 1
		for j < len(pubs) && pubs[j].rva == p.rva {
			j++
		}
		if j > i+1 {
			p = &pubs[j-1]
			i = j - 1
		}
		start := uint64(p.rva)
		end, ok := s.o.sectionEnd(start)
		if !ok {
			continue
		}
		if j < len(pubs) && uint64(pubs[j].rva) < end {
			end = uint64(pubs[j].rva)
		}
		for base.ok && base.cur.end <= start {
			base.next()
		}
		// Subtract the covered ranges from [start, end).
		k := base
		cur := start
		var name string
		named := false
		for cur < end {
			if k.ok && k.cur.start <= cur {
				cur = max(cur, k.cur.end)
				k.next()
				continue
			}
			stop := end
			if k.ok && k.cur.start < stop {
				stop = k.cur.start
			}
			if !named {
				name, _ = s.publicName(p)
				named = true
			}
			f := a.fn()
			f.Address, f.Size, f.Name = cur, stop-cur, name
			if !yield(f) {
				return
			}
			cur = stop
		}
	}
}

// spanList is a list of address ranges coded compactly: a large PDB has
// a procedure for every function, and the ranges they cover are kept
// until the public symbols fill the gaps between them. Ranges that come
// in address order, as a module's procedures mostly do, are merged as
// they come; each is coded as the zigzag distance of its start from the
// previous range's and its size, as varints.
type spanList struct {
	buf      []byte
	last     span // the last range, not yet coded
	prev     uint64
	has      bool
	unsorted bool
}

// add appends a range; empty ones are dropped.
func (l *spanList) add(c span) {
	if c.end <= c.start {
		return
	}
	if l.has && c.start >= l.last.start && c.start <= l.last.end {
		l.last.end = max(l.last.end, c.end)
		return
	}
	if l.has {
		if c.start < l.last.start {
			l.unsorted = true
		}
		l.put(l.last)
	}
	l.last, l.has = c, true
}

func (l *spanList) put(c span) {
	l.buf = binary.AppendVarint(l.buf, int64(c.start-l.prev))
	l.buf = binary.AppendUvarint(l.buf, c.end-c.start)
	l.prev = c.start
}

// sorted returns a reader of the ranges sorted by start, overlapping and
// touching ones merged, positioned before the first. Ranges that did not
// come in order are sorted and coded again first.
func (l *spanList) sorted() spanReader {
	if l.has {
		l.put(l.last)
		l.has = false
	}
	if l.unsorted {
		var all []span
		for r := (spanReader{buf: l.buf}); r.next(); {
			all = append(all, r.cur)
		}
		slices.SortFunc(all, func(a, b span) int { return cmp.Compare(a.start, b.start) })
		*l = spanList{}
		for _, c := range all {
			l.add(c)
		}
		if l.has {
			l.put(l.last)
			l.has = false
		}
	}
	return spanReader{buf: l.buf}
}

// spanReader decodes a spanList; a copy reads on independently.
type spanReader struct {
	buf  []byte
	prev uint64
	cur  span
	ok   bool
}

// next decodes the next range into cur; false (and ok false) at the end.
func (r *spanReader) next() bool {
	d, n := binary.Varint(r.buf)
	if n <= 0 {
		r.ok = false
		return false
	}
	size, m := binary.Uvarint(r.buf[n:])
	if m <= 0 {
		r.ok = false
		return false
	}
	r.buf = r.buf[n+m:]
	r.prev += uint64(d)
	r.cur, r.ok = span{r.prev, r.prev + size}, true
	return true
}

// sectionEnd returns the end of the image section containing rva.
func (o *Object) sectionEnd(rva uint64) (uint64, bool) {
	for i := range o.sections {
		sec := &o.sections[i]
		start := uint64(sec.VirtualAddress)
		end := start + uint64(sec.VirtualSize)
		if sec.VirtualSize == 0 {
			end = start + uint64(sec.SizeOfRawData)
		}
		if rva >= start && rva < end {
			return end, true
		}
	}
	return 0, false
}
