package dwarf

import (
	"fmt"
	"slices"
	"sort"
)

// NoFile is the File of a TableRow that ends a sequence: addresses from
// it up to the next row have no line information.
const NoFile = ^uint32(0)

// noFile is NoFile, as the parser spells it.
const noFile = NoFile

// TableRow is one row of a unit's line table: from Address up to the next
// row's address, code belongs to Line of File, an index into the unit's
// files (see CompactFunction), unless File is NoFile. Of rows at one
// address, the last one holds.
type TableRow struct {
	Address uint64
	File    uint32
	Line    uint32
}

// lineRow is a TableRow, as the parser spells it.
type lineRow = TableRow

// lineFile is an entry of a line table's file list.
type lineFile struct {
	name string
	dir  string
	// dirIsCompDir is set for DWARF 5 entries using directory 0, which
	// is the compilation directory itself: consumers (llvm-symbolizer)
	// do not prepend DW_AT_comp_dir to it again.
	dirIsCompDir bool
}

// lineTable is a unit's line program reduced to rows sorted by address,
// with no two rows at the same address. Where sequences overlap (code the
// linker discarded keeps its line program at address 0), the sequence
// starting first wins; the rest are dropped so that rows stay sorted.
type lineTable struct {
	version uint16
	rows    []lineRow
	files   []lineFile
	// off and end delimit the program in .debug_line.
	off, end uint64
	// buf is the storage the rows were read into, whole: rows may be a
	// clipped part of it.
	buf []lineRow
}

// find returns the index of the row covering addr, or -1.
func (t *lineTable) find(addr uint64) int {
	i := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].Address > addr }) - 1
	if i < 0 || t.rows[i].File == noFile {
		return -1
	}
	return i
}

// lineSections are the sections a line program reads.
type lineSections struct {
	line, str, lineStr []byte
	be                 bool
	// releaseLine is the main object's Sections.Release, called on the
	// part of .debug_line a parsed table came from; nil for split units.
	releaseLine func([]byte)
}

// release hands the bytes of t's program to releaseLine: the rows hold
// all the session needs of them.
func (s lineSections) release(t *lineTable) {
	if s.releaseLine != nil && t.off < t.end && t.end <= uint64(len(s.line)) {
		s.releaseLine(s.line[t.off:t.end])
	}
}

// parseLineTable reads the line program at off. addrSize is the unit's
// address size, used by DWARF 2–4 programs whose header does not record it.
func parseLineTable(sec lineSections, off uint64, addrSize uint8, bud *budget) (*lineTable, error) {
	return parseLineTableInto(sec, off, addrSize, bud, nil)
}

// parseLineTableInto is parseLineTable building the rows in buf's storage
// when it is large enough: the rows of a table no longer needed.
func parseLineTableInto(sec lineSections, off uint64, addrSize uint8, bud *budget, buf []lineRow) (*lineTable, error) {
	hb := at(".debug_line", sec.line, off, sec.be)
	length, is64 := hb.unitLength()
	b := hb.sub(".debug_line", length)
	if hb.err != nil {
		return nil, hb.err
	}
	t := &lineTable{off: off, end: hb.off()}
	t.version = b.u16()
	if b.err == nil && (t.version < 2 || t.version > 5) {
		return nil, &FormatError{Section: ".debug_line", Offset: off, Msg: fmt.Sprintf("unsupported line table version %d", t.version)}
	}
	if t.version >= 5 {
		addrSize = b.u8()
		if seg := b.u8(); seg != 0 {
			return nil, &FormatError{Section: ".debug_line", Offset: off, Msg: "segment selectors are not supported"}
		}
	}
	headerLength := b.offset(is64)
	hdr := b.sub(".debug_line", headerLength)
	prog := b // the program follows the header
	if b.err != nil {
		return nil, b.err
	}

	minInst := hdr.u8()
	maxOps := uint8(1)
	if t.version >= 4 {
		maxOps = hdr.u8()
	}
	hdr.u8() // default_is_stmt
	lineBase := int8(hdr.u8())
	lineRange := hdr.u8()
	opcodeBase := hdr.u8()
	var opLens [256]uint8
	for i := 1; i < int(opcodeBase); i++ {
		opLens[i] = hdr.u8()
	}
	if hdr.err != nil {
		return nil, hdr.err
	}
	if lineRange == 0 {
		return nil, &FormatError{Section: ".debug_line", Offset: off, Msg: "line_range is 0"}
	}
	if maxOps == 0 {
		maxOps = 1
	}
	if opcodeBase == 0 {
		// Opcode 0 introduces extended opcodes; a base of 0 would make
		// every opcode special. Treat it as the smallest sane base.
		opcodeBase = 1
	}

	if t.version < 5 {
		var dirs []string
		for {
			d := hdr.cstr()
			if hdr.err != nil {
				return nil, hdr.err
			}
			if len(d) == 0 {
				break
			}
			dirs = append(dirs, string(d))
		}
		// File numbers start at 1 before DWARF 5; entry 0 stays empty.
		t.files = append(t.files, lineFile{})
		for {
			name := hdr.cstr()
			if hdr.err != nil {
				return nil, hdr.err
			}
			if len(name) == 0 {
				break
			}
			t.files = append(t.files, v4File(name, hdr.uleb(), dirs))
			hdr.skipLEB() // mtime
			hdr.skipLEB() // length
		}
	} else {
		dirs, err := readEntries(&hdr, sec, is64, nil)
		if err != nil {
			return nil, err
		}
		dirNames := make([]string, len(dirs))
		for i, d := range dirs {
			dirNames[i] = d.name
		}
		files, err := readEntries(&hdr, sec, is64, dirNames)
		if err != nil {
			return nil, err
		}
		t.files = files
	}
	if hdr.err != nil {
		return nil, hdr.err
	}

	// Run the program. Every row consumes at least one opcode byte, which
	// bounds the row count by the program size.
	if err := bud.spend(prog.left()); err != nil {
		return nil, err
	}
	rows, seqs, err := runLineProgram(prog, t, lineParams{
		minInst: minInst, maxOps: maxOps, lineBase: lineBase, lineRange: lineRange,
		opcodeBase: opcodeBase, addrSize: addrSize, opLens: &opLens,
	}, buf)
	if err != nil {
		return nil, err
	}
	t.rows = sortRows(rows, seqs)
	t.buf = rows
	return t, nil
}

// lineParams are the header fields the line program's opcodes depend on.
type lineParams struct {
	minInst, maxOps       uint8
	lineBase              int8
	lineRange, opcodeBase uint8
	addrSize              uint8
	opLens                *[256]uint8
}

// runLineProgram runs the line program in prog and returns its rows, in
// program order, and its sequences, building the rows in rowBuf when it
// is large enough. DW_LNE_define_file entries are appended to t.files.
//
// Rows sharing an address collapse as they are produced, leaving one row
// per 5–10 bytes of program in gcc and clang output. The first guess at
// their number is an eighth of the program size; when it is short, the
// rows read so far tell how many the rest of the program holds. Where an
// instruction is one operation (every target but VLIW ones), a
// fastMachine runs the common opcodes; the rest are decoded here, through
// the checked reader.
func runLineProgram(prog buf, t *lineTable, p lineParams, rowBuf []lineRow) ([]lineRow, []seqSpan, error) {
	progSize := prog.left()
	rows := rowBuf[:0]
	if cap(rows) < progSize/8+16 {
		rows = make([]lineRow, 0, progSize/8+16)
	}
	var seqs []seqSpan
	seqStart := 0
	seqSorted := true
	var (
		address uint64
		opIndex uint64
		file    uint64 = 1
		line    int64  = 1
	)
	minInst, maxOps := uint64(p.minInst), uint64(p.maxOps)
	// Special opcodes are most of a program: their operation advance and
	// line step come from a table rather than two divisions each.
	var specials [256]special
	for op := int(p.opcodeBase); op < 256; op++ {
		adj := op - int(p.opcodeBase)
		specials[op] = special{ops: uint8(adj / int(p.lineRange)), line: int16(p.lineBase) + int16(adj%int(p.lineRange))}
	}
	data := prog.data
	pos := prog.pos
	// constAdd is DW_LNS_const_add_pc's operation advance.
	constAdd := uint64(255-p.opcodeBase) / uint64(p.lineRange)
	var fast *fastMachine
	if maxOps == 1 {
		fast = newFastMachine(&specials, p.opcodeBase, minInst, constAdd)
	}
	for pos < len(data) {
		if fast != nil {
			fast.address, fast.line, fast.file = address, line, file
			pos, rows = fast.run(data, pos, rows, seqStart)
			address, line, file = fast.address, fast.line, fast.file
			if pos >= len(data) {
				break
			}
		}
		op := data[pos]
		pos++
		if op >= p.opcodeBase {
			sp := specials[op]
			if maxOps == 1 {
				address += minInst * uint64(sp.ops)
			} else {
				address += minInst * ((opIndex + uint64(sp.ops)) / maxOps)
				opIndex = (opIndex + uint64(sp.ops)) % maxOps
			}
			line += int64(sp.line)
			// The common case, a row after the previous one of its
			// sequence with room for it, skips addRow's checks.
			if n := len(rows); n > seqStart && n < cap(rows) && rows[n-1].Address < address && file < uint64(noFile) {
				rows = rows[:n+1]
				rows[n] = lineRow{Address: address, File: uint32(file), Line: uint32(line)}
				continue
			}
			rows = addRow(rows, seqStart, &seqSorted, address, file, line, false, progSize, len(data)-pos)
			continue
		}
		// Everything else goes through the checked reader.
		prog.pos = pos
		var ops uint64
		advance := false
		switch op {
		case 0:
			n := prog.uleb()
			ext := prog.sub(".debug_line", n)
			if prog.err != nil || n == 0 {
				break
			}
			switch ext.u8() {
			case lneEndSequence:
				rows = addRow(rows, seqStart, &seqSorted, address, file, line, true, progSize, prog.left())
				seqs = append(seqs, seqSpan{seqStart, len(rows), seqSorted})
				seqStart, seqSorted = len(rows), true
				address, opIndex, file, line = 0, 0, 1, 1
			case lneSetAddress:
				size := uint8(ext.left())
				if size != 1 && size != 2 && size != 4 && size != 8 {
					size = p.addrSize
				}
				address = ext.addr(size)
				opIndex = 0
			case lneDefineFile:
				// DWARF 2–4 only: a file entry inside the program.
				name := ext.cstr()
				dir := ext.uleb()
				if ext.err == nil && t.version < 5 && len(t.files) < 1<<16 {
					t.files = append(t.files, v4File(name, dir, nil))
				}
			}
			// Other extended opcodes (set_discriminator, vendor ones)
			// carry their length, so they are skipped whole.
		case lnsCopy:
			rows = addRow(rows, seqStart, &seqSorted, address, file, line, false, progSize, prog.left())
		case lnsAdvancePC:
			ops, advance = prog.uleb(), true
		case lnsAdvanceLine:
			line += prog.sleb()
		case lnsSetFile:
			file = prog.uleb()
		case lnsSetColumn:
			prog.skipLEB()
		case lnsNegateStmt, lnsSetBasicBlock, lnsSetPrologueEnd, lnsSetEpilogueBegin:
		case lnsConstAddPC:
			ops, advance = uint64(255-p.opcodeBase)/uint64(p.lineRange), true
		case lnsFixedAdvancePC:
			address += uint64(prog.u16())
			opIndex = 0
		case lnsSetISA:
			prog.skipLEB()
		default:
			// Unknown standard opcode: the header says how many LEB128
			// operands it takes.
			for range p.opLens[op] {
				prog.skipLEB()
			}
		}
		if advance {
			if maxOps == 1 {
				address += minInst * ops
			} else {
				address += minInst * ((opIndex + ops) / maxOps)
				opIndex = (opIndex + ops) % maxOps
			}
		}
		if prog.err != nil {
			return nil, nil, prog.err
		}
		pos = prog.pos
	}
	return rows, seqs, nil
}

// special is a special opcode's operation advance and line step.
type special struct {
	ops  uint8
	line int16
}

// fastMachine runs the opcodes that make up most of a line program for a
// machine with one operation per instruction (run): the line-number
// machine's registers, and what the opcodes do to them, worked out once
// for the program.
type fastMachine struct {
	address uint64
	line    int64
	file    uint64
	// minInst is the header's minimum instruction length, constAdv the
	// address advance of DW_LNS_const_add_pc.
	minInst, constAdv uint64
	// steps are the special opcodes' address advances and line steps;
	// an adv of noStep marks the opcodes below the opcode base.
	steps [256]step
}

// step is a special opcode's address advance, in bytes (at most 255
// operations of 255 bytes), and line step.
type step struct {
	adv  uint16
	line int16
}

// noStep marks an opcode that is not a special one.
const noStep = ^uint16(0)

// newFastMachine returns the fastMachine of a program whose special
// opcodes are specials, from base, with one operation per instruction.
func newFastMachine(specials *[256]special, base uint8, minInst, constAdd uint64) *fastMachine {
	m := &fastMachine{minInst: minInst, constAdv: minInst * constAdd}
	for op := range m.steps {
		m.steps[op] = step{adv: noStep}
		if op >= int(base) {
			m.steps[op] = step{adv: uint16(minInst * uint64(specials[op].ops)), line: specials[op].line}
		}
	}
	return m
}

// run runs, from data[pos], the special opcodes and DW_LNS_copy that add
// a row after the last one of the sequence starting at seqStart (rows has
// room), and the standard and extended opcodes between them that take no
// operand or one of one or two bytes and touch neither the sequence nor
// the files. It stops before the first opcode it leaves to runLineProgram
// and returns its position and the rows. It is a small function of its
// own, with the fewest values live in its loop, so that they all stay in
// machine registers; inlined into runLineProgram, as the profile-guided
// build did, they were spilled to the stack around every opcode.
//
//go:noinline
func (m *fastMachine) run(data []byte, pos int, rows []lineRow, seqStart int) (int, []lineRow) {
	address, line, file := m.address, m.line, m.file
	n := len(rows)
	// A row replaces or follows the last one of its sequence, which
	// needs one, and names a file a row can hold. Neither changes in
	// the loop once true: rows only grow, and the files it sets are
	// small.
	if n <= seqStart || file >= uint64(noFile) {
		return pos, rows
	}
	buf := rows[:cap(rows)]
	prev := buf[n-1].Address
loop:
	for pos < len(data) {
		op := data[pos]
		if st := m.steps[op]; st.adv != noStep {
			a := address + uint64(st.adv)
			l := line + int64(st.line)
			switch {
			case prev == a:
				// A row at the previous row's address replaces it
				// (see addRow).
				buf[n-1] = lineRow{Address: a, File: uint32(file), Line: uint32(l)}
			case prev < a && n < len(buf):
				buf[n] = lineRow{Address: a, File: uint32(file), Line: uint32(l)}
				n++
			default:
				break loop
			}
			address, line, prev = a, l, a
			pos++
			continue
		}
		switch op {
		case lnsNegateStmt, lnsSetBasicBlock, lnsSetPrologueEnd, lnsSetEpilogueBegin:
			pos++
			continue
		case lnsConstAddPC:
			address += m.constAdv
			pos++
			continue
		case lnsCopy:
			switch {
			case prev == address:
				buf[n-1] = lineRow{Address: address, File: uint32(file), Line: uint32(line)}
			case prev < address && n < len(buf):
				buf[n] = lineRow{Address: address, File: uint32(file), Line: uint32(line)}
				n++
			default:
				break loop
			}
			prev = address
			pos++
			continue
		}
		if pos+1 >= len(data) {
			break loop
		}
		c := data[pos+1]
		switch {
		case c < 0x80 && op == lnsSetColumn:
			pos += 2
		case c < 0x80 && op == lnsAdvanceLine:
			v := int64(c)
			if c&0x40 != 0 {
				v |= -1 << 7
			}
			line += v
			pos += 2
		case c < 0x80 && op == lnsSetFile:
			file = uint64(c)
			pos += 2
		case c < 0x80 && op == lnsAdvancePC:
			address += m.minInst * uint64(c)
			pos += 2
		case c != 0 && c < 0x80 && op == 0 && pos+2+int(c) <= len(data) && data[pos+2] > lneDefineFile:
			// An extended opcode other than end_sequence, set_address
			// and define_file (set_discriminator, vendor ones): skipped
			// whole.
			pos += 2 + int(c)
		case c >= 0x80 && pos+2 < len(data) && data[pos+2] < 0x80 && (op == lnsAdvanceLine || op == lnsAdvancePC):
			d := data[pos+2]
			if op == lnsAdvanceLine {
				// Backward steps of more than 64 lines.
				v := int64(c&0x7f) | int64(d)<<7
				if d&0x40 != 0 {
					v |= -1 << 14
				}
				line += v
			} else {
				address += m.minInst * (uint64(c&0x7f) | uint64(d)<<7)
			}
			pos += 3
		default:
			break loop
		}
	}
	m.address, m.line, m.file = address, line, file
	return pos, buf[:n]
}

// addRow appends a row to the rows of the sequence starting at seqStart.
// A row at the address of the sequence's previous row replaces it (the
// last row at an address is the one kept, see sortRows), except the row
// ending a sequence, which sortRows handles so that an unsorted sequence
// keeps the rows it always kept; a row before the previous one clears
// *sorted. progSize and left, the program's size and what is left of it,
// size the growth of rows.
func addRow(rows []lineRow, seqStart int, sorted *bool, address, file uint64, line int64, end bool, progSize, left int) []lineRow {
	f := uint32(file)
	if file >= uint64(noFile) {
		f = noFile - 1
	}
	if end {
		f = noFile
	}
	r := lineRow{Address: address, File: f, Line: uint32(line)}
	if n := len(rows); n > seqStart {
		switch prev := rows[n-1].Address; {
		case prev == address && !end:
			rows[n-1] = r
			return rows
		case prev > address:
			*sorted = false
		}
	}
	if len(rows) == cap(rows) {
		// Every row takes at least one byte of what is left.
		read := int64(max(progSize-left, 1))
		want := int64(len(rows)) + int64(len(rows))*int64(left)/read + 16
		want = min(max(want*9/8, int64(len(rows))*5/4), int64(len(rows)+left+16))
		rows = slices.Grow(rows, int(want)-len(rows))
	}
	return append(rows, r)
}

// seqSpan is a sequence of a line program: rows[start:end], the last one
// ending it. sorted is set when its addresses never go backwards; no two
// consecutive rows of it share an address.
type seqSpan struct {
	start, end int
	sorted     bool
}

// sortRows orders the sequences by start address and drops empty or
// overlapping ones; rows sharing an address collapse to the last one, the
// row llvm-symbolizer reports for such an address.
func sortRows(rows []lineRow, seqs []seqSpan) []lineRow {
	valid := seqs[:0]
	for _, s := range seqs {
		if s.end-s.start >= 2 && rows[s.start].Address < rows[s.end-1].Address {
			valid = append(valid, s)
		}
	}
	seqs = valid
	byStart := func(a, b seqSpan) int { return cmpU64(rows[a.start].Address, rows[b.start].Address) }
	// Compilers emit sequences in address order, and then the rows can be
	// compacted in place: every write lands at or before the row just
	// read.
	out := rows[:0]
	if !slices.IsSortedFunc(seqs, byStart) {
		slices.SortStableFunc(seqs, byStart)
		out = make([]lineRow, 0, len(rows))
	}
	byAddr := func(a, b lineRow) int { return cmpU64(a.Address, b.Address) }
	for _, s := range seqs {
		r := rows[s.start:s.end]
		if len(out) > 0 && r[0].Address < out[len(out)-1].Address {
			continue // overlaps the previous sequence
		}
		if !s.sorted {
			// Addresses going backwards inside a sequence are invalid;
			// keep the rows usable by ordering them, then collapse.
			end := r[len(r)-1]
			r = slices.Clone(r[:len(r)-1])
			slices.SortStableFunc(r, byAddr)
			end.Address = max(end.Address, r[len(r)-1].Address)
			r = append(r, end)
			for _, row := range r {
				if n := len(out); n > 0 && out[n-1].Address == row.Address {
					out[n-1] = row
					continue
				}
				out = append(out, row)
			}
			continue
		}
		// A sorted sequence has no duplicate addresses left but at its
		// ends: its first row may meet the previous sequence's end, its
		// end row the row before it.
		body, end := r[:len(r)-1], r[len(r)-1]
		if n := len(out); n > 0 && out[n-1].Address == body[0].Address {
			out[n-1] = body[0]
			body = body[1:]
		}
		if n := len(out); n < cap(out) && len(body) > 0 && &out[:n+1][n] == &body[0] {
			out = out[:n+len(body)] // already in place
		} else {
			out = append(out, body...)
		}
		if n := len(out); n > 0 && out[n-1].Address == end.Address {
			out[n-1] = end
		} else {
			out = append(out, end)
		}
	}
	return slices.Clip(out)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// v4File builds a DWARF 2–4 file entry: directory 0 is the compilation
// directory, k > 0 the k-th include directory.
func v4File(name []byte, dir uint64, dirs []string) lineFile {
	f := lineFile{name: string(name)}
	if dir > 0 && dir <= uint64(len(dirs)) {
		f.dir = dirs[dir-1]
	}
	return f
}

// readEntries reads a DWARF 5 directory or file name table: a format
// description, a count, then the entries. dirs is nil while reading the
// directory table itself.
func readEntries(b *buf, sec lineSections, is64 bool, dirs []string) ([]lineFile, error) {
	type lnct struct{ kind, form uint64 }
	nfmt := b.u8()
	formats := make([]lnct, nfmt)
	for i := range formats {
		formats[i] = lnct{b.uleb(), b.uleb()}
	}
	count := b.uleb()
	if b.err != nil {
		return nil, b.err
	}
	// Each entry takes at least one byte unless the format is empty.
	if count > uint64(b.left()) && (len(formats) > 0 || count > 1<<16) {
		return nil, &FormatError{Section: ".debug_line", Offset: b.off(), Msg: fmt.Sprintf("%d entries in %d bytes", count, b.left())}
	}
	out := make([]lineFile, 0, count)
	for range count {
		var f lineFile
		dirIdx := uint64(0)
		hasDir := false
		for _, fm := range formats {
			var s []byte
			var v uint64
			switch fm.form {
			case formString:
				s = b.cstr()
			case formLineStrp:
				s, _ = cstrAt(sec.lineStr, b.offset(is64))
			case formStrp:
				s, _ = cstrAt(sec.str, b.offset(is64))
			case formStrpSup, formGNUStrpAlt:
				b.offset(is64)
			case formStrx, formUdata:
				v = b.uleb()
			case formStrx1, formData1:
				v = uint64(b.u8())
			case formStrx2, formData2:
				v = uint64(b.u16())
			case formStrx3:
				v = uint64(b.u24())
			case formStrx4, formData4:
				v = uint64(b.u32())
			case formData8:
				v = b.u64()
			case formData16:
				b.skip(16)
			case formBlock:
				b.skip(b.uleb())
			case formBlock1:
				b.skip(uint64(b.u8()))
			case formBlock2:
				b.skip(uint64(b.u16()))
			case formBlock4:
				b.skip(uint64(b.u32()))
			case formSdata:
				b.sleb()
			default:
				return nil, &FormatError{Section: ".debug_line", Offset: b.off(), Msg: fmt.Sprintf("unsupported form %#x in entry format", fm.form)}
			}
			switch fm.kind {
			case lnctPath:
				f.name = string(s)
			case lnctDirectoryIndex:
				dirIdx, hasDir = v, true
			}
		}
		if b.err != nil {
			return nil, b.err
		}
		if dirs != nil {
			if hasDir && dirIdx < uint64(len(dirs)) {
				f.dir = dirs[dirIdx]
			}
			f.dirIsCompDir = dirIdx == 0
		}
		out = append(out, f)
	}
	return out, nil
}
