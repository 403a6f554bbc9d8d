package dwarf

import "fmt"

// attrSpec is one attribute of an abbreviation.
type attrSpec struct {
	attr     uint32
	form     uint32
	implicit int64 // DW_FORM_implicit_const's value
	// role is what the walk does with the attribute (attrRole), found
	// once per abbreviation rather than once per DIE.
	role attrRole
	// skipRun, on the first of attributes the walk skips whose forms
	// have sizes fixed for the unit, is how many follow in a row
	// (itself included, at most 255), and skipBytes their size: decodeDIE
	// skips them in one step rather than a call per attribute.
	skipRun   uint8
	skipBytes uint16
}

// attrRole is the field of a decoded DIE an attribute fills, roleSkip
// for the attributes the walk does not read. The roles are numbered
// densely, so that decodeDIE's switch on them is a jump table: on the
// attributes' own codes it was two binary searches per attribute.
type attrRole uint8

const (
	roleSkip attrRole = iota
	roleName
	roleLink
	roleCompDir
	roleDWOName
	roleLowPC
	roleHighPC
	roleEntryPC
	roleRanges
	roleSpec
	roleOrigin
	roleDecl
	roleCallFile
	roleCallLine
	roleSibling
	roleStmtList
	roleStrOffBase
	roleAddrBase
	roleRnglistsBase
	roleGNURangesBase
	roleDWOID
)

// roleOf returns the role of attribute at.
func roleOf(at uint32) attrRole {
	switch at {
	case atName:
		return roleName
	case atLinkageName, atMIPSLinkageName:
		return roleLink
	case atCompDir:
		return roleCompDir
	case atDWOName, atGNUDWOName:
		return roleDWOName
	case atLowPC:
		return roleLowPC
	case atHighPC:
		return roleHighPC
	case atEntryPC:
		return roleEntryPC
	case atRanges:
		return roleRanges
	case atSpecification:
		return roleSpec
	case atAbstractOrigin:
		return roleOrigin
	case atDeclaration:
		return roleDecl
	case atCallFile:
		return roleCallFile
	case atCallLine:
		return roleCallLine
	case atSibling:
		return roleSibling
	case atStmtList:
		return roleStmtList
	case atStrOffsetsBase:
		return roleStrOffBase
	case atAddrBase, atGNUAddrBase:
		return roleAddrBase
	case atRnglistsBase:
		return roleRnglistsBase
	case atGNURangesBase:
		return roleGNURangesBase
	case atGNUDWOID:
		return roleDWOID
	}
	return roleSkip
}

// abbrev describes the layout of a class of DIEs.
type abbrev struct {
	tag      uint32
	children bool
	// interesting is set for the tags the walk decodes; the attributes of
	// every other DIE are only skipped.
	interesting bool
	// fixed is the byte size of all attributes together when every form
	// has a size known from the unit header alone, else -1; such DIEs are
	// skipped in one step.
	fixed int32
	attrs []attrSpec
}

// abbrevTable maps abbreviation codes to abbreviations. Producers number
// codes densely from 1, so a slice indexed by code holds them; sparse codes
// fall back to a map.
type abbrevTable struct {
	dense  []abbrev
	sparse map[uint64]*abbrev
}

func (t *abbrevTable) get(code uint64) *abbrev {
	if code < uint64(len(t.dense)) {
		if a := &t.dense[code]; a.attrs != nil {
			return a
		}
		return nil
	}
	return t.sparse[code]
}

// maxDenseAbbrev bounds the slice used for dense codes so that one large
// code in hostile input cannot drive a large allocation.
const maxDenseAbbrev = 1 << 14

// parseAbbrevs reads the abbreviation table at off. Sizes of fixed-size
// forms depend on the unit (address and offset size), hence the arguments.
func parseAbbrevs(data []byte, off uint64, bigEndian bool, addrSize uint8, is64 bool, version uint16, bud *budget) (*abbrevTable, error) {
	b := at(".debug_abbrev", data, off, bigEndian)
	t := &abbrevTable{}
	// Attributes of all abbreviations share one backing array, grown as
	// they are read: the rest of .debug_abbrev after off (which bounds
	// it, at two bytes an attribute) often holds the tables of many
	// other units.
	specs := make([]attrSpec, 0, min(b.left()/2, 512))
	type pending struct {
		code       uint64
		a          abbrev
		start, end int
	}
	var list []pending
	maxCode := uint64(0)
	for {
		code := b.uleb()
		if code == 0 || b.err != nil {
			break
		}
		var p pending
		p.code = code
		p.a.tag = uint32(b.uleb())
		p.a.children = b.u8() != 0
		p.start = len(specs)
		for {
			at := b.uleb()
			form := b.uleb()
			if b.err != nil {
				return nil, b.err
			}
			if at == 0 && form == 0 {
				break
			}
			s := attrSpec{attr: uint32(at), form: uint32(form), role: roleOf(uint32(at))}
			if form == formImplicitConst {
				s.implicit = b.sleb()
			}
			specs = append(specs, s)
		}
		p.end = len(specs)
		list = append(list, p)
		// Tables at different offsets may overlap; charge every
		// abbreviation read so that many units cannot re-read one huge
		// table without limit.
		if err := bud.spend(1 + p.end - p.start); err != nil {
			return nil, err
		}
		maxCode = max(maxCode, code)
	}
	if b.err != nil {
		return nil, b.err
	}
	// Dense only when codes are not much sparser than the abbreviations
	// themselves, so hostile codes cannot drive the allocation.
	if maxCode < maxDenseAbbrev && maxCode <= 2*uint64(len(list))+64 {
		t.dense = make([]abbrev, maxCode+1)
	} else {
		t.sparse = make(map[uint64]*abbrev, len(list))
	}
	for i := range list {
		p := &list[i]
		p.a.attrs = specs[p.start:p.end:p.end]
		if p.a.attrs == nil {
			p.a.attrs = specs[:0:0]
		}
		p.a.interesting = interestingTag(p.a.tag)
		p.a.fixed = fixedSize(p.a.attrs, addrSize, is64, version)
		markSkipRuns(p.a.attrs, addrSize, is64, version)
		if t.dense != nil {
			if t.dense[p.code].attrs != nil {
				return nil, &FormatError{Section: ".debug_abbrev", Offset: off, Msg: fmt.Sprintf("duplicate abbreviation code %d", p.code)}
			}
			t.dense[p.code] = p.a
		} else {
			a := p.a
			t.sparse[p.code] = &a
		}
	}
	return t, nil
}

// markSkipRuns sets the skip runs of attrs (attrSpec.skipRun).
func markSkipRuns(attrs []attrSpec, addrSize uint8, is64 bool, version uint16) {
	for i := 0; i < len(attrs); {
		j, n := i, 0
		for j < len(attrs) && j-i < 255 && attrs[j].role == roleSkip {
			size := formSize(attrs[j].form, addrSize, is64, version)
			if size < 0 {
				break
			}
			n += size
			j++
		}
		if j == i {
			i++
			continue
		}
		attrs[i].skipRun, attrs[i].skipBytes = uint8(j-i), uint16(n)
		i = j
	}
}

func interestingTag(tag uint32) bool {
	switch tag {
	case tagCompileUnit, tagPartialUnit, tagSkeletonUnit,
		tagNamespace, tagClassType, tagStructType, tagUnionType, tagInterfaceType,
		tagSubprogram, tagInlinedSubroutine, tagLexicalBlock:
		return true
	}
	return false
}

// formSize is the size of a form's value when it is fixed for the unit,
// else -1.
func formSize(form uint32, addrSize uint8, is64 bool, version uint16) int {
	offSize := 4
	if is64 {
		offSize = 8
	}
	switch form {
	case formAddr:
		return int(addrSize)
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2
	case formStrx3, formAddrx3:
		return 3
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		return 4
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8
	case formData16:
		return 16
	case formFlagPresent, formImplicitConst:
		return 0
	case formStrp, formLineStrp, formSecOffset, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return offSize
	case formRefAddr:
		if version <= 2 {
			return int(addrSize)
		}
		return offSize
	}
	return -1
}

func fixedSize(attrs []attrSpec, addrSize uint8, is64 bool, version uint16) int32 {
	n := 0
	for _, a := range attrs {
		s := formSize(a.form, addrSize, is64, version)
		if s < 0 {
			return -1
		}
		n += s
	}
	return int32(n)
}
