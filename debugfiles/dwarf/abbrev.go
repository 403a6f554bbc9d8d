package dwarf

import "fmt"

// attrSpec is one attribute of an abbreviation: 16 bytes, of which a
// program's tables hold one per attribute of each abbreviation (CPython's
// libpython: 87,336 in 146 tables). The attribute itself is kept only as
// its role.
type attrSpec struct {
	implicit int64 // DW_FORM_implicit_const's value
	form     uint32
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
	roleLanguage
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
	case atLanguage:
		return roleLanguage
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
//
// It reads the table twice: first to count its abbreviations and
// attributes, then to fill arrays of exactly that size. Read once into
// arrays grown as it went, libpython's tables took 6.4 MB of new memory
// for 2.1 MB of abbreviations. The arrays come from slab when it is not
// nil.
func parseAbbrevs(data []byte, off uint64, bigEndian bool, addrSize uint8, is64 bool, version uint16, bud *budget, slab *abbrevSlab) (*abbrevTable, error) {
	n, attrs, maxCode, err := countAbbrevs(data, off, bigEndian, bud)
	if err != nil {
		return nil, err
	}
	t := &abbrevTable{}
	// seen marks the dense codes read: a duplicate is found there rather
	// than by reading t.dense before it is written. New memory read
	// first maps the zero page, and its first write then faults again and
	// flushes the TLB of every core the process runs on (see
	// internal/prefault): 1% of a streamed build's time on libpython.
	var seen []uint64
	// Dense only when codes are not much sparser than the abbreviations
	// themselves, so hostile codes cannot drive the allocation.
	if maxCode < maxDenseAbbrev && maxCode <= 2*uint64(n)+64 {
		t.dense = slab.abbrevs(int(maxCode) + 1)
		seen = make([]uint64, maxCode/64+1)
	} else {
		t.sparse = make(map[uint64]*abbrev, n)
	}
	// Attributes of all abbreviations share one backing array.
	specs := slab.attrs(attrs)
	b := at(".debug_abbrev", data, off, bigEndian)
	for range n {
		code := b.uleb()
		a := abbrev{tag: uint32(b.uleb()), children: b.u8() != 0}
		start := len(specs)
		for {
			at, form := b.ulebPair()
			if at == 0 && form == 0 {
				break
			}
			s := attrSpec{form: uint32(form), role: roleOf(uint32(at))}
			if form == formImplicitConst {
				s.implicit = b.sleb()
			}
			specs = append(specs, s)
		}
		a.attrs = specs[start:len(specs):len(specs)]
		a.interesting = interestingTag(a.tag)
		if !a.interesting {
			// skipDIE reads only the sibling of such a DIE: the
			// other attributes join the skip runs.
			for i := range a.attrs {
				if a.attrs[i].role != roleSibling {
					a.attrs[i].role = roleSkip
				}
			}
		}
		a.fixed = fixedSize(a.attrs, addrSize, is64, version)
		markSkipRuns(a.attrs, addrSize, is64, version)
		if t.dense != nil {
			if seen[code/64]&(1<<(code%64)) != 0 {
				return nil, &FormatError{Section: ".debug_abbrev", Offset: off, Msg: fmt.Sprintf("duplicate abbreviation code %d", code)}
			}
			seen[code/64] |= 1 << (code % 64)
			t.dense[code] = a
		} else {
			p := new(abbrev) // not &a: a would move to the heap in the dense case too
			*p = a
			t.sparse[code] = p
		}
	}
	return t, nil
}

// abbrevSlab is storage that a source's abbreviation tables are carved
// from, used again once they are dropped. A streamed walk reads the tables
// of each batch of units anew (see streamMain): libpython's, 2.5 MB of
// them, were new memory batch after batch, faulted in page by page; from
// slabs, a build allocates 0.9 MB for them, and faults ~150 pages fewer
// (6,400–6,600 against 6,600–6,750).
type abbrevSlab struct {
	dense []abbrev
	specs []attrSpec
}

// abbrevs returns n zeroed abbreviations from s, or newly allocated ones
// when s is nil.
func (s *abbrevSlab) abbrevs(n int) []abbrev {
	if s == nil {
		return make([]abbrev, n)
	}
	if cap(s.dense)-len(s.dense) < n {
		// The tables carved from the old array keep it until they are
		// dropped; later ones come from the new.
		s.dense = make([]abbrev, 0, max(n, 2*cap(s.dense)))
	}
	d := s.dense[len(s.dense) : len(s.dense)+n : len(s.dense)+n]
	s.dense = s.dense[:len(s.dense)+n]
	clear(d)
	return d
}

// attrs returns an empty slice with room for n attributes from s, or a
// newly allocated one when s is nil. It is never nil, even for none: an
// abbreviation's attributes, nil, mark an unused code (abbrevTable.get).
func (s *abbrevSlab) attrs(n int) []attrSpec {
	if s == nil {
		return make([]attrSpec, 0, n)
	}
	if cap(s.specs)-len(s.specs) < n || s.specs == nil {
		s.specs = make([]attrSpec, 0, max(n, 2*cap(s.specs)))
	}
	a := s.specs[len(s.specs) : len(s.specs) : len(s.specs)+n]
	s.specs = s.specs[:len(s.specs)+n]
	return a
}

// reset makes the whole of s free again: the tables carved from it must
// be dropped.
func (s *abbrevSlab) reset() {
	s.dense, s.specs = s.dense[:0], s.specs[:0]
}

// countAbbrevs reads the abbreviation table at off for parseAbbrevs: how
// many abbreviations and attributes it holds, and its highest code. Tables
// at different offsets may overlap; every abbreviation read is charged to
// bud, so that many units cannot re-read one huge table without limit.
func countAbbrevs(data []byte, off uint64, bigEndian bool, bud *budget) (n, attrs int, maxCode uint64, err error) {
	b := at(".debug_abbrev", data, off, bigEndian)
	for {
		code := b.uleb()
		if code == 0 || b.err != nil {
			break
		}
		b.uleb() // tag
		b.u8()   // children
		k := 0
		for {
			at, form := b.ulebPair()
			if b.err != nil {
				return 0, 0, 0, b.err
			}
			if at == 0 && form == 0 {
				break
			}
			if form == formImplicitConst {
				b.sleb()
			}
			k++
		}
		if err := bud.spend(1 + k); err != nil {
			return 0, 0, 0, err
		}
		n, attrs, maxCode = n+1, attrs+k, max(maxCode, code)
	}
	return n, attrs, maxCode, b.err
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
