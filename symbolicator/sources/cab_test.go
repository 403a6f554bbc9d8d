package sources

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// writeCAB builds a one-folder cabinet holding files, compressing with
// MSZIP (each 32 KiB block a DEFLATE stream primed with the previous
// block) or storing them. It writes reserve areas when reserve is set so
// the reader's handling of them is exercised.
func writeCAB(t testing.TB, mszip, reserve bool, files map[string][]byte, order []string) []byte {
	t.Helper()
	var stream []byte
	type rec struct {
		name      string
		off, size uint32
	}
	var recs []rec
	for _, n := range order {
		recs = append(recs, rec{n, uint32(len(stream)), uint32(len(files[n]))})
		stream = append(stream, files[n]...)
	}
	type block struct {
		data  []byte
		plain int
	}
	var blocks []block
	var dict []byte
	for off := 0; off < len(stream) || off == 0; off += mszipBlock {
		chunk := stream[off:min(off+mszipBlock, len(stream))]
		if !mszip {
			blocks = append(blocks, block{chunk, len(chunk)})
		} else {
			var buf bytes.Buffer
			buf.WriteString("CK")
			zw, err := flate.NewWriterDict(&buf, flate.BestCompression, dict)
			if err != nil {
				t.Fatal(err)
			}
			zw.Write(chunk)
			zw.Close()
			blocks = append(blocks, block{buf.Bytes(), len(chunk)})
			dict = append(dict[:0], chunk...)
		}
		if len(stream) == 0 {
			break
		}
	}
	const dataRes = 3
	le := binary.LittleEndian
	var hdr, folders, fileRecs, data bytes.Buffer
	hdrSize := 36
	if reserve {
		hdrSize += 4 + 5
	}
	folderSize := 8
	if reserve {
		folderSize += 2
	}
	filesOff := hdrSize + folderSize
	for _, r := range recs {
		binary.Write(&fileRecs, le, r.size)
		binary.Write(&fileRecs, le, r.off)
		binary.Write(&fileRecs, le, uint16(0))
		fileRecs.Write(make([]byte, 6))
		fileRecs.WriteString(r.name)
		fileRecs.WriteByte(0)
	}
	dataOff := filesOff + fileRecs.Len()
	for _, b := range blocks {
		binary.Write(&data, le, uint32(0))
		binary.Write(&data, le, uint16(len(b.data)))
		binary.Write(&data, le, uint16(b.plain))
		if reserve {
			data.Write(make([]byte, dataRes))
		}
		data.Write(b.data)
	}
	total := dataOff + data.Len()
	hdr.WriteString("MSCF")
	for _, v := range []uint32{0, uint32(total), 0, uint32(filesOff), 0} {
		binary.Write(&hdr, le, v)
	}
	hdr.Write([]byte{3, 1})
	flags := uint16(0)
	if reserve {
		flags = cabFlagReserve
	}
	for _, v := range []uint16{1, uint16(len(recs)), flags, 0, 0} {
		binary.Write(&hdr, le, v)
	}
	if reserve {
		binary.Write(&hdr, le, uint16(5))
		hdr.Write([]byte{2, dataRes})
		hdr.Write(make([]byte, 5))
	}
	comp := uint16(cabCompNone)
	if mszip {
		comp = cabCompMSZIP
	}
	binary.Write(&folders, le, uint32(dataOff))
	binary.Write(&folders, le, uint16(len(blocks)))
	binary.Write(&folders, le, comp)
	if reserve {
		folders.Write(make([]byte, 2))
	}
	return bytes.Join([][]byte{hdr.Bytes(), folders.Bytes(), fileRecs.Bytes(), data.Bytes()}, nil)
}

// compressible is text-like data with long-range repeats, so MSZIP blocks
// refer back into earlier blocks.
func compressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"symbol ", "frame ", "0x7ffe1234 ", "crash.pdb ", "FUNC ", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(50) == 0 {
			b.WriteByte(byte(r.IntN(256)))
			continue
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func TestCABExtract(t *testing.T) {
	big := compressible(200_000, 1)
	small := []byte("hello cabinet")
	for _, mszip := range []bool{true, false} {
		for _, reserve := range []bool{false, true} {
			cab := writeCAB(t, mszip, reserve, map[string][]byte{"crash.pdb": big, "b.txt": small}, []string{"crash.pdb", "b.txt"})
			c, err := NewCABReader(bytes.NewReader(cab), int64(len(cab)))
			if err != nil {
				t.Fatalf("mszip=%v reserve=%v: %v", mszip, reserve, err)
			}
			if len(c.Files) != 2 || c.Files[0].Name != "crash.pdb" || c.Files[1].Name != "b.txt" {
				t.Fatalf("files %+v", c.Files)
			}
			for i, want := range [][]byte{big, small} {
				var out bytes.Buffer
				if err := c.Extract(i, &out); err != nil {
					t.Fatalf("mszip=%v reserve=%v file %d: %v", mszip, reserve, i, err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("mszip=%v reserve=%v file %d: %d bytes differ from %d", mszip, reserve, i, out.Len(), len(want))
				}
			}
		}
	}
}

func TestCABErrors(t *testing.T) {
	cab := writeCAB(t, true, false, map[string][]byte{"a": compressible(70_000, 2)}, []string{"a"})
	if _, err := NewCABReader(bytes.NewReader(cab[:20]), 20); err == nil {
		t.Error("truncated header accepted")
	}
	c, err := NewCABReader(bytes.NewReader(cab[:len(cab)-100]), int64(len(cab)-100))
	if err != nil {
		t.Fatal(err)
	}
	var fe *CABFormatError
	if err := c.Extract(0, &bytes.Buffer{}); !errors.As(err, &fe) {
		t.Errorf("truncated data: %v", err)
	}
	lzx := bytes.Clone(cab)
	binary.LittleEndian.PutUint16(lzx[36+6:], 3)
	c, err = NewCABReader(bytes.NewReader(lzx), int64(len(lzx)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Extract(0, &bytes.Buffer{}); !errors.Is(err, ErrCABCompression) {
		t.Errorf("LZX folder: %v", err)
	}
}

func FuzzCAB(f *testing.F) {
	f.Add(writeCAB(f, true, false, map[string][]byte{"a.pdb": compressible(40_000, 3)}, []string{"a.pdb"}))
	f.Add(writeCAB(f, false, true, map[string][]byte{"a": []byte("x"), "b": nil}, []string{"a", "b"}))
	f.Add([]byte("MSCF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := NewCABReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for i := range min(len(c.Files), 4) {
			var out bytes.Buffer
			if c.Extract(i, &out) == nil && uint32(out.Len()) != c.Files[i].Size {
				t.Fatalf("file %d: extracted %d bytes, record says %d", i, out.Len(), c.Files[i].Size)
			}
		}
	})
}
