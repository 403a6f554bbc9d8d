package dwarf

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/debugfiles"
)

// Attributes debug/dwarf has no names for.
const (
	stdAttrMIPSLinkageName = dwarf.Attr(atMIPSLinkageName)
	stdAttrGNUDWOName      = dwarf.Attr(atGNUDWOName)
)

// buildStd records the DIEs of s.data through debug/dwarf's Reader and
// emits functions the same way the own decoder's walk does.
//
// debug/dwarf documents that it is not hardened against malformed input
// and may panic on it. A symbolicator must not go down for one bad upload,
// so this walk, which only wraps debug/dwarf, turns such a panic into an
// error. It is the only recover in the package; the own decoder
// (NewSessionFromSections) validates instead.
func (s *Session) buildStd() (fns []*debugfiles.Function, err error) {
	defer func() {
		if r := recover(); r != nil {
			fns, err = nil, fmt.Errorf("dwarf: debug/dwarf failed on malformed data: %v", r)
		}
	}()
	d := s.data
	bl := newBuilder(s.opts, 0)
	// The input size is unknown behind a *dwarf.Data; the budget grows
	// with what the walk sees instead.
	bl.bud.left = 1 << 40
	bl.sources = append(bl.sources, &source{})

	var (
		u      *unitInfo
		ui     int32
		stack  []level
		cur    = level{scope: -1, code: -1}
		seen   int
		hasRes = s.opts.ResolveDWO != nil || s.opts.ResolveDWOSections != nil
	)
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("dwarf: %w", err)
		}
		if e == nil {
			break
		}
		seen++
		if e.Tag == 0 {
			if len(stack) > 0 {
				cur = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
			continue
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit, dwarf.TagSkeletonUnit:
			stack, cur = stack[:0], level{scope: -1, code: -1}
			u, err = s.stdUnit(bl, e, uint8(r.AddressSize()))
			if err != nil {
				return nil, err
			}
			if u.skeleton && hasRes {
				return nil, fmt.Errorf("dwarf: unit at %#x: %w", e.Offset, errSplitNeedsSections)
			}
			ui = int32(len(bl.units))
			bl.units = append(bl.units, u)
			if e.Children {
				stack = append(stack, cur)
			}
			continue
		case dwarf.TagTypeUnit:
			r.SkipChildren()
			continue
		}
		if u == nil {
			return nil, errors.New("dwarf: DIE outside a unit")
		}
		if cur.skip || !interestingTag(uint32(e.Tag)) {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		next := cur
		switch e.Tag {
		case dwarf.TagNamespace, dwarf.TagClassType, dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagInterfaceType:
			next.scope = bl.addStdEntry(e, cur.scope, ui)
		case dwarf.TagSubprogram:
			ei := bl.addStdEntry(e, cur.scope, ui)
			next.scope, next.code = ei, -1
			if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); !decl {
				r0, r1, err := bl.stdRanges(d, e, u)
				if err != nil {
					return nil, err
				}
				if r1 > r0 {
					next.code = int32(len(bl.nodes))
					bl.nodes = append(bl.nodes, node{entry: ei, parent: -1, unit: ui, rng0: r0, rng1: r1})
				}
			}
		case dwarf.TagInlinedSubroutine:
			if cur.code < 0 {
				next.skip = true
				break
			}
			origin, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			if !ok {
				break
			}
			r0, r1, err := bl.stdRanges(d, e, u)
			if err != nil {
				return nil, err
			}
			if r1 > r0 {
				callFile, _ := e.Val(dwarf.AttrCallFile).(int64)
				callLine, _ := e.Val(dwarf.AttrCallLine).(int64)
				next.code = int32(len(bl.nodes))
				bl.nodes = append(bl.nodes, node{
					entry: -1, origin: uint64(origin), hasOrig: true, parent: cur.code, unit: ui,
					callFile: clampU32(callFile), callLine: clampU32(callLine), rng0: r0, rng1: r1,
				})
			}
		}
		if e.Children {
			if len(stack) >= maxDepth {
				return nil, errors.New("dwarf: DIEs nested too deeply")
			}
			stack = append(stack, cur)
			cur = next
		}
	}
	bl.sources[0].ent1 = int32(len(bl.entries))

	rows := 0
	for _, u := range bl.units {
		if u.lines != nil {
			rows += len(u.lines.rows)
		}
	}
	bl.bud.left = budgetPerByte*int64(rows+seen) + budgetBase
	fns, err = bl.emit()
	if err != nil {
		return nil, fmt.Errorf("dwarf: %w", err)
	}
	return fns, nil
}

func clampU32(v int64) uint32 {
	return uint32(min(max(v, 0), 1<<32-1))
}

// stdUnit sets up a unit from its unit DIE and reads its line table.
func (s *Session) stdUnit(bl *builder, cu *dwarf.Entry, addrSize uint8) (*unitInfo, error) {
	u := &unitInfo{off: uint64(cu.Offset), addrSize: addrSize, cu0: -1, cu1: -1}
	u.compDir, _ = cu.Val(dwarf.AttrCompDir).(string)
	_, hasDWO := cu.Val(dwarf.AttrDwoName).(string)
	_, hasGNUDWO := cu.Val(stdAttrGNUDWOName).(string)
	u.skeleton = cu.Tag == dwarf.TagSkeletonUnit || hasDWO || hasGNUDWO
	r0, r1, err := bl.stdRanges(s.data, cu, u)
	if err != nil {
		return nil, err
	}
	u.cu0, u.cu1 = r0, r1

	lr, err := s.data.LineReader(cu)
	if err != nil {
		return nil, fmt.Errorf("dwarf: unit at %#x: line table: %w", cu.Offset, err)
	}
	if lr == nil {
		return u, nil
	}
	var (
		le     dwarf.LineEntry
		rows   []lineRow
		seqs   []seqSpan
		start  int
		sorted = true
		index  = map[*dwarf.LineFile]uint32{}
	)
	for {
		err := lr.Next(&le)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dwarf: unit at %#x: line table: %w", cu.Offset, err)
		}
		row := lineRow{Address: le.Address, Line: clampU32(int64(le.Line))}
		if le.EndSequence {
			row.File = noFile
		} else if le.File != nil {
			i, ok := index[le.File]
			if !ok {
				// DW_LNE_define_file may have grown the table.
				for k, f := range lr.Files() {
					index[f] = uint32(k)
				}
				i = index[le.File]
			}
			row.File = i
		}
		// Collapse and check order as parseLineTable does (see its emit).
		if n := len(rows); n > start {
			switch prev := rows[n-1].Address; {
			case prev == row.Address && !le.EndSequence:
				rows[n-1] = row
				continue
			case prev > row.Address:
				sorted = false
			}
		}
		rows = append(rows, row)
		if le.EndSequence {
			seqs = append(seqs, seqSpan{start: start, end: len(rows), sorted: sorted})
			start, sorted = len(rows), true
		}
	}
	u.lines = &lineTable{rows: sortRows(rows, seqs)}
	u.hasStmt = true
	files := lr.Files()
	u.files = make([]debugfiles.FileInfo, len(files))
	for i, f := range files {
		if f == nil || f.Name == "" {
			continue
		}
		// debug/dwarf has joined the directories already (cleaning the
		// path as it does); only relative results still need the
		// compilation directory.
		u.files[i] = debugfiles.FileInfo{Name: f.Name}
		if !isAbsPath(f.Name) {
			u.files[i].CompDir = u.compDir
		}
	}
	return u, nil
}

func (bl *builder) addStdEntry(e *dwarf.Entry, parent, unit int32) int32 {
	ent := entry{off: uint64(e.Offset), parent: parent, unit: unit, tag: uint16(e.Tag)}
	if n, ok := e.Val(dwarf.AttrName).(string); ok {
		ent.name = bl.addStr(n)
	}
	if n, ok := e.Val(dwarf.AttrLinkageName).(string); ok {
		ent.link = bl.addStr(n)
	} else if n, ok := e.Val(stdAttrMIPSLinkageName).(string); ok {
		ent.link = bl.addStr(n)
	}
	if o, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
		ent.spec = uint64(o)
		ent.flags |= entHasSpec
	}
	if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
		ent.origin = uint64(o)
		ent.flags |= entHasOrigin
	}
	bl.entries = append(bl.entries, ent)
	return int32(len(bl.entries) - 1)
}

func (bl *builder) addStr(s string) strRef {
	bl.strs = append(bl.strs, s)
	return strRef{v: uint64(len(bl.strs) - 1), kind: strTable}
}

// stdRanges records the ranges of e. Low/high pc are read from the entry
// directly; debug/dwarf's Ranges, which decodes the unit DIE again on every
// call, is used only for DW_AT_ranges.
func (bl *builder) stdRanges(d *dwarf.Data, e *dwarf.Entry, u *unitInfo) (int32, int32, error) {
	start := len(bl.ranges)
	low, lowOK := e.Val(dwarf.AttrLowpc).(uint64)
	hf := e.AttrField(dwarf.AttrHighpc)
	switch {
	case lowOK && hf != nil:
		switch v := hf.Val.(type) {
		case uint64:
			bl.ranges = append(bl.ranges, addrRange{low, v})
		case int64:
			bl.ranges = append(bl.ranges, addrRange{low, low + uint64(v)})
		}
	case e.AttrField(dwarf.AttrRanges) != nil:
		rs, err := d.Ranges(e)
		if err != nil {
			return 0, 0, fmt.Errorf("dwarf: DIE at %#x: ranges: %w", e.Offset, err)
		}
		for _, r := range rs {
			bl.ranges = append(bl.ranges, addrRange{r[0], r[1]})
		}
	}
	if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagSkeletonUnit || e.Tag == dwarf.TagPartialUnit {
		u.lowPC = low
	}
	r0, r1 := bl.addRanges(start, u.addrSize)
	return r0, r1, nil
}
