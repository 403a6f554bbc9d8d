package pdb

import (
	"cmp"
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
	// of several at one address, the address map's last is last).
	pubs []pubEntry
}

// pubEntry is what a session keeps of a public symbol.
type pubEntry struct {
	name string
	rva  uint32
	code bool
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
	// The session keeps a compact copy of the publics rather than the
	// Object's cached list: a large PDB has a public for every external
	// function.
	pubs, err := o.publicsOnce()
	if err != nil {
		return nil, err
	}
	s.pubs = make([]pubEntry, 0, len(pubs))
	for i := range pubs {
		if p := &pubs[i]; p.HasRVA && p.RVA <= 0xffffffff {
			s.pubs = append(s.pubs, pubEntry{name: p.Name, rva: uint32(p.RVA), code: o.isCode(p)})
		}
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
	s.names, s.ipi, s.tpi, s.pubs = nil, nil, nil, nil
	return nil
}

// publicAt returns the name llvm-symbolizer gives a function starting at
// rva: the public symbol there, the last of several in the address map's
// order.
func (s *Session) publicAt(rva uint64) (string, bool) {
	i, _ := slices.BinarySearchFunc(s.pubs, rva, func(p pubEntry, a uint64) int { return cmp.Compare(uint64(p.rva), a+1) })
	if i == 0 || uint64(s.pubs[i-1].rva) != rva {
		return "", false
	}
	return s.pubs[i-1].name, true
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
		var covered []span
		mods := s.o.Modules()
		mb := moduleBuilder{yield: func(f *debugfiles.Function) bool {
			covered = append(covered, span{f.Address, f.End()})
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
		s.publicFunctions(covered, func(f *debugfiles.Function) bool { return yield(f, nil) })
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
func (s *Session) publicFunctions(covered []span, yield func(*debugfiles.Function) bool) {
	slices.SortFunc(covered, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	merged := covered[:0]
	for _, c := range covered {
		if c.end <= c.start {
			continue
		}
		if n := len(merged); n > 0 && c.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, c.end)
			continue
		}
		merged = append(merged, c)
	}
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
		// Subtract the covered ranges from [start, end).
		k, _ := slices.BinarySearchFunc(merged, start, func(c span, a uint64) int { return cmp.Compare(c.end, a+1) })
		cur := start
		for cur < end {
			if k < len(merged) && merged[k].start <= cur {
				cur = max(cur, merged[k].end)
				k++
				continue
			}
			stop := end
			if k < len(merged) && merged[k].start < stop {
				stop = merged[k].start
			}
			f := a.fn()
			f.Address, f.Size, f.Name = cur, stop-cur, p.name
			if !yield(f) {
				return
			}
			cur = stop
		}
	}
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
