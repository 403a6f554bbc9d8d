package cficache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/testtools"
)

const fuzzSym = `MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 a.pdb
FUNC 100 100 8 f
STACK WIN 4 100 100 0 0 4 8 0 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebx $T0 8 - ^ =
STACK WIN 0 110 10 0 0 4 8 0 0 0 1
STACK CFI INIT 300 20 .cfa: $esp 4 + .ra: .cfa -4 + ^
STACK CFI 304 .cfa: $esp 8 + $ebp: .cfa -8 + ^
`

// FuzzSymbolFile feeds STACK records (the CFI parser's input) through the
// builder and checks every lookup stays inside its row, never panics and
// never loops.
func FuzzSymbolFile(f *testing.F) {
	f.Add([]byte(fuzzSym))
	f.Add([]byte("MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\nSTACK CFI INIT 0 ffffffffffffffff .cfa: $rsp 8 + .ra: .cfa -8 + ^\nSTACK CFI 5 .cfa: x: y:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, arch := range []unwind.Arch{unwind.ArchX86, unwind.ArchAMD64, unwind.ArchARM64} {
			b := NewBuilder(Info{Arch: arch})
			b.AddSymbolFile(data)
			out, err := b.Bytes()
			if err != nil {
				return
			}
			c, err := New(out)
			if err != nil {
				t.Fatalf("builder output does not open: %v", err)
			}
			var row unwind.Row
			for _, addr := range []uint64{0, 0x100, 0x104, 0x110, 0x300, 0x305, 0xffffffff, 1 << 40} {
				if c.Lookup(addr, &row) && (addr < row.Start || addr >= row.End) {
					t.Fatalf("%#x: row [%#x, %#x)", addr, row.Start, row.End)
				}
				c.LookupWin(addr)
				c.ParamSize(addr)
			}
		}
	})
}

// FuzzCache opens arbitrary bytes as a cficache and looks addresses up:
// a damaged file must give errors or wrong answers, never a panic.
func FuzzCache(f *testing.F) {
	b := NewBuilder(Info{Arch: unwind.ArchX86})
	b.AddSymbolFile([]byte(fuzzSym))
	seed, err := b.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	// A cficache of a real symbol file, when the peers are present.
	if dir := peersNoSkip(); dir != "" {
		if data, err := os.ReadFile(filepath.Join(dir, "breakpad", "symbols", "test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", "test_app.sym")); err == nil {
			b := NewBuilder(Info{Arch: unwind.ArchX86})
			b.AddSymbolFile(data)
			if out, err := b.Bytes(); err == nil {
				f.Add(out)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, idErr := ReadDebugID(bytes.NewReader(data), int64(len(data)))
		c, err := New(data)
		if err != nil {
			return
		}
		// What New accepts, its header alone gives the same id of.
		if idErr != nil || id != c.DebugID() {
			t.Fatalf("ReadDebugID = %v, %v; New's id %v", id, idErr, c.DebugID())
		}
		_ = c.Verify()
		row := unwind.Row{Regs: make([]unwind.RegRule, 0, 8)}
		for _, addr := range []uint64{0, 1, 0x100, 0x110, 0x304, 0x4000, 0xffffffff} {
			c.Lookup(addr, &row)
			c.LookupWin(addr)
			c.ParamSize(addr)
		}
		if len(data) >= headerSize {
			// Lookups inside every entry the index names.
			idx := c.cfi
			for i := 0; i+indexRecord <= len(idx) && i < 64*indexRecord; i += indexRecord {
				c.Lookup(uint64(binary.LittleEndian.Uint32(idx[i:])), &row)
			}
		}
	})
}

// peersNoSkip returns the peer fixture directory when it exists, without
// skipping (a fuzz seed is optional).
func peersNoSkip() string {
	dir := filepath.Join(testtools.RepoRoot(), "..", "shared", "fixtures", "peers")
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	return ""
}

// FuzzByStart checks the packed sort of STACK WIN records against the
// stable sort it replaces, with starts below and above 32 bits.
func FuzzByStart(f *testing.F) {
	f.Add([]byte{3, 1, 2, 1, 0, 9, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := make([]rangeRef, len(data))
		for i, b := range data {
			recs[i].start = uint64(b % 8)
			if b == 0xff {
				recs[i].start = 1 << 40
			}
		}
		want := make([]int, len(recs))
		for i := range want {
			want[i] = i
		}
		slices.SortStableFunc(want, func(a, b int) int { return cmp.Compare(recs[a].start, recs[b].start) })
		got := make([]int, 0, len(recs))
		for _, k := range byStart(recs) {
			got = append(got, int(uint32(k)))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("byStart = %v, want %v", got, want)
		}
	})
}

// FuzzNestedFlatten checks the clustered, node-reusing nestedFlatten
// against one nested map holding every record in file order, as Breakpad
// stores them.
func FuzzNestedFlatten(f *testing.F) {
	f.Add([]byte{0x10, 0x10, 0x00, 0x40, 0x12, 0x02, 0x18, 0x10, 0x10, 0x10, 0x70, 0x10, 0x72, 0x02})
	f.Add([]byte{0, 8, 0, 8, 1, 2, 3, 4, 2, 1, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []rangeRef
		for i := 0; i+1 < len(data); i += 2 {
			start, size := uint64(data[i]), uint64(data[i+1]%32)+1
			recs = append(recs, rangeRef{start, start + size, uint32(1000 + len(recs))})
		}
		root := &nested{}
		var pool nestedPool
		for _, r := range recs {
			root.store(&pool, r.start, r.end-1, r.ref, 0)
		}
		want := root.flatten(nil)
		if got := nestedFlatten(recs); !slices.Equal(got, want) {
			t.Fatalf("nestedFlatten(%v)\n = %v\nwant %v", recs, got, want)
		}
	})
}
