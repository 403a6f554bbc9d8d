package pdb

import (
	"encoding/binary"
	"math/rand/v2"
)

// writeMSF lays out streams as an MSF 7.0 file with the given block size.
// Blocks 1 and 2 are left for the free block maps; with shuffle set the
// data blocks of every stream are placed in a random order so that reads
// cross non-adjacent blocks.
func writeMSF(streams [][]byte, bs int, shuffle bool) []byte {
	nblocks := func(n int) int { return (n + bs - 1) / bs }
	total := 3
	for _, s := range streams {
		total += nblocks(len(s))
	}
	dirSize := 4 + 4*len(streams)
	for _, s := range streams {
		dirSize += 4 * nblocks(len(s))
	}
	dirBlocks := nblocks(dirSize)
	mapBlocks := nblocks(4 * dirBlocks)
	total += dirBlocks + mapBlocks
	// The directory's block map goes in the last blocks, which must be
	// adjacent; every other block is handed out in order or shuffled.
	mapStart := total - mapBlocks
	order := make([]int, 0, total)
	for i := 3; i < mapStart; i++ {
		order = append(order, i)
	}
	if shuffle {
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	next := 0
	take := func() int { b := order[next]; next++; return b }
	file := make([]byte, total*bs)
	var dir []byte
	dir = binary.LittleEndian.AppendUint32(dir, uint32(len(streams)))
	for _, s := range streams {
		dir = binary.LittleEndian.AppendUint32(dir, uint32(len(s)))
	}
	for _, s := range streams {
		for off := 0; off < len(s); off += bs {
			b := take()
			copy(file[b*bs:], s[off:min(off+bs, len(s))])
			dir = binary.LittleEndian.AppendUint32(dir, uint32(b))
		}
	}
	var dirList []byte
	for off := 0; off < len(dir); off += bs {
		b := take()
		copy(file[b*bs:], dir[off:min(off+bs, len(dir))])
		dirList = binary.LittleEndian.AppendUint32(dirList, uint32(b))
	}
	copy(file[mapStart*bs:], dirList)
	copy(file, msfMagic)
	le := binary.LittleEndian
	le.PutUint32(file[32:], uint32(bs))
	le.PutUint32(file[36:], 1)
	le.PutUint32(file[40:], uint32(total))
	le.PutUint32(file[44:], uint32(len(dir)))
	le.PutUint32(file[52:], uint32(mapStart))
	return file
}
