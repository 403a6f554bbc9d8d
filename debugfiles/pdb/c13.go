package pdb

import (
	"cmp"
	"fmt"
	"slices"
)

// lineRow is one row of a line table in source addresses (before OMAP): the
// range [start, end) comes from line line of the file whose checksum entry
// is at offset file of the module's DEBUG_S_FILECHKSMS subsection.
type lineRow struct {
	start, end uint64
	line       uint32
	file       uint32
}

// inlineeSource is where an inlined function starts: a file checksum
// offset and a line (DEBUG_S_INLINEELINES).
type inlineeSource struct {
	file, line uint32
}

// c13 is the decoded C13 line information of one module.
type c13 struct {
	checksums []byte
	rows      []lineRow // sorted by start
	inlinees  map[uint32]inlineeSource
}

// lineColumnsFlag marks DEBUG_S_LINES blocks followed by column entries.
const lineColumnsFlag = 0x1

// reset empties c for the next module, keeping its memory.
func (c *c13) reset() {
	c.checksums = nil
	c.rows = c.rows[:0]
	if c.inlinees == nil {
		c.inlinees = map[uint32]inlineeSource{}
	}
	clear(c.inlinees)
}

// parse decodes the subsections of a module's C13 line information into
// c. The line rows are converted to source addresses with am; rows whose
// segment is unknown are dropped.
func (c *c13) parse(data []byte, where string, stream int, base int64, am *addressMap) error {
	d := newDecoder(where, stream, base, data)
	var lines [][]byte
	var lineOffs []int64
	for d.left() >= 8 && d.err == nil {
		kind := d.u32()
		n := d.u32()
		off := base + int64(d.pos)
		body := d.bytes(int(n))
		d.align(4)
		if d.err != nil {
			break
		}
		if kind&debugSIgnore != 0 {
			continue
		}
		switch kind {
		case debugSFileChksms:
			if c.checksums == nil {
				c.checksums = body
			}
		case debugSLines:
			lines = append(lines, body)
			lineOffs = append(lineOffs, off)
		case debugSInlineeLines:
			if err := c.parseInlineeLines(body, where, stream, off); err != nil {
				return err
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	for i, b := range lines {
		if err := c.parseLines(b, where, stream, lineOffs[i], am); err != nil {
			return err
		}
	}
	if !slices.IsSortedFunc(c.rows, cmpRow) {
		slices.SortStableFunc(c.rows, cmpRow)
	}
	return nil
}

func cmpRow(a, b lineRow) int { return cmp.Compare(a.start, b.start) }

// parseLines decodes one DEBUG_S_LINES subsection: a header naming the
// code range, then blocks of rows, one block per source file.
func (c *c13) parseLines(b []byte, where string, stream int, base int64, am *addressMap) error {
	d := newDecoder(where, stream, base, b)
	relOff := d.u32()
	seg := d.u16()
	flags := d.u16()
	codeSize := d.u32()
	if d.err != nil {
		return d.err
	}
	start, ok := am.srcRVA(seg, relOff)
	if !ok {
		return nil // code in a section the PDB does not describe
	}
	end := uint64(start) + uint64(codeSize)
	rowSize := 8
	if flags&lineColumnsFlag != 0 {
		rowSize = 12
	}
	first := len(c.rows)
	for d.left() >= 12 && d.err == nil {
		blockStart := d.pos
		file := d.u32()
		n := d.u32()
		size := d.u32()
		if uint64(size) < 12 || uint64(size) > uint64(len(b)-blockStart) || uint64(n)*uint64(rowSize) > uint64(size-12) {
			d.fail("line block of %d bytes with %d rows", size, n)
			break
		}
		for range n {
			off := d.u32()
			fl := d.u32()
			c.rows = append(c.rows, lineRow{start: uint64(start) + uint64(off), line: fl & 0xffffff, file: file})
		}
		d.pos = blockStart + int(size)
	}
	// The blocks of a subsection (one per source file) share its code: a
	// row ends where the next row of any block begins, the last one where
	// the subsection's code ends. The first row also covers any code
	// before it, as llvm-symbolizer reads it: a function starting
	// with inlined code may have its first row after its first byte.
	rows := c.rows[first:]
	if !slices.IsSortedFunc(rows, cmpRow) {
		slices.SortStableFunc(rows, cmpRow)
	}
	if len(rows) > 0 && rows[0].start > uint64(start) {
		rows[0].start = uint64(start)
	}
	for i := range rows {
		e := end
		if i+1 < len(rows) {
			e = rows[i+1].start
		}
		rows[i].end = max(e, rows[i].start)
	}
	if d.err != nil {
		return fmt.Errorf("lines: %w", d.err)
	}
	return nil
}

// Signatures of DEBUG_S_INLINEELINES subsections.
const (
	inlineeSourceLine   = 0x0
	inlineeSourceLineEx = 0x1
)

// parseInlineeLines decodes a DEBUG_S_INLINEELINES subsection. The extra
// files of the Ex form list further files the inlinee's code comes from;
// its lines name them through ChangeFile annotations, so they need no
// table here.
func (c *c13) parseInlineeLines(b []byte, where string, stream int, base int64) error {
	d := newDecoder(where, stream, base, b)
	sig := d.u32()
	if sig != inlineeSourceLine && sig != inlineeSourceLineEx {
		return &FormatError{Where: where, Stream: stream, Offset: base, Msg: fmt.Sprintf("inlinee lines signature %#x", sig)}
	}
	for d.left() >= 12 && d.err == nil {
		id := d.u32()
		file := d.u32()
		line := d.u32()
		if sig == inlineeSourceLineEx {
			n := d.u32()
			if uint64(n) > uint64(d.left()/4) {
				d.fail("%d extra files", n)
				break
			}
			d.skip(int(n) * 4)
		}
		if d.err == nil {
			if _, dup := c.inlinees[id]; !dup {
				c.inlinees[id] = inlineeSource{file: file, line: line}
			}
		}
	}
	if d.err != nil {
		return fmt.Errorf("inlinee lines: %w", d.err)
	}
	return nil
}

// fileName resolves a file checksum offset to the file's name in /names.
func (c *c13) fileNameOffset(off uint32) (uint32, bool) {
	if uint64(off)+6 > uint64(len(c.checksums)) {
		return 0, false
	}
	b := c.checksums[off:]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, true
}

// rowsIn returns the rows starting in [start, end).
func (c *c13) rowsIn(start, end uint64) []lineRow {
	i, _ := slices.BinarySearchFunc(c.rows, start, func(r lineRow, a uint64) int { return cmp.Compare(r.start, a) })
	j := i
	for j < len(c.rows) && c.rows[j].start < end {
		j++
	}
	return c.rows[i:j]
}
