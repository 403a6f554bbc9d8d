package breakpad

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// RecordKind identifies the kind of a symbol file record.
type RecordKind uint8

// Record kinds, one per line type of the format.
const (
	KindNone RecordKind = iota
	// KindModule is "MODULE <os> <arch> <id> <name>".
	KindModule
	// KindInfo is "INFO <key> <value>", e.g. "INFO CODE_ID <id> [<file>]".
	KindInfo
	// KindFile is "FILE <index> <name>".
	KindFile
	// KindInlineOrigin is "INLINE_ORIGIN <index> <name>" (or the older
	// "INLINE_ORIGIN <index> <file> <name>").
	KindInlineOrigin
	// KindFunc is "FUNC [m] <address> <size> <param size> <name>".
	KindFunc
	// KindLine is "<address> <size> <line> <file>", a line record of the
	// preceding FUNC.
	KindLine
	// KindInline is "INLINE <depth> <call line> <call file> <origin>
	// (<address> <size>)+" (or the older form without the call file).
	KindInline
	// KindPublic is "PUBLIC [m] <address> <param size> <name>".
	KindPublic
	// KindStackCFIInit is "STACK CFI INIT <address> <size> <rules>".
	KindStackCFIInit
	// KindStackCFI is "STACK CFI <address> <rules>".
	KindStackCFI
	// KindStackWin is "STACK WIN <type> <rva> <code size> ... ".
	KindStackWin
)

var kindNames = [...]string{"none", "MODULE", "INFO", "FILE", "INLINE_ORIGIN", "FUNC", "line", "INLINE", "PUBLIC", "STACK CFI INIT", "STACK CFI", "STACK WIN"}

// String names the record kind as it is spelled in the file.
func (k RecordKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// ModuleRecord is a MODULE line. ID is the debug id in Breakpad's form.
type ModuleRecord struct {
	OS, Arch, ID, Name []byte
}

// InfoRecord is an INFO line. For "INFO CODE_ID" CodeID and CodeFile (which
// Windows symbol files add, empty elsewhere) are set; Value is always the
// text after the key.
type InfoRecord struct {
	Key, Value       []byte
	CodeID, CodeFile []byte
}

// FileRecord is a FILE line.
type FileRecord struct {
	Index int64
	Name  []byte
}

// InlineOriginRecord is an INLINE_ORIGIN line. HasFile reports the older
// form that also names a file (File is -1 for "no file" there).
type InlineOriginRecord struct {
	Index   int64
	HasFile bool
	File    int64
	Name    []byte
}

// FuncRecord is a FUNC line. Multiple is the "m" flag: several functions
// were folded into this code (identical code folding).
type FuncRecord struct {
	Multiple  bool
	Address   uint64
	Size      uint64
	ParamSize uint64
	Name      []byte
}

// LineRecord is a line record: Size bytes at Address come from Line of the
// file with index File. It belongs to the last FUNC before it.
type LineRecord struct {
	Address uint64
	Size    uint64
	Line    uint32
	File    int64
}

// Range is an address range of an INLINE record.
type Range struct {
	Address uint64
	Size    uint64
}

// InlineRecord is an INLINE line: code of the inline origin Origin inlined
// at depth Depth (0 = directly into the FUNC) from CallLine of CallFile.
// HasCallFile is false for the older form without the call file field.
type InlineRecord struct {
	Depth       uint32
	CallLine    uint32
	HasCallFile bool
	CallFile    int64
	Origin      int64
	Ranges      []Range
}

// PublicRecord is a PUBLIC line.
type PublicRecord struct {
	Multiple  bool
	Address   uint64
	ParamSize uint64
	Name      []byte
}

// CFIInitRecord is a "STACK CFI INIT" line: the unwind rules in effect at
// Address for a range of Size bytes, as "<reg>: <expr>" pairs.
type CFIInitRecord struct {
	Address uint64
	Size    uint64
	Rules   []byte
}

// CFIRecord is a "STACK CFI" line: rule changes from Address on, within the
// range of the preceding CFIInitRecord.
type CFIRecord struct {
	Address uint64
	Rules   []byte
}

// WinRecord is a "STACK WIN" line, MSVC frame data for the x86 unwinder.
// Type is 0 (FPO), 1 (trap), 2 (TSS), 3 (standard) or 4 (frame data).
// ProgramString is set when HasProgramString, AllocatesBasePointer otherwise.
type WinRecord struct {
	Type                 uint8
	RVA                  uint64
	CodeSize             uint64
	PrologSize           uint32
	EpilogSize           uint32
	ParamSize            uint32
	SavedRegisterSize    uint32
	LocalSize            uint32
	MaxStackSize         uint32
	HasProgramString     bool
	ProgramString        []byte
	AllocatesBasePointer bool
}

// Record is one parsed line. Kind says which of the typed fields is valid.
// Byte slices point into the Reader's buffer and are valid only until the
// next call to Next; copy what must outlive it.
type Record struct {
	Kind RecordKind
	// LineNo is the 1-based line number in the file.
	LineNo int
	// Text is the whole line without its line terminator.
	Text []byte

	// The typed fields: only the one named after Kind is set.
	Module       ModuleRecord
	Info         InfoRecord
	File         FileRecord
	InlineOrigin InlineOriginRecord
	Func         FuncRecord
	Line         LineRecord
	Inline       InlineRecord
	Public       PublicRecord
	CFIInit      CFIInitRecord
	CFI          CFIRecord
	Win          WinRecord
}

// ParseError is a malformed line: Line is its 1-based number, Msg says what
// is wrong with it.
type ParseError struct {
	Line int
	Msg  string
}

// Error formats the error with its line number.
func (e *ParseError) Error() string { return fmt.Sprintf("breakpad: line %d: %s", e.Line, e.Msg) }

// DefaultMaxLineLength bounds the buffer a streaming Reader grows for one
// line. C++ and Rust names run to a few kilobytes; a line longer than this
// is skipped as malformed instead of driving an allocation.
const DefaultMaxLineLength = 1 << 20

// maxKeptErrors bounds the errors a Reader keeps; the rest are only counted.
const maxKeptErrors = 16

// Reader reads records from a symbol file, one line at a time.
//
// Malformed lines are skipped and counted, as Breakpad's own resolver skips
// and logs them (it keeps loading the file and marks the module corrupt):
// a symbol file with a few bad lines still symbolicates. Set Strict to stop
// at the first bad line instead. Line records and INLINE records that do not
// follow a FUNC are malformed (a PUBLIC ends the current FUNC, as in
// Breakpad). Empty lines are ignored; lines end at "\n", "\r\n" or, as in
// Breakpad, a lone "\r".
type Reader struct {
	// Strict makes the first malformed line end reading; Err returns it.
	Strict bool
	// MaxLineLength bounds a line's length in streaming mode; 0 means
	// DefaultMaxLineLength. Lines read through NewBytesReader are never
	// copied and have no bound.
	MaxLineLength int

	src     io.Reader
	buf     []byte
	r, w    int
	scanned int // bytes of buf[r:w] known to hold no newline
	eof     bool
	discard bool // dropping the rest of an over-long line
	cont    bool // the next line continues a physical line after a '\r'
	crPos   int  // index in buf of the next '\r' (or w), when crValid
	crValid bool

	lineNo  int
	inFunc  bool
	rec     Record
	err     error
	skipped int
	errs    []*ParseError
}

// NewReader reads records from r through an internal buffer.
func NewReader(r io.Reader) *Reader {
	return &Reader{src: r, buf: make([]byte, 64<<10)}
}

// NewBytesReader reads records from data without copying it: a memory
// mapped file is parsed in place.
func NewBytesReader(data []byte) *Reader {
	return &Reader{buf: data, w: len(data), eof: true}
}

// Next advances to the next record; it returns false at the end of the
// input, on an I/O error, or, when Strict, on a malformed line.
func (rd *Reader) Next() bool {
	if rd.err != nil {
		return false
	}
	for {
		line, ok := rd.nextLine()
		if !ok {
			return false
		}
		if len(line) == 0 {
			continue
		}
		msg := rd.parse(line)
		if msg == "" {
			return true
		}
		if !rd.fail(msg) {
			return false
		}
	}
}

// fail records a malformed line and reports whether reading goes on.
func (rd *Reader) fail(msg string) bool {
	rd.skipped++
	pe := &ParseError{Line: rd.lineNo, Msg: msg}
	if len(rd.errs) < maxKeptErrors {
		rd.errs = append(rd.errs, pe)
	}
	if rd.Strict {
		rd.err = pe
		return false
	}
	return true
}

// Record returns the current record; it is overwritten by the next call to
// Next.
func (rd *Reader) Record() *Record { return &rd.rec }

// Err returns the I/O error that ended reading, or in Strict mode the first
// *ParseError; nil at a clean end of input.
func (rd *Reader) Err() error { return rd.err }

// Skipped is the number of malformed lines skipped so far.
func (rd *Reader) Skipped() int { return rd.skipped }

// Errors returns the first malformed lines (at most 16), for reporting.
func (rd *Reader) Errors() []*ParseError { return rd.errs }

// nextLine returns the next line without its terminator. Like Breakpad,
// which splits the file with strtok(..., "\r\n"), it ends a line at '\r'
// as well as at '\n'; the text after a '\r' inside a physical line is
// returned next, with the same line number.
func (rd *Reader) nextLine() ([]byte, bool) {
	cont := rd.cont
	rd.cont = false
	for {
		var start, end int
		if i := bytes.IndexByte(rd.buf[rd.r+rd.scanned:rd.w], '\n'); i >= 0 {
			start, end = rd.r, rd.r+rd.scanned+i
			rd.r = end + 1
		} else if rd.eof {
			if rd.discard {
				rd.discard = false
				rd.r, rd.scanned = rd.w, 0
				if !cont {
					rd.lineNo++
				}
				rd.fail("line too long")
				return nil, false
			}
			if rd.r >= rd.w {
				return nil, false
			}
			start, end = rd.r, rd.w
			rd.r = end
		} else {
			if !rd.fill() {
				return nil, false
			}
			continue
		}
		rd.scanned = 0
		if rd.discard {
			rd.discard = false
			if !cont {
				rd.lineNo++
			}
			if !rd.fail("line too long") {
				return nil, false
			}
			cont = false
			continue
		}
		if !cont {
			rd.lineNo++
		}
		line := rd.buf[start:end]
		// Files rarely hold a '\r', so look for the next one across the
		// whole buffer once rather than within every line.
		if !rd.crValid || rd.crPos < start {
			rd.crPos, rd.crValid = rd.w, true
			if k := bytes.IndexByte(rd.buf[start:rd.w], '\r'); k >= 0 {
				rd.crPos = start + k
			}
		}
		if rd.crPos < end {
			j := rd.crPos - start
			if j+1 < len(line) {
				rd.r, rd.cont = start+j+1, true
			}
			line = line[:j]
		}
		return line, true
	}
}

// fill reads more input, compacting or growing the buffer first.
func (rd *Reader) fill() bool {
	max := rd.MaxLineLength
	if max <= 0 {
		max = DefaultMaxLineLength
	}
	rd.crValid = false
	rd.scanned = rd.w - rd.r
	if rd.discard {
		rd.r, rd.w, rd.scanned = 0, 0, 0
	} else if rd.r > 0 {
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, n
	} else if rd.w == len(rd.buf) {
		if len(rd.buf) >= max {
			// The line does not fit: drop what we have and the rest of it.
			rd.discard = true
			rd.r, rd.w, rd.scanned = 0, 0, 0
		} else {
			nb := make([]byte, min(2*len(rd.buf), max))
			copy(nb, rd.buf[:rd.w])
			rd.buf = nb
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := rd.src.Read(rd.buf[rd.w:])
		if n < 0 || n > len(rd.buf)-rd.w {
			rd.err = errors.New("breakpad: reader returned an invalid count")
			return false
		}
		rd.w += n
		if err == io.EOF {
			rd.eof = true
			return true
		}
		if err != nil {
			rd.err = fmt.Errorf("breakpad: line %d: %w", rd.lineNo+1, err)
			return false
		}
		if n > 0 {
			return true
		}
	}
	rd.err = fmt.Errorf("breakpad: %w", io.ErrNoProgress)
	return false
}

// parse fills rd.rec from one non-empty line; it returns "" or the reason
// the line is malformed.
func (rd *Reader) parse(line []byte) string {
	rec := &rd.rec
	rec.LineNo = rd.lineNo
	rec.Text = line
	switch line[0] {
	case 'F':
		if hasPrefix(line, "FUNC ") {
			rd.inFunc = false
			if msg := rd.parseFunc(line[5:]); msg != "" {
				return msg
			}
			rd.inFunc = true
			return ""
		}
		if hasPrefix(line, "FILE ") {
			return rd.parseFile(line[5:])
		}
	case 'I':
		if hasPrefix(line, "INLINE ") {
			if !rd.inFunc {
				return "INLINE outside a FUNC"
			}
			return rd.parseInline(line[7:])
		}
		if hasPrefix(line, "INLINE_ORIGIN ") {
			return rd.parseInlineOrigin(line[14:])
		}
		if hasPrefix(line, "INFO ") {
			return rd.parseInfo(line[5:])
		}
	case 'P':
		if hasPrefix(line, "PUBLIC ") {
			rd.inFunc = false
			return rd.parsePublic(line[7:])
		}
	case 'S':
		if hasPrefix(line, "STACK ") {
			return rd.parseStack(line[6:])
		}
	case 'M':
		if hasPrefix(line, "MODULE ") {
			return rd.parseModule(line[7:])
		}
	}
	if hexVal[line[0]] == 0xff {
		return "unknown record"
	}
	if !rd.inFunc {
		return "line record outside a FUNC"
	}
	return rd.parseLine(line)
}

func (rd *Reader) parseLine(b []byte) string {
	addr, i, ok := parseHex(b, 0)
	if !ok {
		return "bad line record address"
	}
	size, i, ok := parseHex(b, skipSpaces(b, i))
	if !ok {
		return "bad line record size"
	}
	ln, i, ok := parseDec(b, skipSpaces(b, i), math.MaxUint32)
	if !ok {
		return "bad line number"
	}
	file, _, ok := parseDec(b, skipSpaces(b, i), math.MaxInt64-1)
	if !ok {
		return "bad line record file index"
	}
	// Like Breakpad, anything after the file index is ignored.
	rd.rec.Kind = KindLine
	rd.rec.Line = LineRecord{Address: addr, Size: size, Line: uint32(ln), File: int64(file)}
	return ""
}

// optionalM consumes the "m" flag of FUNC and PUBLIC records.
func optionalM(b []byte, i int) (bool, int) {
	if i+1 < len(b) && b[i] == 'm' && b[i+1] == ' ' {
		return true, skipSpaces(b, i+1)
	}
	return false, i
}

// restAfter returns the text after the single separator ending a field at
// i, as Breakpad's tokenizer hands out the last field: spaces inside (and
// after the first one before) a name are kept.
func restAfter(b []byte, i int) ([]byte, bool) {
	if i >= len(b) {
		return nil, false
	}
	return b[i+1:], true
}

func (rd *Reader) parseFunc(b []byte) string {
	m, i := optionalM(b, skipSpaces(b, 0))
	addr, i, ok := parseHex(b, i)
	if !ok {
		return "bad FUNC address"
	}
	size, i, ok := parseHex(b, skipSpaces(b, i))
	if !ok {
		return "bad FUNC size"
	}
	param, i, ok := parseHex(b, skipSpaces(b, i))
	if !ok || param > math.MaxInt64-1 {
		return "bad FUNC parameter size"
	}
	name, ok := restAfter(b, i)
	if !ok {
		return "FUNC without a name"
	}
	rd.rec.Kind = KindFunc
	rd.rec.Func = FuncRecord{Multiple: m, Address: addr, Size: size, ParamSize: param, Name: name}
	return ""
}

func (rd *Reader) parsePublic(b []byte) string {
	m, i := optionalM(b, skipSpaces(b, 0))
	addr, i, ok := parseHex(b, i)
	if !ok {
		return "bad PUBLIC address"
	}
	param, i, ok := parseHex(b, skipSpaces(b, i))
	if !ok || param > math.MaxInt64-1 {
		return "bad PUBLIC parameter size"
	}
	name, ok := restAfter(b, i)
	if !ok {
		return "PUBLIC without a name"
	}
	rd.rec.Kind = KindPublic
	rd.rec.Public = PublicRecord{Multiple: m, Address: addr, ParamSize: param, Name: name}
	return ""
}

func (rd *Reader) parseFile(b []byte) string {
	idx, i, ok := parseDec(b, skipSpaces(b, 0), math.MaxInt64-1)
	if !ok {
		return "bad FILE index"
	}
	name, ok := restAfter(b, i)
	if !ok {
		return "FILE without a name"
	}
	rd.rec.Kind = KindFile
	rd.rec.File = FileRecord{Index: int64(idx), Name: name}
	return ""
}

func (rd *Reader) parseInlineOrigin(b []byte) string {
	idx, i, ok := parseDec(b, skipSpaces(b, 0), math.MaxInt64-1)
	if !ok {
		return "bad INLINE_ORIGIN index"
	}
	rest, ok := restAfter(b, i)
	if !ok {
		return "INLINE_ORIGIN without a name"
	}
	rec := InlineOriginRecord{Index: int64(idx), File: -1, Name: rest}
	// The older form puts a file index before the name; Breakpad tells the
	// forms apart by whether the next field is a number. A lone number is
	// taken as the name.
	if j := fieldEnd(rest, 0); j < len(rest) {
		if f, k, ok := parseFileID(rest, 0); ok && k == j {
			rec.HasFile, rec.File, rec.Name = true, f, rest[j+1:]
		}
	}
	rd.rec.Kind = KindInlineOrigin
	rd.rec.InlineOrigin = rec
	return ""
}

func (rd *Reader) parseInline(b []byte) string {
	// The newer form has an even number of fields (it adds the call file),
	// so count them before reading them in order.
	n := 0
	for i := skipSpaces(b, 0); i < len(b); i = skipSpaces(b, fieldEnd(b, i)) {
		n++
	}
	if n < 5 {
		return "INLINE with too few fields"
	}
	rec := InlineRecord{HasCallFile: n%2 == 0, CallFile: -1, Ranges: rd.rec.Inline.Ranges[:0]}
	depth, i, ok := parseDec(b, skipSpaces(b, 0), math.MaxInt32)
	if !ok {
		return "bad INLINE depth"
	}
	line, i, ok := parseDec(b, skipSpaces(b, i), math.MaxUint32)
	if !ok {
		return "bad INLINE call line"
	}
	if rec.HasCallFile {
		if rec.CallFile, i, ok = parseFileID(b, skipSpaces(b, i)); !ok {
			return "bad INLINE call file"
		}
	}
	origin, i, ok := parseDec(b, skipSpaces(b, i), math.MaxInt64-1)
	if !ok {
		return "bad INLINE origin"
	}
	for i = skipSpaces(b, i); i < len(b); i = skipSpaces(b, i) {
		var r Range
		r.Address, i, ok = parseHex(b, i)
		if !ok {
			return "bad INLINE range"
		}
		if r.Size, i, ok = parseHex(b, skipSpaces(b, i)); !ok {
			return "bad INLINE range"
		}
		rec.Ranges = append(rec.Ranges, r)
	}
	rec.Depth, rec.CallLine, rec.Origin = uint32(depth), uint32(line), int64(origin)
	rd.rec.Kind = KindInline
	rd.rec.Inline = rec
	return ""
}

func (rd *Reader) parseModule(b []byte) string {
	var f [3][]byte
	i := skipSpaces(b, 0)
	for n := range f {
		j := fieldEnd(b, i)
		if j == i {
			return "MODULE with too few fields"
		}
		f[n] = b[i:j]
		i = skipSpaces(b, j)
	}
	rd.rec.Kind = KindModule
	rd.rec.Module = ModuleRecord{OS: f[0], Arch: f[1], ID: f[2], Name: b[i:]}
	return ""
}

func (rd *Reader) parseInfo(b []byte) string {
	i := skipSpaces(b, 0)
	j := fieldEnd(b, i)
	if j == i {
		return "INFO without a key"
	}
	rec := InfoRecord{Key: b[i:j], Value: b[skipSpaces(b, j):]}
	if string(rec.Key) == "CODE_ID" {
		v := rec.Value
		k := fieldEnd(v, 0)
		if k == 0 {
			return "INFO CODE_ID without an id"
		}
		rec.CodeID = v[:k]
		rec.CodeFile = v[skipSpaces(v, k):]
	}
	rd.rec.Kind = KindInfo
	rd.rec.Info = rec
	return ""
}

func (rd *Reader) parseStack(b []byte) string {
	i := skipSpaces(b, 0)
	j := fieldEnd(b, i)
	switch string(b[i:j]) {
	case "CFI":
		return rd.parseCFI(b, skipSpaces(b, j))
	case "WIN":
		return rd.parseWin(b, skipSpaces(b, j))
	}
	return "unknown STACK record"
}

// ParseStackWin parses one STACK WIN line, without its terminator, as
// Reader parses it. It is for callers that keep only where a record lies
// (its line's offset in a mapped file) and read the rest again when it is
// wanted: most records of a symbol file are never looked up.
func ParseStackWin(line []byte) (WinRecord, bool) {
	if !hasPrefix(line, "STACK WIN ") {
		return WinRecord{}, false
	}
	var rd Reader
	if rd.parseStack(line[6:]) != "" {
		return WinRecord{}, false
	}
	return rd.rec.Win, true
}

func (rd *Reader) parseCFI(b []byte, i int) string {
	if hasPrefix(b[i:], "INIT ") {
		addr, k, ok := parseHex(b, skipSpaces(b, i+5))
		if !ok {
			return "bad STACK CFI INIT address"
		}
		size, k, ok := parseHex(b, skipSpaces(b, k))
		if !ok {
			return "bad STACK CFI INIT size"
		}
		rules := b[skipSpaces(b, k):]
		if len(rules) == 0 {
			return "STACK CFI INIT without rules"
		}
		rd.rec.Kind = KindStackCFIInit
		rd.rec.CFIInit = CFIInitRecord{Address: addr, Size: size, Rules: rules}
		return ""
	}
	addr, k, ok := parseHex(b, i)
	if !ok {
		return "bad STACK CFI address"
	}
	rules := b[skipSpaces(b, k):]
	if len(rules) == 0 {
		return "STACK CFI without rules"
	}
	rd.rec.Kind = KindStackCFI
	rd.rec.CFI = CFIRecord{Address: addr, Rules: rules}
	return ""
}

func (rd *Reader) parseWin(b []byte, i int) string {
	var v [10]uint64
	for n := range v {
		x, k, ok := parseHex(b, i)
		if !ok {
			return "bad STACK WIN field"
		}
		if n >= 3 && x > math.MaxUint32 {
			return "STACK WIN field out of range"
		}
		v[n] = x
		i = skipSpaces(b, k)
	}
	if v[0] > 4 {
		return "bad STACK WIN type"
	}
	if i >= len(b) {
		return "STACK WIN with too few fields"
	}
	rec := WinRecord{
		Type: uint8(v[0]), RVA: v[1], CodeSize: v[2],
		PrologSize: uint32(v[3]), EpilogSize: uint32(v[4]), ParamSize: uint32(v[5]),
		SavedRegisterSize: uint32(v[6]), LocalSize: uint32(v[7]), MaxStackSize: uint32(v[8]),
		HasProgramString: v[9] != 0,
	}
	if rec.HasProgramString {
		rec.ProgramString = b[i:]
	} else {
		x, _, ok := parseHex(b, i)
		if !ok {
			return "bad STACK WIN allocates_base_pointer"
		}
		rec.AllocatesBasePointer = x != 0
	}
	rd.rec.Kind = KindStackWin
	rd.rec.Win = rec
	return ""
}
