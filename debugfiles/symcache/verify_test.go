package symcache

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyFileBlocks checks VerifyFile on files that end before, at and
// after the bounds of its blocks, intact and with one byte changed at the
// start, in the middle and at the end.
func TestVerifyFileBlocks(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{headerSize, verifyBlock - 1, verifyBlock, verifyBlock + 1, 3*verifyBlock + 17} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		crc := crc32.Update(0, castagnoli, b[:offChecksum])
		crc = crc32.Update(crc, castagnoli, b[offChecksum+4:])
		binary.LittleEndian.PutUint32(b[offChecksum:], crc)
		for _, at := range []int{-1, 0, size / 2, size - 1} {
			c := append([]byte(nil), b...)
			if at >= 0 {
				c[at] ^= 0x10
			}
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, c, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := VerifyFile(path); (err == nil) != (at < 0) {
				t.Errorf("%d bytes, byte %d changed: VerifyFile = %v", size, at, err)
			}
		}
	}
}
