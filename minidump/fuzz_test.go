package minidump

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// peerDumps lists every minidump among the peer fixtures (microdumps, which
// are text, excluded).
func peerDumps(t testing.TB) []string {
	peers := peersDir(t)
	var out []string
	for _, dir := range []string{"breakpad", "rust-minidump"} {
		m, _ := filepath.Glob(filepath.Join(peers, dir, "*.dmp"))
		for _, p := range m {
			if !strings.HasPrefix(filepath.Base(p), "microdump-") {
				out = append(out, p)
			}
		}
	}
	return out
}

// readEverything exercises every accessor, as `cairn minidump dump` does,
// plus memory reads at every thread's stack pointer.
func readEverything(f *File) {
	c := f.ReadAll()
	_ = c.WriteText(discard{})
	mem, _ := f.Memory()
	if mem == nil {
		return
	}
	for _, r := range mem.Regions() {
		mem.ReadUint64(r.Base)
		mem.ReadUint32(r.End() - 4)
		mem.Bytes(r.Base, r.Size)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// FuzzMinidump feeds arbitrary bytes to the reader. Seeds are all peer dumps
// and the synthetic dumps of this package's tests.
func FuzzMinidump(f *testing.F) {
	for _, p := range peerDumps(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range syntheticDumps() {
		f.Add(s.dump)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := FromBytes(data)
		if err != nil {
			return
		}
		readEverything(m)
		// Also through the io.ReaderAt path, which allocates its reads.
		if r, err := NewFile(bytes.NewReader(data), int64(len(data))); err == nil {
			readEverything(r)
		}
	})
}

// TestInvalidDumps checks the hostile and truncated inputs: each yields an
// error or a partial result with problems, never a panic, and never an
// allocation out of proportion to the file.
func TestInvalidDumps(t *testing.T) {
	for _, p := range peerDumps(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			// Every prefix length at 1/16 steps and a few around the header.
			cuts := []int{0, 1, 4, 31, 32, 33, 44}
			for i := 1; i < 16; i++ {
				cuts = append(cuts, len(data)*i/16)
			}
			for _, n := range cuts {
				if n > len(data) {
					continue
				}
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				if f, err := FromBytes(data[:n]); err == nil {
					readEverything(f)
				}
				runtime.ReadMemStats(&ms1)
				// Decoded structures are larger than their encoding, but
				// never by more than a constant factor plus a fixed cost.
				if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 64*uint64(len(data))+(4<<20) {
					t.Errorf("truncated to %d bytes: allocated %d bytes", n, grew)
				}
			}
		})
	}
	// The hostile dumps of rust-minidump must report what is wrong.
	for _, name := range []string{"invalid-parameter.dmp", "invalid-range.dmp", "invalid-record-count.dmp"} {
		p := filepath.Join(peersDir(t), "rust-minidump", name)
		f, err := Open(p)
		if err != nil {
			continue // a typed error is an acceptable answer
		}
		c := f.ReadAll()
		f.Close()
		if name != "invalid-parameter.dmp" && len(c.Problems) == 0 {
			t.Errorf("%s: read without problems", name)
		}
	}
}

// TestHugeCounts builds dumps whose list counts claim 2^32-1 entries: the
// reader must refuse them without allocating for the claimed count.
func TestHugeCounts(t *testing.T) {
	for _, st := range []uint32{3, 4, 5, 9, 12, 14, 16, 24} {
		b := minidumptest.New()
		// count = 0xffffffff followed by a few bytes.
		b.Stream(st, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
		f, err := FromBytes(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		c := f.ReadAll()
		runtime.ReadMemStats(&ms1)
		if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 1<<20 {
			t.Errorf("stream %#x: a huge count allocated %d bytes", st, grew)
		}
		if len(c.Problems) == 0 {
			t.Errorf("stream %#x: a count of 2^32-1 in a 20-byte stream was not reported", st)
		}
	}
}

// TestSharedHugeString points thousands of module and thread names at one
// large string: the decoders must stop copying once they have copied more
// than the file could legitimately hold, instead of allocating count × size.
func TestSharedHugeString(t *testing.T) {
	b := minidumptest.New()
	b.SystemInfo(9, 2, 10, 0, 0, "")
	big := b.String(strings.Repeat("x", 256<<10))
	// Module entries (108 bytes) that all name the big string.
	entry := make([]byte, 108)
	entry[12], entry[13], entry[14], entry[15] = 1, 0, 0, 0 // size_of_image
	entry[20], entry[21], entry[22], entry[23] = byte(big), byte(big>>8), byte(big>>16), byte(big>>24)
	const n = 4000
	list := []byte{byte(n & 0xff), byte(n >> 8), 0, 0}
	for i := 0; i < n; i++ {
		list = append(list, entry...)
	}
	b.Stream(4, list)
	data := b.Bytes()
	f, err := FromBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	mods, err := f.Modules()
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 8*uint64(len(data)) {
		t.Errorf("%d modules sharing a %d-byte name allocated %d bytes for a %d-byte file", n, 512<<10, grew, len(data))
	}
	named, refused := 0, 0
	for _, m := range mods {
		if m.Name != "" {
			named++
		}
		if len(m.Problems) > 0 {
			refused++
		}
	}
	if named == 0 || refused == 0 {
		t.Errorf("named %d, refused %d: want some of each", named, refused)
	}
}
