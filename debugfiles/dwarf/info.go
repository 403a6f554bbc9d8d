package dwarf

import (
	"errors"
	"fmt"
)

// unitHeader is a unit header of .debug_info.
type unitHeader struct {
	off       uint64 // header offset
	dieOff    uint64 // first DIE
	end       uint64 // next unit
	version   uint16
	utype     uint8
	addrSize  uint8
	is64      bool
	abbrevOff uint64
	id        uint64 // DWO id of DWARF 5 skeleton and split units
}

// sniffBigEndian guesses the byte order from the first unit's version
// field, a small number whose zero byte comes first in big-endian data.
func sniffBigEndian(info []byte) (bool, error) {
	off := 4
	if len(info) >= 4 && info[0] == 0xff && info[1] == 0xff && info[2] == 0xff && info[3] == 0xff {
		off = 12
	}
	if len(info) < off+2 {
		return false, &FormatError{Section: ".debug_info", Offset: 0, Msg: "too short"}
	}
	x, y := info[off], info[off+1]
	switch {
	case x == 0 && y != 0:
		return true, nil
	case y == 0 && x != 0:
		return false, nil
	}
	return false, &FormatError{Section: ".debug_info", Offset: uint64(off), Msg: fmt.Sprintf("cannot determine byte order from version bytes %#x %#x", x, y)}
}

// unitHeaders reads every unit header of an .debug_info section.
func unitHeaders(info []byte, be bool) ([]unitHeader, error) {
	var out []unitHeader
	b := makeBuf(".debug_info", info, 0, be)
	for b.left() > 0 {
		var h unitHeader
		h.off = b.off()
		length, is64 := b.unitLength()
		ub := b.sub(".debug_info", length)
		if b.err != nil {
			return out, b.err
		}
		h.end = b.off()
		h.is64 = is64
		h.version = ub.u16()
		if ub.err == nil && (h.version < 2 || h.version > 5) {
			return out, &FormatError{Section: ".debug_info", Offset: h.off, Msg: fmt.Sprintf("unsupported DWARF version %d", h.version)}
		}
		if h.version >= 5 {
			h.utype = ub.u8()
			h.addrSize = ub.u8()
			h.abbrevOff = ub.offset(is64)
			switch h.utype {
			case utSkeleton, utSplitCompile:
				h.id = ub.u64()
			case utType, utSplitType:
				ub.u64()        // type signature
				ub.offset(is64) // type offset
			case utCompile, utPartial:
			default:
				return out, &FormatError{Section: ".debug_info", Offset: h.off, Msg: fmt.Sprintf("unknown unit type %#x", h.utype)}
			}
		} else {
			h.utype = utCompile
			h.abbrevOff = ub.offset(is64)
			h.addrSize = ub.u8()
		}
		if ub.err != nil {
			return out, ub.err
		}
		if h.addrSize != 1 && h.addrSize != 2 && h.addrSize != 4 && h.addrSize != 8 {
			return out, &FormatError{Section: ".debug_info", Offset: h.off, Msg: fmt.Sprintf("unsupported address size %d", h.addrSize)}
		}
		h.dieOff = ub.off()
		out = append(out, h)
	}
	return out, nil
}

// attribute value classes as the walk interprets them.
const (
	clsNone   = iota // blocks, expressions, values from other files
	clsAddr          // an address
	clsAddrx         // an index into .debug_addr
	clsConst         // a constant
	clsRef           // a DIE offset in this source
	clsStr           // a string (strRef kind in val.str)
	clsSecOff        // a section offset
	clsIndex         // a rnglistx or loclistx index
)

type value struct {
	v   uint64
	cls uint8
	str strKind
}

// readValue decodes one attribute value of the given form.
func readValue(b *buf, form uint32, implicit int64, h *unitHeader, depth int) value {
	switch form {
	case formAddr:
		return value{v: b.addr(h.addrSize), cls: clsAddr}
	case formAddrx, formGNUAddrIndex:
		return value{v: b.uleb(), cls: clsAddrx}
	case formAddrx1:
		return value{v: uint64(b.u8()), cls: clsAddrx}
	case formAddrx2:
		return value{v: uint64(b.u16()), cls: clsAddrx}
	case formAddrx3:
		return value{v: uint64(b.u24()), cls: clsAddrx}
	case formAddrx4:
		return value{v: uint64(b.u32()), cls: clsAddrx}
	case formData1, formFlag:
		return value{v: uint64(b.u8()), cls: clsConst}
	case formData2:
		return value{v: uint64(b.u16()), cls: clsConst}
	case formData4:
		return value{v: uint64(b.u32()), cls: clsConst}
	case formData8:
		return value{v: b.u64(), cls: clsConst}
	case formSdata:
		return value{v: uint64(b.sleb()), cls: clsConst}
	case formUdata:
		return value{v: b.uleb(), cls: clsConst}
	case formImplicitConst:
		return value{v: uint64(implicit), cls: clsConst}
	case formFlagPresent:
		return value{v: 1, cls: clsConst}
	case formData16:
		b.skip(16)
	case formBlock1:
		b.skip(uint64(b.u8()))
	case formBlock2:
		b.skip(uint64(b.u16()))
	case formBlock4:
		b.skip(uint64(b.u32()))
	case formBlock, formExprloc:
		b.skip(b.uleb())
	case formString:
		off := b.off()
		b.cstr()
		return value{v: off, cls: clsStr, str: strInline}
	case formStrp:
		return value{v: b.offset(h.is64), cls: clsStr, str: strStrp}
	case formLineStrp:
		return value{v: b.offset(h.is64), cls: clsStr, str: strLineStrp}
	case formStrx, formGNUStrIndex:
		return value{v: b.uleb(), cls: clsStr, str: strStrx}
	case formStrx1:
		return value{v: uint64(b.u8()), cls: clsStr, str: strStrx}
	case formStrx2:
		return value{v: uint64(b.u16()), cls: clsStr, str: strStrx}
	case formStrx3:
		return value{v: uint64(b.u24()), cls: clsStr, str: strStrx}
	case formStrx4:
		return value{v: uint64(b.u32()), cls: clsStr, str: strStrx}
	case formStrpSup, formGNUStrpAlt, formGNURefAlt:
		b.offset(h.is64) // in a supplementary file we do not have
	case formRefAddr:
		if h.version <= 2 {
			return value{v: b.addr(h.addrSize), cls: clsRef}
		}
		return value{v: b.offset(h.is64), cls: clsRef}
	case formRef1:
		return value{v: h.off + uint64(b.u8()), cls: clsRef}
	case formRef2:
		return value{v: h.off + uint64(b.u16()), cls: clsRef}
	case formRef4:
		return value{v: h.off + uint64(b.u32()), cls: clsRef}
	case formRef8:
		return value{v: h.off + b.u64(), cls: clsRef}
	case formRefUdata:
		return value{v: h.off + b.uleb(), cls: clsRef}
	case formRefSig8, formRefSup8:
		b.u64() // type units and supplementary files hold no code
	case formRefSup4:
		b.u32()
	case formSecOffset:
		return value{v: b.offset(h.is64), cls: clsSecOff}
	case formLoclistx, formRnglistx:
		return value{v: b.uleb(), cls: clsIndex}
	case formIndirect:
		f := b.uleb()
		if depth > 4 || f == formIndirect || f > 0xffff {
			b.fail("bad DW_FORM_indirect")
			return value{}
		}
		return readValue(b, uint32(f), implicit, h, depth+1)
	default:
		b.fail(fmt.Sprintf("unknown attribute form %#x", form))
	}
	return value{}
}

// skipValue skips one attribute value.
func skipValue(b *buf, form uint32, h *unitHeader) {
	if s := formSize(form, h.addrSize, h.is64, h.version); s >= 0 {
		b.skip(uint64(s))
		return
	}
	readValue(b, form, 0, h, 0)
}

// die holds the attributes of one DIE that the walk uses. Nearly half of
// it is unitAttrs, read of the unit DIE alone, so decodeDIE clears only
// dieAttrs: the walk decodes every interesting DIE of a unit into one die.
type die struct {
	dieAttrs
	unitAttrs
}

// dieAttrs are the attributes the walk reads of every DIE.
type dieAttrs struct {
	name, link   strRef
	low, high    value
	entryPC      value
	ranges       value
	spec, origin uint64
	hasSpec      bool
	hasOrigin    bool
	decl         bool
	callFile     uint64
	callLine     uint64
	sibling      uint64
	hasSibling   bool
}

// unitAttrs are the attributes the walk reads of the unit DIE only; what
// later DIEs leave in them is never read.
type unitAttrs struct {
	compDir, dwoName strRef
	stmtList         value
	strOffBase       value
	addrBase         value
	rnglistsBase     value
	gnuRangesBase    value
	dwoID            value
	language         value
}

// decodeDIE reads the attributes of a DIE with abbreviation a. It clears
// d.dieAttrs only: the caller passes a zeroed die for the unit DIE.
func decodeDIE(b *buf, a *abbrev, h *unitHeader, d *die) {
	d.dieAttrs = dieAttrs{}
	for i := 0; i < len(a.attrs); i++ {
		s := &a.attrs[i]
		if s.role == roleSkip {
			if s.skipRun > 0 {
				b.skip(uint64(s.skipBytes))
				i += int(s.skipRun) - 1
				continue
			}
			skipValue(b, s.form, h)
			continue
		}
		v := readValue(b, s.form, s.implicit, h, 0)
		switch s.role {
		case roleName:
			if v.cls == clsStr {
				d.name = strRef{v.v, v.str}
			}
		case roleLink:
			if v.cls == clsStr {
				d.link = strRef{v.v, v.str}
			}
		case roleCompDir:
			if v.cls == clsStr {
				d.compDir = strRef{v.v, v.str}
			}
		case roleDWOName:
			if v.cls == clsStr {
				d.dwoName = strRef{v.v, v.str}
			}
		case roleLowPC:
			d.low = v
		case roleHighPC:
			d.high = v
		case roleEntryPC:
			d.entryPC = v
		case roleRanges:
			d.ranges = v
		case roleSpec:
			if v.cls == clsRef {
				d.spec, d.hasSpec = v.v, true
			}
		case roleOrigin:
			if v.cls == clsRef {
				d.origin, d.hasOrigin = v.v, true
			}
		case roleDecl:
			d.decl = v.v != 0
		case roleCallFile:
			d.callFile = v.v
		case roleCallLine:
			d.callLine = v.v
		case roleSibling:
			if v.cls == clsRef {
				d.sibling, d.hasSibling = v.v, true
			}
		case roleStmtList:
			d.stmtList = v
		case roleStrOffBase:
			d.strOffBase = v
		case roleAddrBase:
			d.addrBase = v
		case roleRnglistsBase:
			d.rnglistsBase = v
		case roleGNURangesBase:
			d.gnuRangesBase = v
		case roleDWOID:
			d.dwoID = v
		case roleLanguage:
			d.language = v
		}
	}
}

// skipDIE skips the attributes of a DIE the walk does not use, returning
// its DW_AT_sibling if it has children and one.
func skipDIE(b *buf, a *abbrev, h *unitHeader) (sibling uint64, ok bool) {
	if a.fixed >= 0 && !a.children {
		b.skip(uint64(a.fixed))
		return 0, false
	}
	for i := 0; i < len(a.attrs); i++ {
		s := &a.attrs[i]
		if s.skipRun > 0 {
			b.skip(uint64(s.skipBytes))
			i += int(s.skipRun) - 1
			continue
		}
		if s.role == roleSibling && a.children {
			v := readValue(b, s.form, s.implicit, h, 0)
			if v.cls == clsRef {
				sibling, ok = v.v, true
			}
			continue
		}
		skipValue(b, s.form, h)
	}
	return sibling, ok
}

// abbrevTable returns the abbreviation table of the unit of h, reading it
// on bl's budget the first time a unit of src uses it.
func (bl *builder) abbrevTable(src *source, h *unitHeader) (*abbrevTable, error) {
	k := abbrevKey{h.abbrevOff, h.addrSize, h.is64, h.version}
	if src.shared != nil {
		return src.shared.get(k, func() (*abbrevTable, error) { return bl.readAbbrevs(src, k) })
	}
	if t, ok := src.abbrevs[k]; ok {
		return t, nil
	}
	t, err := bl.readAbbrevs(src, k)
	if err != nil {
		return nil, err
	}
	src.abbrevs[k] = t
	return t, nil
}

// readAbbrevs reads the abbreviation table of k in src on bl's budget.
func (bl *builder) readAbbrevs(src *source, k abbrevKey) (*abbrevTable, error) {
	t, err := parseAbbrevs(src.sec.Abbrev, k.off, src.be, k.addrSize, k.is64, k.version, bl.bud, src.slab)
	if err != nil {
		return nil, err
	}
	if err := bl.bud.spend(len(t.dense)); err != nil {
		return nil, err
	}
	return t, nil
}

// maxDepth bounds DIE nesting; real programs stay far below it.
const maxDepth = 1 << 12

// level is the walk's context below a DIE with children.
type level struct {
	scope int32 // innermost scope or subprogram entry
	code  int32 // innermost node code belongs to
	skip  bool  // inside a subtree the walk ignores
}

// walkUnit reads the DIEs of one unit. skel is the skeleton unit when h is
// a split unit read from .dwo data.
func (bl *builder) walkUnit(si int32, h *unitHeader, skel *unitInfo) (*unitInfo, error) {
	src := bl.sources[si]
	tab, err := bl.abbrevTable(src, h)
	if err != nil {
		return nil, err
	}
	b := at(".debug_info", src.sec.Info[:h.end], h.dieOff, src.be)
	ui := int32(len(bl.units))
	u := &unitInfo{src: si, off: h.off, version: h.version, addrSize: h.addrSize, is64: h.is64, be: src.be, cu0: -1, cu1: -1}
	bl.units = append(bl.units, u)

	// The unit DIE comes first; its attributes set the bases every other
	// DIE needs.
	code := b.uleb()
	a := tab.get(code)
	if b.err != nil {
		return nil, b.err
	}
	if code == 0 {
		return u, nil // an empty unit: padding
	}
	if a == nil {
		return nil, &FormatError{Section: ".debug_info", Offset: h.dieOff, Msg: fmt.Sprintf("unknown abbreviation code %d", code)}
	}
	var d die
	decodeDIE(&b, a, h, &d)
	if b.err != nil {
		return nil, b.err
	}
	if skel != nil && skel.dwoID != 0 && d.dwoID.cls == clsConst && d.dwoID.v != skel.dwoID {
		// A GNU split unit of another skeleton (DWARF 5 ones are told
		// apart by their headers).
		bl.units = bl.units[:len(bl.units)-1]
		return nil, nil
	}
	if err := bl.unitDIE(u, h, &d, a.tag, src, skel); err != nil {
		return nil, err
	}
	if !a.children {
		return u, nil
	}
	// A C unit's structures and unions hold members and nested types, never
	// functions, and name nothing the walk keeps: their subtrees are skipped
	// whole, through DW_AT_sibling, like any DIE the walk ignores. In
	// CPython's libpython they are 263,000 of its 677,000 DIEs (48,467
	// types and their members), each type an entry kept for nothing: its
	// serial walk took 0.84 of the time (BENCHMARKS.md).
	cUnit := isC(d.language)

	stack := make([]level, 0, 32)
	cur := level{scope: -1, code: -1}
	for b.left() > 0 {
		dieOff := b.off()
		// Most abbreviation codes take a byte: read inline.
		var code uint64
		if c := b.data[b.pos]; c < 0x80 {
			code = uint64(c)
			b.pos++
		} else {
			code = b.uleb()
		}
		if code == 0 {
			if len(stack) == 0 {
				// Trailing padding after the unit DIE's children.
				continue
			}
			cur = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			continue
		}
		a := tab.get(code)
		if a == nil {
			b.fail(fmt.Sprintf("unknown abbreviation code %d", code))
			break
		}
		if cur.skip || !a.interesting || cUnit && (a.tag == tagStructType || a.tag == tagUnionType) {
			sib, ok := skipDIE(&b, a, h)
			if a.children {
				if ok && sib > b.off() && sib <= h.end {
					b.pos = int(sib - b.base)
					continue
				}
				if len(stack) >= maxDepth {
					b.fail("DIEs nested too deeply")
					break
				}
				stack = append(stack, cur)
				cur.skip = true
			}
			continue
		}
		decodeDIE(&b, a, h, &d)
		if b.err != nil {
			break
		}
		next := cur
		switch a.tag {
		case tagNamespace, tagClassType, tagStructType, tagUnionType, tagInterfaceType:
			next.scope = bl.addEntry(dieOff, a.tag, &d, cur.scope, ui)
		case tagSubprogram:
			ei := bl.addEntry(dieOff, a.tag, &d, cur.scope, ui)
			next.scope = ei
			next.code = -1
			if !d.decl {
				r0, r1, err := bl.dieRanges(u, &d)
				if err != nil {
					return nil, err
				}
				if r1 > r0 {
					next.code = int32(len(bl.nodes))
					n := bl.newNode()
					n.entry, n.parent, n.unit, n.rng0, n.rng1 = ei, -1, ui, r0, r1
				}
			}
		case tagInlinedSubroutine:
			if cur.code < 0 {
				next.skip = true
				break
			}
			r0, r1, err := bl.dieRanges(u, &d)
			if err != nil {
				return nil, err
			}
			if r1 > r0 && d.hasOrigin {
				next.code = int32(len(bl.nodes))
				n := bl.newNode()
				n.entry, n.origin, n.hasOrig, n.parent, n.unit = -1, d.origin, true, cur.code, ui
				n.callFile, n.callLine = uint32(min(d.callFile, 1<<32-1)), uint32(min(d.callLine, 1<<32-1))
				n.rng0, n.rng1 = r0, r1
			}
		case tagLexicalBlock:
		default:
			// A unit tag nested in a unit: ignore its subtree.
			next.skip = true
		}
		if a.children {
			if len(stack) >= maxDepth {
				b.fail("DIEs nested too deeply")
				break
			}
			stack = append(stack, cur)
			cur = next
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return u, nil
}

// isC reports whether a unit's DW_AT_language is one of the C family's.
func isC(lang value) bool {
	if lang.cls != clsConst {
		return false
	}
	switch lang.v {
	case langC89, langC, langC99, langC11, langC17:
		return true
	}
	return false
}

func (bl *builder) addEntry(off uint64, tag uint32, d *die, parent, unit int32) int32 {
	e := entry{off: off, name: d.name, link: d.link, parent: parent, unit: unit, tag: uint16(tag)}
	if d.hasSpec {
		e.spec = d.spec
		e.flags |= entHasSpec
	}
	if d.hasOrigin {
		e.origin = d.origin
		e.flags |= entHasOrigin
	}
	bl.entries = append(bl.entries, e)
	return int32(len(bl.entries) - 1)
}

// unitDIE sets up u from its unit DIE. For a split unit, skel supplies what
// the .dwo leaves to the skeleton: .debug_addr and its base, the line
// table, the compilation directory and (DWARF 4) the .debug_ranges base.
func (bl *builder) unitDIE(u *unitInfo, h *unitHeader, d *die, tag uint32, src *source, skel *unitInfo) error {
	sec := src.sec
	offSize := uint64(4)
	if h.is64 {
		offSize = 8
	}
	if skel == nil {
		if d.strOffBase.cls == clsSecOff || d.strOffBase.cls == clsConst {
			u.strOffBase = d.strOffBase.v
		}
		u.compDir = bl.str(u, d.compDir)
		u.addr = addrCtx{addr: sec.Addr, addrSize: h.addrSize, is64: h.is64, be: src.be}
		if d.addrBase.cls == clsSecOff || d.addrBase.cls == clsConst {
			u.addr.addrBase = d.addrBase.v
		}
		u.ranges, u.rnglists = sec.Ranges, sec.RngLists
		// Without DW_AT_rnglists_base, indexes count from the first
		// table after the section's header.
		u.rnglistsBase = 4 + 2 + 1 + 1 + 4 + offSize
		if h.is64 {
			u.rnglistsBase += 8
		}
		if d.rnglistsBase.cls == clsSecOff || d.rnglistsBase.cls == clsConst {
			u.rnglistsBase = d.rnglistsBase.v
		}
		if d.stmtList.cls == clsSecOff || d.stmtList.cls == clsConst {
			u.stmtList, u.hasStmt = d.stmtList.v, true
		}
		u.lineSec = lineSections{line: sec.Line, str: sec.Str, lineStr: sec.LineStr, be: src.be, releaseLine: sec.Release}
		u.skeleton = tag == tagSkeletonUnit || h.utype == utSkeleton || d.dwoName.kind != strNone
		if u.skeleton {
			u.dwoName = bl.str(u, d.dwoName)
			u.dwoID = h.id
			if d.dwoID.cls == clsConst {
				u.dwoID = d.dwoID.v
			}
			if d.gnuRangesBase.cls == clsSecOff || d.gnuRangesBase.cls == clsConst {
				u.gnuRangesBase = d.gnuRangesBase.v
			}
		}
	} else {
		// Split unit: string offsets start after the contribution's
		// header in DWARF 5 (none in the GNU DWARF 4 form), range list
		// indexes after the .debug_rnglists.dwo header.
		if h.version >= 5 {
			u.strOffBase = 8 // unit length, version, padding
			if h.is64 {
				u.strOffBase = 16
			}
		}
		u.compDir = skel.compDir
		u.addr = skel.addr
		u.addr.is64 = h.is64
		u.addr.addrSize = h.addrSize
		u.ranges = skel.ranges
		u.rangesBase = skel.gnuRangesBase
		u.rnglists = sec.RngLists
		u.rnglistsBase = 12
		if h.is64 {
			u.rnglistsBase = 20
		}
		u.stmtList, u.hasStmt = skel.stmtList, skel.hasStmt
		u.lineSec = skel.lineSec
		u.lowPC = skel.lowPC
	}

	// The unit's base address for range lists.
	if v, ok, err := u.resolveAddr(d.low); err != nil {
		return err
	} else if ok {
		u.lowPC = v
	} else if v, ok, err := u.resolveAddr(d.entryPC); err != nil {
		return err
	} else if ok {
		u.lowPC = v
	}
	r0, r1, err := bl.dieRanges(u, d)
	if err != nil {
		return err
	}
	u.cu0, u.cu1 = r0, r1
	return nil
}

// resolveAddr turns an address attribute into an address.
func (u *unitInfo) resolveAddr(v value) (uint64, bool, error) {
	switch v.cls {
	case clsAddr:
		return v.v, true, nil
	case clsAddrx:
		a, err := u.addr.addrx(v.v)
		return a, err == nil, err
	}
	return 0, false, nil
}

// dieRanges appends the address ranges of a DIE to bl.ranges: low/high pc
// when both are present (llvm prefers them), else DW_AT_ranges.
func (bl *builder) dieRanges(u *unitInfo, d *die) (int32, int32, error) {
	start := len(bl.ranges)
	lo, okLo, err := u.resolveAddr(d.low)
	if err != nil {
		return 0, 0, err
	}
	if okLo && d.high.cls != clsNone {
		var hi uint64
		switch d.high.cls {
		case clsConst:
			hi = lo + d.high.v
		default:
			h, ok, err := u.resolveAddr(d.high)
			if err != nil {
				return 0, 0, err
			}
			if !ok {
				break
			}
			hi = h
		}
		if err := bl.bud.spend(1); err != nil {
			return 0, 0, err
		}
		bl.ranges = append(bl.ranges, addrRange{lo, hi})
	} else if d.ranges.cls == clsSecOff || d.ranges.cls == clsIndex || d.ranges.cls == clsConst {
		if err := bl.readRangeList(u, d.ranges); err != nil {
			return 0, 0, err
		}
	}
	r0, r1 := bl.addRanges(start, u.addrSize)
	return r0, r1, nil
}

func (bl *builder) readRangeList(u *unitInfo, v value) error {
	var err error
	if u.version >= 5 {
		off := v.v
		if v.cls == clsIndex {
			off, err = rnglistOffset(u.rnglists, u.rnglistsBase, v.v, u.is64, u.be)
			if err != nil {
				return err
			}
		}
		bl.rangesRead[1].add(off)
		bl.ranges, err = readRngList(u.rnglists, off, u.lowPC, &u.addr, bl.ranges, bl.bud)
		return err
	}
	if v.cls == clsIndex {
		return &FormatError{Section: ".debug_info", Offset: u.off, Msg: "DW_FORM_rnglistx before DWARF 5"}
	}
	bl.rangesRead[0].add(u.rangesBase + v.v)
	bl.ranges, err = readRanges(u.ranges, u.rangesBase+v.v, u.lowPC, &u.addr, bl.ranges, bl.bud)
	return err
}

// readSource walks every compilation unit of src.
func (bl *builder) readSource(si int32, skel *unitInfo) ([]*unitInfo, error) {
	src := bl.sources[si]
	src.ent0 = int32(len(bl.entries))
	defer func() { src.ent1 = int32(len(bl.entries)) }()
	headers, err := unitHeaders(src.sec.Info, src.be)
	if err != nil {
		return nil, err
	}
	if err := bl.bud.spend(len(headers)); err != nil {
		return nil, err
	}
	if skel == nil {
		if out, ok := bl.walkParallel(si, headers, walkBatchBytes); ok {
			return out, nil
		}
	}
	var out []*unitInfo
	for i := range headers {
		h := &headers[i]
		if !walked(h) {
			continue
		}
		if skel != nil && skel.dwoID != 0 && h.id != 0 && h.id != skel.dwoID {
			continue // another unit of a .dwo holding several
		}
		u, err := bl.walkUnit(si, h, skel)
		if err != nil {
			return nil, fmt.Errorf("unit at %#x: %w", h.off, err)
		}
		if u == nil {
			continue
		}
		out = append(out, u)
		if skel != nil {
			break
		}
	}
	return out, nil
}

// errSplitNeedsSections explains why Options.ResolveDWO cannot be honoured.
var errSplitNeedsSections = errors.New("split DWARF needs Options.ResolveDWOSections: debug/dwarf cannot decode split units, so a *dwarf.Data from ResolveDWO is unusable")

// readSplit resolves the split units of the skeletons in units.
//
// Work stays bounded when a hostile main object repeats skeletons: a DWO
// name and id pair is resolved once, and split data earns its budget share
// once per package (every unit of a .dwp comes from the same one) or per
// distinct .debug_info.
func (bl *builder) readSplit(units []*unitInfo) error {
	resolved := map[string]bool{}
	earned := map[any]bool{}
	for _, u := range units {
		if !u.skeleton {
			continue
		}
		key := fmt.Sprintf("%s\x00%x", u.dwoName, u.dwoID)
		if resolved[key] {
			continue
		}
		resolved[key] = true
		var sec *Sections
		var err error
		switch {
		case bl.opts.ResolveDWOSections != nil:
			sec, err = bl.opts.ResolveDWOSections(u.dwoName, u.compDir, u.dwoID)
		case bl.opts.ResolveDWO != nil:
			_, err = bl.opts.ResolveDWO(u.dwoName, u.compDir, u.dwoID)
			if err == nil {
				err = errSplitNeedsSections
			}
		default:
			continue
		}
		if errors.Is(err, ErrNoDWO) || (err == nil && sec == nil) {
			continue // the skeleton's line table stands in
		}
		if err != nil {
			return fmt.Errorf("dwarf: unit at %#x: %s: %w", u.off, u.dwoName, err)
		}
		be, err := sniffBigEndian(sec.Info)
		if err != nil {
			return fmt.Errorf("dwarf: %s: %w", u.dwoName, err)
		}
		var origin any = &sec.Info[0]
		if sec.pkg != nil {
			origin = sec.pkg
		}
		if !earned[origin] {
			earned[origin] = true
			size := sec.size()
			if sec.pkg != nil {
				size = sec.pkg.sec.size()
			}
			bl.bud.left += budgetPerByte * int64(size)
		}
		bl.sources = append(bl.sources, &source{sec: sec, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
		split, err := bl.readSource(int32(len(bl.sources)-1), u)
		if err != nil {
			return fmt.Errorf("dwarf: %s: %w", u.dwoName, err)
		}
		if len(split) > 0 {
			u.replaced = true
			if split[0].cu1 <= split[0].cu0 {
				split[0].cu0, split[0].cu1 = u.cu0, u.cu1
			}
		}
	}
	return nil
}
