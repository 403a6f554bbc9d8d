package pdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

func TestMSFRoundTrip(t *testing.T) {
	streams := [][]byte{
		nil,
		bytes.Repeat([]byte("abcdefgh"), 1000),
		{1, 2, 3},
		bytes.Repeat([]byte{0xcc}, 512*3),
		bytes.Repeat([]byte("xyz"), 4097),
	}
	for _, tc := range []struct {
		name    string
		bs      int
		shuffle bool
		mapped  bool
	}{
		{"512", 512, false, false},
		{"512-shuffled", 512, true, false},
		{"4096-shuffled-mapped", 4096, true, true},
		{"1024-mapped", 1024, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeMSF(streams, tc.bs, tc.shuffle)
			var r interface {
				ReadAt([]byte, int64) (int, error)
			} = bytes.NewReader(file)
			if tc.mapped {
				r = memFile(file)
			}
			m, err := openMSF(r, int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.streams) != len(streams) {
				t.Fatalf("%d streams, want %d", len(m.streams), len(streams))
			}
			for i, want := range streams {
				s, err := m.stream(i)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.all()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("stream %d differs", i)
				}
				// Pieces that cross block boundaries.
				for _, off := range []uint32{0, 1, uint32(tc.bs) - 1, uint32(tc.bs), uint32(len(want)) / 2} {
					if off >= uint32(len(want)) {
						continue
					}
					n := min(uint32(tc.bs)+7, uint32(len(want))-off)
					b, err := s.read(off, n)
					if err != nil || !bytes.Equal(b, want[off:off+n]) {
						t.Errorf("stream %d read(%d, %d): %v", i, off, n, err)
					}
				}
				if _, err := s.read(uint32(len(want)), 1); err == nil {
					t.Errorf("stream %d: read past the end succeeded", i)
				}
			}
		})
	}
}

// minimalInfo is a PDB info stream with an empty named stream map.
func minimalInfo() []byte {
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, infoVersionVC70)
	b = le.AppendUint32(b, 0x5eed)
	b = le.AppendUint32(b, 1)
	b = append(b, "0123456789abcdef"...)
	for range 6 { // names, size, capacity, present, deleted, niMac
		b = le.AppendUint32(b, 0)
	}
	return le.AppendUint32(b, featureVC140)
}

// memFile is a reader holding the whole file, as a memory mapping does.
type memFile []byte

func (m memFile) Bytes() []byte { return m }

func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m).ReadAt(p, off)
}

// patch returns a copy of file with v written at off.
func patch(file []byte, off int, v uint32) []byte {
	c := bytes.Clone(file)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

// TestHostileMSF feeds superblocks and directories that claim far more
// than the file holds: each must fail with a FormatError (or ErrNotPDB)
// without allocating more than a small multiple of the file.
func TestHostileMSF(t *testing.T) {
	good := writeMSF([][]byte{nil, minimalInfo(), {7}}, 512, false)
	if _, err := NewObject(bytes.NewReader(good), int64(len(good)), "good"); err != nil {
		t.Fatalf("the unpatched file: %v", err)
	}
	dirBlock := int(binary.LittleEndian.Uint32(good[int(binary.LittleEndian.Uint32(good[52:]))*512:]))
	dir := dirBlock * 512
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"magic only", []byte(msfMagic)},
		{"bad magic", append([]byte("Microsoft C/C++ program database 2.00\r\n\x1aJG\x00\x00"), make([]byte, 64)...)},
		{"block size 0", patch(good, 32, 0)},
		{"block size 3", patch(good, 32, 3)},
		{"huge block count", patch(good, 40, 0xffffffff)},
		{"zero block count", patch(good, 40, 0)},
		{"huge directory", patch(good, 44, 0xfffffff0)},
		{"directory of 1 byte", patch(good, 44, 1)},
		{"block map past the end", patch(good, 52, 1000)},
		{"block map at the superblock", patch(good, 52, 0)},
		{"huge stream count", patch(good, dir, 0x7fffffff)},
		{"huge stream size", patch(good, dir+4+4, 0x7ffffff0)},
		{"stream block out of range", patch(good, dir+4+3*4, 0xfffffff)},
		{"directory block out of range", patch(good, int(binary.LittleEndian.Uint32(good[52:]))*512, 0xffffff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			o, err := NewObject(bytes.NewReader(tc.file), int64(len(tc.file)), tc.name)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("no error; %d streams", o.NumStreams())
			}
			t.Log(err)
			var fe *FormatError
			if !errors.As(err, &fe) && !errors.Is(err, ErrNotPDB) {
				t.Errorf("error %v (%T) is neither a FormatError nor ErrNotPDB", err, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(64*len(tc.file))+64<<10 {
				t.Errorf("allocated %d bytes for a file of %d bytes", grew, len(tc.file))
			}
		})
	}
}

// TestHugeBlockCountSuperblock is the superblock the fuzz target must
// survive: it claims 2^32-1 blocks of 4 KiB and a directory of 4 GiB.
func TestHugeBlockCountSuperblock(t *testing.T) {
	file := make([]byte, 4096)
	copy(file, msfMagic)
	le := binary.LittleEndian
	le.PutUint32(file[32:], 4096)
	le.PutUint32(file[40:], 0xffffffff)
	le.PutUint32(file[44:], 0xffffffff)
	le.PutUint32(file[52:], 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewObject(bytes.NewReader(file), int64(len(file)), "huge")
	runtime.ReadMemStats(&after)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FormatError", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes", grew)
	}
}
