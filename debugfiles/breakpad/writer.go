package breakpad

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/bits"
	"slices"
	"strconv"
)

// Writer emits symbol file records in dump_syms' textual format (Breakpad's
// Module::Write): lowercase hex without "0x" for addresses, sizes and
// parameter sizes, decimal for line numbers, depths and indexes, one space
// between fields, "\n" line ends. Records are written in the order the
// methods are called; the format expects MODULE first, FILE and
// INLINE_ORIGIN records before the FUNCs that use them, and STACK records
// last.
//
// The first write error is kept and returned by Flush; later calls do
// nothing. Line breaks inside names are written as spaces, because they
// would end the record.
type Writer struct {
	w *bufio.Writer
	// mem, when inMem is set, receives the records instead of w:
	// writeFuncs formats blocks of FUNC text in memory, and they are
	// written out whole.
	mem   []byte
	inMem bool
	err   error
}

// memWriter returns a Writer appending its records to buf[:0]; text
// returns them.
func memWriter(buf []byte) *Writer { return &Writer{mem: buf[:0], inMem: true} }

// text returns the records of a memWriter.
func (w *Writer) text() []byte { return w.mem }

// memSlack is the room begin leaves at the end of an in-memory Writer's
// buffer: most functions fit, and a longer one is copied once.
const memSlack = 32 << 10

// NewWriter returns a Writer buffering its output to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10)}
}

// Flush writes buffered records and returns the first error.
func (w *Writer) Flush() error {
	if w.err != nil || w.inMem {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}

// put writes one record built in b (from begin).
func (w *Writer) put(b []byte) {
	if w.inMem {
		// A record formatted in place only needs the length extended.
		if n := len(w.mem); len(b) > 0 && cap(w.mem)-n >= len(b) && &w.mem[:n+1][n] == &b[0] {
			w.mem = w.mem[:n+len(b)]
			return
		}
		w.mem = append(w.mem, b...)
		return
	}
	if w.err != nil {
		return
	}
	_, w.err = w.w.Write(b)
}

// begin returns an empty slice backed by the free space of the buffer
// records go to, so they are formatted in place without a copy in the
// common case.
func (w *Writer) begin() []byte {
	if w.inMem {
		if cap(w.mem)-len(w.mem) < memSlack {
			// Doubling, from a few functions' worth: the buffers of
			// writeFuncs are reused, and grow to a block's text once.
			w.mem = slices.Grow(w.mem, max(len(w.mem), 4*memSlack))
		}
		return w.mem[len(w.mem):]
	}
	return w.w.AvailableBuffer()
}

// appendHex appends v in lowercase hex. Line records are most of a symbol
// file, three numbers each, so the digits are written straight into place
// (putHex), their count known from the bit length, without strconv's loop
// for any base.
func appendHex(b []byte, v uint64) []byte {
	b = slices.Grow(b, 16)
	n := len(b)
	return b[:putHex(b[:n+16], n, v)]
}

// appendDec appends v in decimal. Line numbers and indexes are never
// negative; they are written by putDec without strconv's general path.
func appendDec(b []byte, v int64) []byte {
	if v < 0 {
		return strconv.AppendInt(b, v, 10)
	}
	b = slices.Grow(b, 20)
	n := len(b)
	return b[:putDec(b[:n+20], n, uint64(v))]
}

// appendName appends a name, turning line breaks into spaces.
func appendName(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return appendNameSlow(b, s)
		}
	}
	return append(b, s...)
}

func appendNameSlow(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// Module writes "MODULE <os> <arch> <id> <name>".
func (w *Writer) Module(os, arch, id, name string) {
	b := append(w.begin(), "MODULE "...)
	b = appendName(b, os)
	b = append(b, ' ')
	b = appendName(b, arch)
	b = append(b, ' ')
	b = appendName(b, id)
	b = append(b, ' ')
	b = appendName(b, name)
	w.put(append(b, '\n'))
}

// CodeID writes "INFO CODE_ID <id>", followed by " <file>" when file is not
// empty.
func (w *Writer) CodeID(id, file string) {
	b := append(w.begin(), "INFO CODE_ID "...)
	b = appendName(b, id)
	if file != "" {
		b = append(b, ' ')
		b = appendName(b, file)
	}
	w.put(append(b, '\n'))
}

// Info writes "INFO <text>".
func (w *Writer) Info(text string) {
	b := append(w.begin(), "INFO "...)
	w.put(append(appendName(b, text), '\n'))
}

// File writes a FILE record.
func (w *Writer) File(f File) {
	b := append(w.begin(), "FILE "...)
	b = appendDec(b, f.Index)
	b = append(b, ' ')
	w.put(append(appendName(b, f.Name), '\n'))
}

// InlineOrigin writes an INLINE_ORIGIN record.
func (w *Writer) InlineOrigin(o InlineOrigin) {
	b := append(w.begin(), "INLINE_ORIGIN "...)
	b = appendDec(b, o.Index)
	b = append(b, ' ')
	if o.Legacy {
		b = appendDec(b, o.File)
		b = append(b, ' ')
	}
	w.put(append(appendName(b, o.Name), '\n'))
}

// appendFuncLine appends a FUNC record's line: address, size, parameter
// size and name, with "m" when the function was merged with others.
func appendFuncLine(b []byte, multiple bool, addr, size, paramSize uint64, name string) []byte {
	b = append(b, "FUNC "...)
	if multiple {
		b = append(b, "m "...)
	}
	b = appendHex(b, addr)
	b = append(b, ' ')
	b = appendHex(b, size)
	b = append(b, ' ')
	b = appendHex(b, paramSize)
	b = append(b, ' ')
	return append(appendName(b, name), '\n')
}

// Func writes a FUNC record, then its INLINE records, then its line
// records, in the order dump_syms writes them.
func (w *Writer) Func(f *Func) {
	w.put(appendFuncLine(w.begin(), f.Multiple, f.Address, f.Size, f.ParamSize, f.Name))
	for i := range f.Inlines {
		w.inline(&f.Inlines[i])
	}
	for _, l := range f.Lines {
		w.line(l)
	}
}

// encodedFunc writes the records Func writes for r, whose inlines and
// lines are enc (see encodeFunc), with the provisional file and origin
// indexes mapped to final ones (see remap). It formats straight from the
// encoding: building a Func first would cost as much as the formatting.
func (w *Writer) encodedFunc(r *record, enc []byte, fileMap, originMap []int64) {
	// The records of a function are formatted as one piece: a function
	// has hundreds of line records, and handing each over on its own
	// cost a fifth of the formatting.
	b := appendFuncLine(w.begin(), r.multiple, r.addr, r.size, 0, r.name)

	d := encoded{b: enc}
	for range d.u() {
		b = append(b, "INLINE "...)
		b = appendDec(b, int64(uint32(d.u()))) // depth
		b = append(b, ' ')
		b = appendDec(b, int64(uint32(d.u()))) // call line
		b = append(b, ' ')
		if file := int64(d.u()) - 1; file >= 0 {
			b = appendDec(b, fileMap[file])
		} else {
			b = appendDec(b, file)
		}
		b = append(b, ' ')
		b = appendDec(b, originMap[d.u()])
		for range d.u() {
			b = append(b, ' ')
			b = appendHex(b, r.addr+uint64(d.s()))
			b = append(b, ' ')
			b = appendHex(b, d.u())
		}
		b = append(b, '\n')
	}
	ld := lineDecoder{end: r.addr}
	for d.i < len(d.b) {
		addr, size, line, file := ld.next(&d)
		b = appendLine(b, addr, size, line, fileMap[file])
	}
	w.put(b)
}

// maxLine is the longest line record: two 64-bit numbers in hex, a 32-bit
// and a 64-bit one in decimal, their separators and the line end.
const maxLine = 16 + 1 + 16 + 1 + 10 + 1 + 20 + 1

// appendLine appends a line record, "<addr> <size> <line> <file>\n". Line
// records are most of a symbol file: room for the longest is made once,
// and the digits are written in place, the address and size a word at a
// time (hexWord) when they are below 2^32, as they nearly always are.
// That path repeats putHex's rather than calling it: putHex is too large
// for the compiler to inline, and the two calls made line formatting ~12%
// slower on the bench fixture's 413,000 lines.
func appendLine(b []byte, addr, size uint64, line uint32, file int64) []byte {
	if file < 0 {
		// Never for a file the record's function uses; written as
		// Line would write it.
		b = appendHex(b, addr)
		b = append(b, ' ')
		b = appendHex(b, size)
		b = append(b, ' ')
		b = appendDec(b, int64(line))
		b = append(b, ' ')
		b = appendDec(b, file)
		return append(b, '\n')
	}
	b = slices.Grow(b, maxLine)
	n := len(b)
	out := b[n : n+maxLine]
	var i int
	if addr|size < 1<<32 {
		i = max((bits.Len64(addr)+3)/4, 1)
		binary.BigEndian.PutUint64(out, hexWord(addr)<<(64-8*i))
		out[i] = ' '
		k := max((bits.Len64(size)+3)/4, 1)
		binary.BigEndian.PutUint64(out[i+1:], hexWord(size)<<(64-8*k))
		i += k + 1
	} else {
		i = putHex(out, 0, addr)
		out[i] = ' '
		i = putHex(out, i+1, size)
	}
	out[i] = ' '
	i = putDec(out, i+1, uint64(line))
	out[i] = ' '
	i = putDec(out, i+1, uint64(file))
	out[i] = '\n'
	return b[:n+i+1]
}

// putHex writes v in lowercase hex at out[i:] and returns the index past
// it; out has room for the digits. A value below 2^32 with 8 bytes of room
// is converted a word at a time (hexWord), the rest a digit at a time.
func putHex(out []byte, i int, v uint64) int {
	n := max((bits.Len64(v)+3)/4, 1)
	if v < 1<<32 && i+8 <= len(out) {
		binary.BigEndian.PutUint64(out[i:], hexWord(v)<<(64-8*n))
		return i + n
	}
	const digits = "0123456789abcdef"
	end := i + n
	for k := end - 1; k >= i; k-- {
		out[k] = digits[v&0xf]
		v >>= 4
	}
	return end
}

// hexWord returns the 8 hex digits of v < 2^32 as a big-endian word: each
// nibble is spread to a byte of its own, then made a digit, with the gap
// between '9' and 'a' added to the bytes of 10 and more.
func hexWord(v uint64) uint64 {
	x := (v | v<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	letters := (x + 0x0606060606060606) >> 4 & 0x0101010101010101
	return x + 0x3030303030303030 + letters*('a'-'9'-1)
}

// decPairs holds the two digits of every number below 100.
const decPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// putDec writes v in decimal at out[i:] and returns the index past it;
// out has room. Line numbers and file indexes nearly always have four
// digits or fewer, written two at a time from the pairs table.
func putDec(out []byte, i int, v uint64) int {
	if v >= 10000 {
		return putDecLong(out, i, v)
	}
	if v < 100 {
		if v < 10 {
			out[i] = byte('0' + v)
			return i + 1
		}
		out[i], out[i+1] = decPairs[2*v], decPairs[2*v+1]
		return i + 2
	}
	q, r := v/100, v%100
	if q < 10 {
		out[i], out[i+1], out[i+2] = byte('0'+q), decPairs[2*r], decPairs[2*r+1]
		return i + 3
	}
	out[i], out[i+1], out[i+2], out[i+3] = decPairs[2*q], decPairs[2*q+1], decPairs[2*r], decPairs[2*r+1]
	return i + 4
}

// pow10 holds the powers of ten a uint64 can hold.
var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// putDecLong is putDec for any v of two digits or more. The digit count
// comes first, from the bit length (1233/4096 is just above log10(2)), so
// that the digits are written in place two at a time from the end.
func putDecLong(out []byte, i int, v uint64) int {
	t := bits.Len64(v) * 1233 >> 12
	end := i + t + 1
	if v < pow10[t] {
		end--
	}
	k := end
	for v >= 100 {
		r := v % 100
		v /= 100
		k -= 2
		out[k], out[k+1] = decPairs[2*r], decPairs[2*r+1]
	}
	if v >= 10 {
		out[k-2], out[k-1] = decPairs[2*v], decPairs[2*v+1]
	} else {
		out[k-1] = byte('0' + v)
	}
	return end
}

func (w *Writer) inline(in *Inline) {
	b := append(w.begin(), "INLINE "...)
	b = appendDec(b, int64(in.Depth))
	b = append(b, ' ')
	b = appendDec(b, int64(in.CallLine))
	b = append(b, ' ')
	if !in.Legacy {
		b = appendDec(b, in.CallFile)
		b = append(b, ' ')
	}
	b = appendDec(b, in.Origin)
	for _, r := range in.Ranges {
		b = append(b, ' ')
		b = appendHex(b, r.Address)
		b = append(b, ' ')
		b = appendHex(b, r.Size)
	}
	w.put(append(b, '\n'))
}

func (w *Writer) line(l Line) {
	b := appendHex(w.begin(), l.Address)
	b = append(b, ' ')
	b = appendHex(b, l.Size)
	b = append(b, ' ')
	b = appendDec(b, int64(l.Number))
	b = append(b, ' ')
	b = appendDec(b, l.File)
	w.put(append(b, '\n'))
}

// Public writes a PUBLIC record.
func (w *Writer) Public(p Public) {
	b := append(w.begin(), "PUBLIC "...)
	if p.Multiple {
		b = append(b, "m "...)
	}
	b = appendHex(b, p.Address)
	b = append(b, ' ')
	b = appendHex(b, p.ParamSize)
	b = append(b, ' ')
	w.put(append(appendName(b, p.Name), '\n'))
}

// Stack writes a STACK record given as a whole line ("STACK CFI ...").
func (w *Writer) Stack(line string) {
	w.put(append(appendName(w.begin(), line), '\n'))
}

// header writes the records before the first FUNC: MODULE, INFO, FILE and
// INLINE_ORIGIN.
func (w *Writer) header(m *Module) {
	w.Module(m.OS, m.Arch, m.ID, m.Name)
	if m.CodeID != "" {
		w.CodeID(m.CodeID, m.CodeFile)
	}
	for _, s := range m.Info {
		w.Info(s)
	}
	for _, f := range m.Files {
		w.File(f)
	}
	for _, o := range m.InlineOrigins {
		w.InlineOrigin(o)
	}
}

// WriteModule writes m as a symbol file: MODULE, INFO, FILE, INLINE_ORIGIN,
// FUNC (each with its INLINE and line records) and PUBLIC records, then
// STACK records.
func WriteModule(out io.Writer, m *Module) error {
	w := NewWriter(out)
	w.header(m)
	pubs := m.Publics
	for i := range m.Funcs {
		f := &m.Funcs[i]
		if m.InterleavePublics {
			for len(pubs) > 0 && pubs[0].Address < f.Address {
				w.Public(pubs[0])
				pubs = pubs[1:]
			}
		}
		w.Func(f)
	}
	for _, p := range pubs {
		w.Public(p)
	}
	for _, s := range m.Stack {
		w.Stack(s)
	}
	return w.Flush()
}
