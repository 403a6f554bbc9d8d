package pe

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// FuzzPE feeds corrupt images to NewObject and everything an Object reads
// lazily (exports, symbols, the DWARF session, the unwind table and every
// entry's unwind information), through a memory-backed and a plain reader.
// Seeds are the PE fixtures (when the toolchains are installed) and
// hand-made headers. Besides not panicking, the bytes allocated must stay
// within a multiple of the input's size.
func FuzzPE(f *testing.F) {
	for _, s := range handMadeSeeds() {
		f.Add(s)
	}
	for _, name := range peFixtures() {
		p, err := fixtures.Build(f.Context(), name)
		if err != nil {
			continue // the toolchain is missing; the hand-made seeds remain
		}
		if b, err := os.ReadFile(p); err == nil && len(b) <= 256<<10 {
			f.Add(b)
			// A truncated copy keeps the headers and loses the tables.
			f.Add(b[:len(b)/2])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, r := range []interface {
			ReadAt([]byte, int64) (int, error)
		}{bytes.NewReader(data), memReader{data}} {
			o, err := NewObject(r, int64(len(data)), "fuzz")
			if err != nil {
				continue
			}
			exerciseObject(o)
		}
		runtime.ReadMemStats(&after)
		// The DWARF session builds function trees a few times the size
		// of the sections; everything else is a small fraction of the
		// input. The constant covers debug/pe's own tables and the
		// bookkeeping of a run.
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(data))+32<<20; got > limit {
			t.Errorf("%d bytes allocated for %d bytes of input", got, len(data))
		}
	})
}

// handMadeSeeds builds small images by hand: a minimal PE32+ header with
// an exception directory, a debug directory and an export directory
// pointing into one section, and variants of it with lying counts.
func handMadeSeeds() [][]byte {
	base := minimalImage()
	seeds := [][]byte{base}
	// Lying sizes: a huge exception directory, a huge debug directory,
	// an export table claiming 2^32-1 functions.
	for _, p := range []struct{ off, val int }{{0x98 + 3*8 + 4, 0x7fffffff}, {0x98 + 6*8 + 4, 0x7fffffff}, {0x200 + 20, -1}} {
		b := bytes.Clone(base)
		binary.LittleEndian.PutUint32(b[p.off:], uint32(p.val))
		seeds = append(seeds, b)
	}
	for _, n := range []int{2, 64, 0x80, 0x98, 0x188, 0x200} {
		seeds = append(seeds, base[:n])
	}
	return seeds
}

// minimalImage returns a 1 KiB x64 image: DOS header, PE header, one
// section at RVA 0x1000 (file offset 0x200) holding an export directory,
// a debug directory with an RSDS record and a two-entry exception table.
func minimalImage() []byte {
	b := make([]byte, 0x400)
	le16 := func(off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	le32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	copy(b, "MZ")
	le32(0x3c, 0x40)
	copy(b[0x40:], "PE\x00\x00")
	// COFF header at 0x44.
	le16(0x44, MachineAMD64)
	le16(0x46, 1)    // sections
	le16(0x54, 0xf0) // optional header size
	le16(0x56, 0x22) // executable, large address aware
	// Optional header at 0x58.
	le16(0x58, 0x20b)
	binary.LittleEndian.PutUint64(b[0x58+24:], 0x140000000)
	le32(0x58+32, 0x1000) // section alignment
	le32(0x58+36, 0x200)  // file alignment
	le32(0x58+56, 0x2000) // size of image
	le32(0x58+60, 0x200)  // size of headers
	le32(0x58+108, 16)    // data directories
	dir := func(i int, rva, size uint32) { le32(0x58+112+8*i, rva); le32(0x58+112+8*i+4, size) }
	dir(dirExport, 0x1000, 0x60)
	dir(dirException, 0x1100, 24)
	dir(dirDebug, 0x1080, 28)
	// Section header at 0x148.
	copy(b[0x148:], ".rdata")
	le32(0x148+8, 0x200)   // virtual size
	le32(0x148+12, 0x1000) // RVA
	le32(0x148+16, 0x200)  // raw size
	le32(0x148+20, 0x200)  // raw offset
	// Export directory at 0x200 (RVA 0x1000): one function, one name.
	le32(0x200+12, 0x1040) // DLL name
	le32(0x200+16, 1)      // ordinal base
	le32(0x200+20, 1)
	le32(0x200+24, 1)
	le32(0x200+28, 0x1028) // functions
	le32(0x200+32, 0x102c) // names
	le32(0x200+36, 0x1030) // ordinals
	le32(0x228, 0x1100)
	le32(0x22c, 0x1050)
	copy(b[0x240:], "seed.dll\x00")
	copy(b[0x250:], "seed_fn\x00")
	// Debug directory at 0x280 (RVA 0x1080) and the RSDS record at 0x2a0.
	le32(0x280+12, DebugTypeCodeView)
	le32(0x280+16, 40)
	le32(0x280+20, 0x10a0)
	le32(0x280+24, 0x2a0)
	copy(b[0x2a0:], "RSDS0123456789abcdef\x01\x00\x00\x00seed.pdb\x00")
	// Exception table at 0x300 (RVA 0x1100): two functions sharing one
	// UNWIND_INFO at RVA 0x1140 (push rbx; sub rsp, 0x20), the second
	// chained to the first.
	le32(0x300, 0x1000)
	le32(0x304, 0x1010)
	le32(0x308, 0x1140)
	le32(0x30c, 0x1010)
	le32(0x310, 0x1020)
	le32(0x314, 0x1160)
	copy(b[0x340:], []byte{1, 5, 2, 0, 5, 0x32, 1, 0x30})
	copy(b[0x360:], []byte{1 | UnwFlagChainInfo<<3, 0, 0, 0})
	le32(0x364, 0x1000)
	le32(0x368, 0x1010)
	le32(0x36c, 0x1140)
	return b
}

func TestMinimalImage(t *testing.T) {
	b := minimalImage()
	o, err := NewObject(memReader{b}, int64(len(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Name() != "seed.dll" || o.Arch() != "x86_64" || o.DebugFile() != "seed.pdb" || o.CodeID() != "000000002000" {
		t.Errorf("name %q arch %s pdb %q code id %s", o.Name(), o.Arch(), o.DebugFile(), o.CodeID())
	}
	if got := o.DebugID().String(); got != "33323130-3534-3736-3839-616263646566-1" {
		t.Errorf("debug id %s", got)
	}
	ex, err := o.Exports()
	if err != nil || len(ex) != 1 || ex[0] != (Export{Name: "seed_fn", Ordinal: 1, RVA: 0x1100}) {
		t.Errorf("exports %+v, %v", ex, err)
	}
	tab, err := o.UnwindTable()
	if err != nil || len(tab.Functions()) != 2 {
		t.Fatalf("unwind table %v, %v", tab, err)
	}
	rf, ok := tab.Lookup(0x1015)
	if !ok || rf.Begin != 0x1010 {
		t.Fatalf("Lookup(0x1015) = %+v, %v", rf, ok)
	}
	chain, err := o.X64UnwindChain(rf)
	if err != nil || len(chain) != 2 || chain[1].Codes[1].Op != UWOPPushNonvol || chain[1].Codes[0].Value != 0x20 {
		t.Errorf("chain %+v, %v", chain, err)
	}
	// A chain that refers to itself ends with ErrUnwindChain.
	binary.LittleEndian.PutUint32(b[0x36c:], 0x1160)
	o, _ = NewObject(memReader{b}, int64(len(b)), "")
	tab, _ = o.UnwindTable()
	if _, err := o.X64UnwindChain(tab.Functions()[1]); err != ErrUnwindChain {
		t.Errorf("circular chain: %v", err)
	}
}
