package breakpad

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll collects every record of rd as a comparable value.
func readAll(t testing.TB, rd *Reader) []string {
	t.Helper()
	var out []string
	for rd.Next() {
		out = append(out, describe(rd.Record()))
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// describe renders the typed part of a record, so that two readers can be
// compared and expectations written as text.
func describe(r *Record) string {
	switch r.Kind {
	case KindModule:
		m := r.Module
		return fmt.Sprintf("MODULE os=%q arch=%q id=%q name=%q", m.OS, m.Arch, m.ID, m.Name)
	case KindInfo:
		i := r.Info
		return fmt.Sprintf("INFO key=%q value=%q code_id=%q code_file=%q", i.Key, i.Value, i.CodeID, i.CodeFile)
	case KindFile:
		return fmt.Sprintf("FILE %d %q", r.File.Index, r.File.Name)
	case KindInlineOrigin:
		o := r.InlineOrigin
		return fmt.Sprintf("INLINE_ORIGIN %d hasfile=%v file=%d %q", o.Index, o.HasFile, o.File, o.Name)
	case KindFunc:
		f := r.Func
		return fmt.Sprintf("FUNC m=%v %#x %#x %#x %q", f.Multiple, f.Address, f.Size, f.ParamSize, f.Name)
	case KindLine:
		l := r.Line
		return fmt.Sprintf("LINE %#x %#x %d %d", l.Address, l.Size, l.Line, l.File)
	case KindInline:
		i := r.Inline
		return fmt.Sprintf("INLINE depth=%d line=%d hasfile=%v file=%d origin=%d ranges=%x", i.Depth, i.CallLine, i.HasCallFile, i.CallFile, i.Origin, i.Ranges)
	case KindPublic:
		p := r.Public
		return fmt.Sprintf("PUBLIC m=%v %#x %#x %q", p.Multiple, p.Address, p.ParamSize, p.Name)
	case KindStackCFIInit:
		return fmt.Sprintf("CFI INIT %#x %#x %q", r.CFIInit.Address, r.CFIInit.Size, r.CFIInit.Rules)
	case KindStackCFI:
		return fmt.Sprintf("CFI %#x %q", r.CFI.Address, r.CFI.Rules)
	case KindStackWin:
		w := r.Win
		return fmt.Sprintf("WIN %d %#x %#x %#x %#x %#x %#x %#x %#x prog=%v %q abp=%v", w.Type, w.RVA, w.CodeSize, w.PrologSize, w.EpilogSize,
			w.ParamSize, w.SavedRegisterSize, w.LocalSize, w.MaxStackSize, w.HasProgramString, w.ProgramString, w.AllocatesBasePointer)
	}
	return "?"
}

func TestReaderRecords(t *testing.T) {
	tests := []struct {
		line string
		want string // "" means malformed
	}{
		{"MODULE Linux x86_64 BBA6FA10B8AAB33D00000000000000000 linux_inline", `MODULE os="Linux" arch="x86_64" id="BBA6FA10B8AAB33D00000000000000000" name="linux_inline"`},
		{"MODULE windows x86 5A9832E5287241C1838ED98914E9B7FF1 my app.pdb", `MODULE os="windows" arch="x86" id="5A9832E5287241C1838ED98914E9B7FF1" name="my app.pdb"`},
		{"MODULE Linux x86", ""},
		{"INFO CODE_ID 10FAA6BBAAB83DB3", `INFO key="CODE_ID" value="10FAA6BBAAB83DB3" code_id="10FAA6BBAAB83DB3" code_file=""`},
		{"INFO CODE_ID 5D1B2C3A2d000 test app.exe", `INFO key="CODE_ID" value="5D1B2C3A2d000 test app.exe" code_id="5D1B2C3A2d000" code_file="test app.exe"`},
		{"INFO GENERATOR mozilla/dump_syms 2.3.4", `INFO key="GENERATOR" value="mozilla/dump_syms 2.3.4" code_id="" code_file=""`},
		{"INFO CODE_ID", ""},
		{"FILE 0 /src/a b.cc", `FILE 0 "/src/a b.cc"`},
		{"FILE x a.cc", ""},
		{"FILE -1 a.cc", ""},
		{"FILE 3", ""},
		{"INLINE_ORIGIN 1 foo()", `INLINE_ORIGIN 1 hasfile=false file=-1 "foo()"`},
		{"INLINE_ORIGIN 1 0 bar()", `INLINE_ORIGIN 1 hasfile=true file=0 "bar()"`},
		{"INLINE_ORIGIN 1 -1 bar()", `INLINE_ORIGIN 1 hasfile=true file=-1 "bar()"`},
		{"INLINE_ORIGIN 2 operator new(unsigned long)", `INLINE_ORIGIN 2 hasfile=false file=-1 "operator new(unsigned long)"`},
		{"INLINE_ORIGIN 2 42", `INLINE_ORIGIN 2 hasfile=false file=-1 "42"`},
		{"INLINE_ORIGIN x foo", ""},
		{"FUNC 1000 2a 0 main", `FUNC m=false 0x1000 0x2a 0x0 "main"`},
		{"FUNC m 1000 2a 8 std::vector<int, std::allocator<int> >::push_back(int const&)", `FUNC m=true 0x1000 0x2a 0x8 "std::vector<int, std::allocator<int> >::push_back(int const&)"`},
		{"FUNC 0x1000 2A 0 upper", `FUNC m=false 0x1000 0x2a 0x0 "upper"`},
		{"FUNC 1000 2a 0 ", `FUNC m=false 0x1000 0x2a 0x0 ""`},
		{"FUNC 1000 2a 0", ""},
		{"FUNC 1000 2a", ""},
		{"FUNC 1000g 2a 0 x", ""},
		{"FUNC 11112222333344445 2a 0 x", ""},
		{"FUNC m", ""},
		{"PUBLIC 2fe0 0 __multi3", `PUBLIC m=false 0x2fe0 0x0 "__multi3"`},
		{"PUBLIC m b5ae c BaseDllInitialize@12", `PUBLIC m=true 0xb5ae 0xc "BaseDllInitialize@12"`},
		{"PUBLIC 2fe0 0", ""},
		{"PUBLIC zz 0 x", ""},
		{"STACK CFI INIT 1000 36 .cfa: $rsp 8 + .ra: .cfa -8 + ^", `CFI INIT 0x1000 0x36 ".cfa: $rsp 8 + .ra: .cfa -8 + ^"`},
		{"STACK CFI 1001 .cfa: $rsp 16 +", `CFI 0x1001 ".cfa: $rsp 16 +"`},
		{"STACK CFI INIT 1000 36", ""},
		{"STACK CFI 1001", ""},
		{"STACK WIN 4 4242 1a a 0 4 8 0 10 1 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =", `WIN 4 0x4242 0x1a 0xa 0x0 0x4 0x8 0x0 0x10 prog=true "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =" abp=false`},
		{"STACK WIN 0 1000 20 3 0 8 0 4 0 0 1", `WIN 0 0x1000 0x20 0x3 0x0 0x8 0x0 0x4 0x0 prog=false "" abp=true`},
		{"STACK WIN 5 1000 20 3 0 8 0 4 0 0 1", ""},
		{"STACK WIN 4 1000 20 3 0 8 0 4 0 0", ""},
		{"STACK FOO 1", ""},
		{"BOGUS record", ""},
	}
	for _, tc := range tests {
		rd := NewBytesReader([]byte(tc.line + "\n"))
		got := ""
		if rd.Next() {
			got = describe(rd.Record())
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.line, got, tc.want)
		}
		if tc.want == "" && (rd.Skipped() != 1 || len(rd.Errors()) != 1 || rd.Errors()[0].Line != 1) {
			t.Errorf("%q: skipped %d, errors %v; want one error on line 1", tc.line, rd.Skipped(), rd.Errors())
		}
	}
}

func TestReaderFuncContext(t *testing.T) {
	in := "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 m\n" +
		"1000 4 1 0\n" + // line record before any FUNC
		"INLINE 0 1 0 0 1000 4\n" + // INLINE before any FUNC
		"FUNC 1000 10 0 f\n" +
		"INLINE 0 12 0 3 1000 4 1008 2\n" + // new form: even field count
		"INLINE 1 7 4 1000 2\n" + // old form: odd field count
		"INLINE 1 7 4 1000\n" + // too few fields
		"1000 4 12 0\n" +
		"STACK CFI INIT 1000 10 .cfa: $rsp 8 +\n" +
		"1004 4 13 0 trailing text\n" + // still the FUNC's (Breakpad keeps it) and trailing text is ignored
		"PUBLIC 2000 0 p\n" +
		"2000 4 1 0\n" + // a PUBLIC ends the FUNC
		"FUNC zz 10 0 bad\n" +
		"2000 4 1 0\n" // a bad FUNC ends the previous one too
	rd := NewBytesReader([]byte(in))
	got := readAll(t, rd)
	want := []string{
		`MODULE os="Linux" arch="x86_64" id="0123456789ABCDEF0123456789ABCDEF0" name="m"`,
		`FUNC m=false 0x1000 0x10 0x0 "f"`,
		`INLINE depth=0 line=12 hasfile=true file=0 origin=3 ranges=[{1000 4} {1008 2}]`,
		`INLINE depth=1 line=7 hasfile=false file=-1 origin=4 ranges=[{1000 2}]`,
		`LINE 0x1000 0x4 12 0`,
		`CFI INIT 0x1000 0x10 ".cfa: $rsp 8 +"`,
		`LINE 0x1004 0x4 13 0`,
		`PUBLIC m=false 0x2000 0x0 "p"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var lines []int
	for _, e := range rd.Errors() {
		lines = append(lines, e.Line)
	}
	if want := []int{2, 3, 7, 12, 13, 14}; !reflect.DeepEqual(lines, want) || rd.Skipped() != len(want) {
		t.Errorf("bad lines %v (skipped %d), want %v", lines, rd.Skipped(), want)
	}

	strict := NewBytesReader([]byte(in))
	strict.Strict = true
	n := 0
	for strict.Next() {
		n++
	}
	var pe *ParseError
	if err := strict.Err(); err == nil || !asParseError(err, &pe) || pe.Line != 2 || n != 1 {
		t.Errorf("strict: %d records, err %v; want 1 record and a ParseError on line 2", n, err)
	}
}

func asParseError(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	*pe = p
	return ok
}

func TestReaderLineEnds(t *testing.T) {
	in := "MODULE Linux x86 0123456789ABCDEF0123456789ABCDEF0 m\r\n\r\n\nFUNC 10 2 0 f\r\n10 2 7 0\r12 2 8 0\r\r\nbad"
	for name, rd := range map[string]*Reader{
		"bytes":  NewBytesReader([]byte(in)),
		"stream": NewReader(iotest.OneByteReader(strings.NewReader(in))),
	} {
		got := readAll(t, rd)
		want := []string{
			`MODULE os="Linux" arch="x86" id="0123456789ABCDEF0123456789ABCDEF0" name="m"`,
			`FUNC m=false 0x10 0x2 0x0 "f"`,
			`LINE 0x10 0x2 7 0`,
			`LINE 0x12 0x2 8 0`, // a lone '\r' ends a line, as in Breakpad
		}
		if !reflect.DeepEqual(got, want) || rd.Skipped() != 1 || rd.Errors()[0].Line != 6 {
			t.Errorf("%s: %q (skipped %d: %v)", name, got, rd.Skipped(), rd.Errors())
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	long := "FUNC 20 2 0 " + strings.Repeat("x", 300<<10)
	in := "MODULE Linux x86 0123456789ABCDEF0123456789ABCDEF0 m\nFUNC 10 2 0 f\n" + long + "\nPUBLIC 30 0 p\n" + long
	rd := NewReader(strings.NewReader(in))
	rd.MaxLineLength = 128 << 10
	got := readAll(t, rd)
	if len(got) != 3 || !strings.HasPrefix(got[2], "PUBLIC") {
		t.Errorf("records %q", got)
	}
	if rd.Skipped() != 2 || rd.Errors()[0].Line != 3 || rd.Errors()[1].Line != 5 || rd.Errors()[0].Msg != "line too long" {
		t.Errorf("skipped %d, errors %v", rd.Skipped(), rd.Errors())
	}
	// Without the bound the line is read whole.
	rd = NewReader(strings.NewReader(in))
	if got := readAll(t, rd); len(got) != 5 || rd.Skipped() != 0 {
		t.Errorf("unbounded: %d records, skipped %d", len(got), rd.Skipped())
	}
}

// errReader fails after its data.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestReaderIOError(t *testing.T) {
	rd := NewReader(errReader{strings.NewReader("MODULE Linux x86 0123456789ABCDEF0123456789ABCDEF0 m\nFUNC 10 2 0 f\n")})
	n := 0
	for rd.Next() {
		n++
	}
	if n != 2 || rd.Err() == nil || !strings.Contains(rd.Err().Error(), "unexpected EOF") {
		t.Errorf("%d records, err %v", n, rd.Err())
	}
}

// oracleKind classifies a line the way a grep over the file would.
func oracleKind(line string) RecordKind {
	for _, p := range []struct {
		prefix string
		kind   RecordKind
	}{
		{"MODULE ", KindModule}, {"INFO ", KindInfo}, {"FILE ", KindFile}, {"INLINE_ORIGIN ", KindInlineOrigin},
		{"FUNC ", KindFunc}, {"INLINE ", KindInline}, {"PUBLIC ", KindPublic},
		{"STACK CFI INIT ", KindStackCFIInit}, {"STACK CFI ", KindStackCFI}, {"STACK WIN ", KindStackWin},
	} {
		if strings.HasPrefix(line, p.prefix) {
			return p.kind
		}
	}
	if line != "" && strings.ContainsRune("0123456789abcdef", rune(line[0])) {
		return KindLine
	}
	return KindNone
}

// oracleFields parses the numeric fields of a record with strings.Fields
// and strconv, independently of the Reader's byte-level parser.
func oracleFields(t *testing.T, kind RecordKind, line string) string {
	t.Helper()
	f := strings.Fields(line)
	hex := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return v
	}
	dec := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return v
	}
	rest := func(n int) string { // text after the first n fields
		s := line
		for range n {
			s = strings.TrimLeft(s, " ")
			s = s[strings.IndexByte(s, ' ')+1:]
		}
		return s
	}
	switch kind {
	case KindFunc:
		if f[1] == "m" {
			return fmt.Sprintf("FUNC m=true %#x %#x %#x %q", hex(f[2]), hex(f[3]), hex(f[4]), rest(5))
		}
		return fmt.Sprintf("FUNC m=false %#x %#x %#x %q", hex(f[1]), hex(f[2]), hex(f[3]), rest(4))
	case KindPublic:
		if f[1] == "m" {
			return fmt.Sprintf("PUBLIC m=true %#x %#x %q", hex(f[2]), hex(f[3]), rest(4))
		}
		return fmt.Sprintf("PUBLIC m=false %#x %#x %q", hex(f[1]), hex(f[2]), rest(3))
	case KindLine:
		return fmt.Sprintf("LINE %#x %#x %d %d", hex(f[0]), hex(f[1]), dec(f[2]), dec(f[3]))
	case KindFile:
		return fmt.Sprintf("FILE %d %q", dec(f[1]), rest(2))
	case KindInline:
		var rs []Range
		n := len(f) - 1
		head := 3
		file := int64(-1)
		if n%2 == 0 {
			head = 4
			file = dec(f[3])
		}
		for i := head + 1; i+1 < len(f); i += 2 {
			rs = append(rs, Range{hex(f[i]), hex(f[i+1])})
		}
		return fmt.Sprintf("INLINE depth=%d line=%d hasfile=%v file=%d origin=%d ranges=%x", dec(f[1]), dec(f[2]), head == 4, file, dec(f[head]), rs)
	}
	return ""
}

// TestReaderPeers checks every peer file: record counts against a grep-like
// classification of its lines, field values against a strconv parse, no
// malformed lines, and the streaming reader (fed in awkward chunks) against
// the in-place reader.
func TestReaderPeers(t *testing.T) {
	root, files := peerSymFiles(t)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			want := map[RecordKind]int{}
			var lines []string
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				k := oracleKind(l)
				want[k]++
				lines = append(lines, l)
			}
			if want[KindNone] != 0 {
				t.Fatalf("%d unclassified lines", want[KindNone])
			}
			rd := NewBytesReader(data)
			got := map[RecordKind]int{}
			i := 0
			var recs []string
			for rd.Next() {
				r := rd.Record()
				got[r.Kind]++
				recs = append(recs, describe(r))
				if r.LineNo != i+1 || string(r.Text) != lines[i] {
					t.Fatalf("record %d: line %d %q, want line %d %q", i, r.LineNo, r.Text, i+1, lines[i])
				}
				if o := oracleFields(t, r.Kind, lines[i]); o != "" && o != recs[len(recs)-1] {
					t.Fatalf("line %d: reader %s, strconv %s", i+1, recs[len(recs)-1], o)
				}
				i++
			}
			if rd.Err() != nil || rd.Skipped() != 0 {
				t.Fatalf("err %v, skipped %d: %v", rd.Err(), rd.Skipped(), rd.Errors())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("counts %v, grep counts %v", got, want)
			}
			for name, r := range map[string]io.Reader{
				"half":   iotest.HalfReader(bytes.NewReader(data)),
				"data":   iotest.DataErrReader(bytes.NewReader(data)),
				"chunks": &chunkReader{data: data, n: 7},
			} {
				srd := NewReader(r)
				srd.MaxLineLength = 4 << 10
				if s := readAll(t, srd); !reflect.DeepEqual(s, recs) {
					t.Errorf("%s: streaming reader differs (%d vs %d records)", name, len(s), len(recs))
				}
			}
		})
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	return k, nil
}
