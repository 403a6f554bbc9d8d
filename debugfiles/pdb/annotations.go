package pdb

// annotationState decodes the binary annotations of an S_INLINESITE
// record: a small program whose "emitting" opcodes (ChangeCodeOffset,
// ChangeCodeOffsetAndLineOffset, ChangeCodeLengthAndCodeOffset) start a
// line row at the current code offset; a row without an explicit length
// ends where the next row starts, or where a ChangeCodeLength says. Code
// offsets are relative to the start of the code chunk
// ChangeCodeOffsetBase selects (chunk 0 is the procedure itself), lines to
// the inlinee's first line.
//
// The state machine follows cvinfo.h's BinaryAnnotationOpcode. A row left
// open at the end of the program has no known length and is dropped, as
// llvm-symbolizer ignores it too.

// uncompress reads one CVUncompressData value; ok is false on truncated or
// invalid (0xE0-prefixed) data.
func uncompress(b []byte, pos *int) (uint32, bool) {
	p := *pos
	if p >= len(b) {
		return 0, false
	}
	c := b[p]
	switch {
	case c&0x80 == 0:
		*pos = p + 1
		return uint32(c), true
	case c&0xc0 == 0x80:
		if p+2 > len(b) {
			return 0, false
		}
		*pos = p + 2
		return uint32(c&0x3f)<<8 | uint32(b[p+1]), true
	case c&0xe0 == 0xc0:
		if p+4 > len(b) {
			return 0, false
		}
		*pos = p + 4
		return uint32(c&0x1f)<<24 | uint32(b[p+1])<<16 | uint32(b[p+2])<<8 | uint32(b[p+3]), true
	}
	return 0, false
}

// decodeSigned undoes EncodeSignedInt32: the low bit is the sign.
func decodeSigned(v uint32) int32 {
	if v&1 != 0 {
		return -int32(v >> 1)
	}
	return int32(v >> 1)
}

// inlineRows runs the annotation program ann and appends the rows it
// emits to dst. chunks are the start addresses of the procedure's code
// chunks (chunks[0] the procedure, then its S_SEPCODE blocks); line and
// file start from the inlinee's DEBUG_S_INLINEELINES entry.
func inlineRows(ann []byte, chunks []uint64, line, file uint32, dst []lineRow) []lineRow {
	var (
		pos     int
		offset  uint32
		base    = chunks[0]
		baseOK  = true
		curLine = int64(line)
		curFile = file
		pending uint32 // length given by ChangeCodeLengthAndCodeOffset
		hasLen  bool
		open    = -1 // index in dst of a row whose end is not known yet
	)
	emit := func() {
		addr := base + uint64(offset)
		if open >= 0 {
			if addr > dst[open].start {
				dst[open].end = addr
			} else {
				dst = append(dst[:open], dst[open+1:]...) // empty row
			}
			open = -1
		}
		if !baseOK {
			hasLen = false
			return
		}
		r := lineRow{start: addr, line: uint32(curLine), file: curFile}
		if hasLen {
			r.end = addr + uint64(pending)
			hasLen = false
			if r.end > r.start {
				dst = append(dst, r)
			}
			return
		}
		dst = append(dst, r)
		open = len(dst) - 1
	}
	for pos < len(ann) {
		op, ok := uncompress(ann, &pos)
		if !ok || op == baInvalid {
			break
		}
		var a, b uint32
		if op != baChangeCodeOffsetAndLineOffset && op <= baChangeColumnEnd {
			if a, ok = uncompress(ann, &pos); !ok {
				break
			}
		}
		switch op {
		case baCodeOffset:
			offset = a
		case baChangeCodeOffsetBase:
			if int(a) < len(chunks) {
				base, baseOK = chunks[a], true
			} else {
				baseOK = false
			}
			offset = 0
		case baChangeCodeOffset:
			offset += a
			emit()
		case baChangeCodeLength:
			if open >= 0 {
				end := dst[open].start + uint64(a)
				if end > dst[open].start {
					dst[open].end = end
				} else {
					dst = append(dst[:open], dst[open+1:]...)
				}
				open = -1
			}
			offset += a
		case baChangeFile:
			curFile = a
		case baChangeLineOffset:
			curLine += int64(decodeSigned(a))
		case baChangeLineEndDelta, baChangeRangeKind, baChangeColumnStart, baChangeColumnEndDelta, baChangeColumnEnd:
			// Line ends, expression ranges and columns are not kept.
		case baChangeCodeOffsetAndLineOffset:
			var v uint32
			if v, ok = uncompress(ann, &pos); !ok {
				break
			}
			offset += v & 0xf
			curLine += int64(decodeSigned(v >> 4))
			emit()
		case baChangeCodeLengthAndCodeOffset:
			if b, ok = uncompress(ann, &pos); !ok {
				break
			}
			pending, hasLen = a, true
			offset += b
			emit()
		default:
			// An opcode newer than this reader: its operand count is
			// unknown, so nothing after it can be trusted.
			pos = len(ann)
		}
		if !ok {
			break
		}
	}
	if open >= 0 {
		dst = append(dst[:open], dst[open+1:]...)
	}
	return dst
}
