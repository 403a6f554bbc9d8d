package symcache

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Bit-level coding: the file, function, site, node and directory tables
// pack their columns at bit granularity, and the range stream is a bit
// stream of Huffman-coded symbols (SPEC.md, "Bits", "Values and codes").
// Bits are read least significant first: bit i of a byte string is bit
// i%8 of byte i/8.

// loadBits returns the n bits (n ≤ 56) of b starting at bit pos; bits
// past the end of b read as 0, so a damaged offset yields a wrong value,
// never a panic.
func loadBits(b []byte, pos uint64, n uint) uint64 {
	return load56(b, pos) & (1<<n - 1)
}

// load56 returns the bits of b from bit pos on, at least 56 of them
// valid; bits past the end of b read as 0.
func load56(b []byte, pos uint64) uint64 {
	if i := pos >> 3; i+8 <= uint64(len(b)) {
		// b[i:i+8] rather than b[i:]: with a constant length the
		// compiler drops the capacity arithmetic and the second bounds
		// check that an open slice costs.
		return binary.LittleEndian.Uint64(b[i:i+8]) >> (pos & 7)
	}
	return slowBits(b, pos)
}

// slowBits is load56 near the end of b (fewer than 8 bytes from bit pos
// on), byte by byte. It must call nothing (copy would call memmove): it is
// inlined into every reader, and the compiler spills what is live across
// a call where it is computed, even when the call is on a cold path.
func slowBits(b []byte, pos uint64) uint64 {
	var v uint64
	for i, s := pos>>3, uint(0); i < uint64(len(b)); i, s = i+1, s+8 {
		v |= uint64(b[i]) << (s & 63) // fewer than 8 bytes are left
	}
	return v >> (pos & 7)
}

// loadBack returns the bits of b below bit pos, the one just below pos
// as the most significant, at least 56 of them valid; bits before the
// start of b, or past its end, read as 0.
func loadBack(b []byte, pos uint64) uint64 {
	if e := (pos + 7) >> 3; e-8 < e && e <= uint64(len(b)) { // e-8 < e: e ≥ 8
		return binary.LittleEndian.Uint64(b[e-8:e]) << ((e<<3 - pos) & 63)
	}
	return slowBack(b, pos)
}

// slowBack is loadBack near the start or past the end of b, byte by byte;
// like slowBits, it calls nothing.
func slowBack(b []byte, pos uint64) uint64 {
	e := (pos + 7) >> 3
	var v uint64
	for i, s := e-1, uint(56); s < 64 && i < e; i, s = i-1, s-8 {
		if i < uint64(len(b)) {
			v |= uint64(b[i]) << (s & 63)
		}
	}
	return v << ((e<<3 - pos) & 63)
}

// loadWide returns n ≤ 64 bits at pos, in two loads when n > 56.
func loadWide(b []byte, pos uint64, n uint) uint64 {
	if n <= 56 {
		return loadBits(b, pos, n)
	}
	lo := loadBits(b, pos, 32)
	return lo | loadBits(b, pos+32, n-32)<<32
}

// storeBits sets the n bits (n ≤ 56) of b at bit pos, which must be 0, to
// the low n bits of v, and returns the position after them: it writes
// tables whose rows are laid out in another order than they are made.
func storeBits(b []byte, pos, v uint64, n uint8) uint64 {
	v = (v & (1<<n - 1)) << (pos & 7)
	for i := pos >> 3; v != 0; i++ {
		b[i] |= byte(v)
		v >>= 8
	}
	return pos + uint64(n)
}

// bitWriter appends bits to a byte slice, least significant first. It
// holds up to 31 bits back and writes whole 32-bit words: the range stream
// puts a few million short codes, and a byte at a time was a loop per put.
type bitWriter struct {
	out  []byte
	acc  uint64
	n    uint   // bits in acc, fewer than 32 between puts
	bits uint64 // bits written in total
}

// put appends the low n bits of v (n ≤ 64).
func (w *bitWriter) put(v uint64, n uint) {
	if n > 32 {
		w.putNarrow(v&(1<<32-1), 32)
		w.putNarrow(v>>32, n-32)
		return
	}
	w.putNarrow(v, n)
}

// putNarrow is put for n ≤ 32, small enough to inline into the loops
// writing a table's rows.
func (w *bitWriter) putNarrow(v uint64, n uint) {
	w.acc |= (v & (1<<(n&63) - 1)) << (w.n & 63)
	w.n += n
	w.bits += uint64(n)
	if w.n >= 32 {
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(w.acc))
		w.acc >>= 32
		w.n -= 32
	}
}

// putBytes writes the bits of b, least significant first: what a put
// of each byte in turn writes, eight bytes at a time.
func (w *bitWriter) putBytes(b []byte) {
	if k := len(b) &^ 7; k > 0 {
		acc, n, out := w.acc, w.n&63, w.out
		for i := 0; i < k; i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			// acc holds n (fewer than 32) bits, v's low 64-n follow
			// them; its high n bits are held for the next word (none
			// when n is 0: a shift by 64 gives 0).
			out = binary.LittleEndian.AppendUint64(out, acc|v<<n)
			acc = v >> (64 - n)
		}
		w.acc, w.out = acc, out
		w.bits += 8 * uint64(k)
		b = b[k:]
	}
	for _, x := range b {
		w.putNarrow(uint64(x), 8)
	}
}

// flush appends the bits held back, the last partial byte padded with
// zero bits.
func (w *bitWriter) flush() {
	for ; w.n >= 8; w.n -= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
	}
	if w.n > 0 {
		w.out = append(w.out, byte(w.acc))
		w.bits += uint64(8 - w.n)
		w.acc, w.n = 0, 0
	}
}

// highBits collects a page's field stream, most significant bit first:
// the bits it holds, read as one number, are the page's fields with the
// first field's first bit the most significant. Written least significant
// bit first at the page's end (drain), they read backwards from the end
// in the order they were put.
type highBits struct {
	words []uint64 // full words, the first the most significant
	acc   uint64   // the n bits after them
	n     uint     // fewer than 64
}

// put appends the low n bits of v (n ≤ 64), most significant first.
func (h *highBits) put(v uint64, n uint) {
	if n == 0 {
		return
	}
	if n > 32 {
		h.put(v>>32, n-32)
		v, n = v&(1<<32-1), 32
	}
	v &= 1<<n - 1
	if h.n+n < 64 {
		h.acc, h.n = h.acc<<n|v, h.n+n
		return
	}
	// The word fills: its last 64-h.n bits are v's first.
	k := h.n + n - 64 // v's bits left over, fewer than 32
	h.words = append(h.words, h.acc<<((64-h.n)&63)|v>>k)
	h.acc, h.n = v&(1<<k-1), k
}

// drain writes the bits h holds to w, least significant first, and
// empties h.
func (h *highBits) drain(w *bitWriter) {
	w.put(h.acc, h.n)
	for i := len(h.words) - 1; i >= 0; i-- {
		w.putNarrow(h.words[i]&(1<<32-1), 32)
		w.putNarrow(h.words[i]>>32, 32)
	}
	h.words, h.acc, h.n = h.words[:0], 0, 0
}

// Values: a number v is coded as a symbol of its alphabet, followed by
// extra bits for large values. Below directValues the symbol is v itself;
// up to 32 bits, the symbol gives v's bit length l and the two bits after
// its top bit, and the l-3 bits below them follow; above, the symbol
// gives the bit length only, and the l-1 bits below the top one follow.
// An alphabet of values has fewer symbols than a decode table has
// entries, so that every symbol can have a code.
const (
	directValues = 32
	directBits   = 6  // bits.Len of the first value not direct (32)
	fineBits     = 32 // the largest bit length with two bits in the symbol
	// fineSyms is the number of symbols with two bits of the value.
	fineSyms = 4 * (fineBits - directBits + 1)
	// numValueSyms is the number of value symbols: 32 direct, four per
	// bit length from 6 to 32, one per bit length from 33 to 64.
	numValueSyms = directValues + fineSyms + (64 - fineBits)
)

// valueSym returns the symbol of v, its extra bits and their count.
func valueSym(v uint64) (sym int, extra uint64, n uint) {
	if v < directValues {
		return int(v), 0, 0
	}
	l := uint(bits.Len64(v))
	if l > fineBits {
		n = l - 1
		return directValues + fineSyms + int(l-fineBits-1), v & (1<<n - 1), n
	}
	n = l - 3
	return directValues + int(l-directBits)*4 + int(v>>n&3), v & (1<<n - 1), n
}

// symValue starts decoding a value symbol: the value without its extra
// bits and the count of extra bits to add. ok is false for a symbol
// outside the alphabet.
func symValue(sym uint32) (base uint64, n uint, ok bool) {
	if sym < directValues {
		return uint64(sym), 0, true
	}
	k := sym - directValues
	if k < fineSyms {
		l := uint(k/4) + directBits
		n = l - 3
		return (4 | uint64(k&3)) << (n & 63), n, true // n < 64: no shift overflow code
	}
	if k -= fineSyms; k < 64-fineBits {
		n = uint(k) + fineBits
		return 1 << (n & 63), n, true
	}
	return 0, 0, false
}

// valueSyms is symValue as a table, for every symbol a decode table can
// hold: the base and the count of extra bits (0 for a symbol that is no
// value's).
var valueSyms = func() (t [256]struct {
	base  uint64
	extra uint8
}) {
	for s := range t {
		if v, n, ok := symValue(uint32(s)); ok {
			t[s].base, t[s].extra = v, uint8(n)
		}
	}
	return t
}()

// Tags: a tag symbol is a×4 + flags. An address delta below escapeDelta
// is a itself; a = escapeDelta marks a larger delta, coded after the tag
// as the value delta-escapeDelta of alphaDelta. A tag alphabet so has as
// many symbols as a decode table has entries.
const escapeDelta = 63

// tagSyms is the number of symbols of a tag alphabet.
const tagSyms = (escapeDelta + 1) * 4

// zigzag maps a signed difference to an unsigned value, small magnitudes
// to small values.
func zigzag(d int32) uint64 { return uint64(uint32(d<<1) ^ uint32(d>>31)) }

// unzigzag inverts zigzag.
func unzigzag(v uint64) int32 { return int32(uint32(v>>1) ^ -uint32(v&1)) }

// Alphabets of the range stream. A tag is coded in the alphabet of its
// context, the flags of the entry before it (alphaTag + flags) or the
// page's first entry (alphaTagFirst); a node difference in that of its
// entry's file flag; a line in that of its entry's kind (lineAlphabet).
const (
	alphaTag      = 0                 // 4 alphabets: address delta × 4 + flags
	alphaTagFirst = alphaTag + 4      // the tag of a page's first entry
	alphaDelta    = alphaTagFirst + 1 // an address delta past escapeDelta
	alphaNode     = alphaDelta + 1    // node difference, file predicted
	alphaNodeFile = alphaNode + 1     // node difference, file not predicted
	alphaFile     = alphaNodeFile + 1
	alphaLine     = alphaFile + 1 // 6 alphabets of line differences (lineAlphabet)
	numAlphabets  = alphaLine + 6
	// alphaLineFirst is the alphabet of a page's first entry's line.
	alphaLineFirst = alphaLine + baseFile
)

// alphabetSize is the number of symbols of alphabet a.
func alphabetSize(a int) int {
	if a <= alphaTagFirst {
		return tagSyms
	}
	return numValueSyms
}

// maxCodeLen bounds the length of a Huffman code: a decode table has
// 2^len entries of 2 bytes.
const maxCodeLen = 8

// code is the Huffman code of one alphabet: the length and code of every
// symbol, bit-reversed (least significant bit first) for the tag stream,
// as it is (most significant bit first) for the field stream (high).
type code struct {
	lens  []uint8
	codes []uint16
	bits  uint8 // maxCodeLen, or 0 for an alphabet without symbols
	high  bool
}

// fieldAlphabet reports whether the symbols of alphabet a (files and
// lines) go in a page's field stream, read from the page's end backwards,
// rather than in its tag stream (tags, long deltas and node differences),
// read from its start (SPEC.md, "Range stream").
func fieldAlphabet(a int) bool { return a > alphaNodeFile }

// highFirst turns c's codes into codes written and read most significant
// bit first, as the field stream's are.
func (c *code) highFirst() {
	for s, l := range c.lens {
		if l > 0 {
			c.codes[s] = bits.Reverse16(c.codes[s]) >> (16 - l)
		}
	}
	c.high = true
}

// newCode builds a length-limited canonical Huffman code from symbol
// frequencies. Symbols of frequency 0 get no code. Lengths are limited by
// halving the frequencies until the longest code fits, which is
// deterministic and costs little on real data.
func newCode(freq []uint64) code {
	c := code{lens: make([]uint8, len(freq)), codes: make([]uint16, len(freq))}
	// Alphabets have at most 1<<maxCodeLen symbols, so that halving
	// ends with codes that fit: equal frequencies make a balanced tree.
	f := slices.Clone(freq)
	var h huffTree
	for {
		if h.lengths(f, c.lens) <= maxCodeLen {
			break
		}
		for i, x := range f {
			if x > 0 {
				f[i] = x>>1 | 1
			}
		}
	}
	// Canonical codes, by length then symbol, reversed for reading least
	// significant bit first.
	var next uint32
	for l := uint8(1); l <= maxCodeLen; l++ {
		for s, sl := range c.lens {
			if sl == l {
				c.codes[s] = uint16(bits.Reverse32(next) >> (32 - l))
				next++
				c.bits = maxCodeLen
			}
		}
		next <<= 1
	}
	return c
}

// huffNode is a node of a Huffman tree.
type huffNode struct {
	freq        uint64
	order       int32 // tie-breaker, for determinism
	left, right int32 // children, -1 for a leaf
	sym         int32
}

// huffTree is the scratch of lengths: the tree's nodes, the leaves in
// the order they are joined, and a stack for the depths. newCode reuses
// it for every round of halving.
type huffTree struct {
	nodes  []huffNode
	leaves []int32
	stack  []huffDepth
}

// huffDepth is a node and its depth in the tree.
type huffDepth struct{ n, depth int32 }

// before orders nodes by frequency, then by order of creation, which is
// unique: the order in which they are joined, and so the lengths, do not
// depend on how the roots not yet joined are kept.
func (a *huffNode) before(b *huffNode) bool {
	if a.freq != b.freq {
		return a.freq < b.freq
	}
	return a.order < b.order
}

// lengths sets lens to the Huffman code lengths of freq, a single used
// symbol getting length 1, and returns the longest.
//
// The roots not yet joined are two queues, both in order (before): the
// leaves, sorted, and the joined nodes, in the order they were made,
// whose frequencies never decrease and whose orders rise. The least root
// is the first of one of them: a tree built in linear time after the
// sort, where a heap of the roots took a logarithmic step per join, and
// newCode builds one for every round of halving of every alphabet.
func (h *huffTree) lengths(freq []uint64, lens []uint8) uint8 {
	clear(lens)
	h.nodes, h.leaves = h.nodes[:0], h.leaves[:0]
	for s, f := range freq {
		if f > 0 {
			h.leaves = append(h.leaves, int32(len(h.nodes)))
			h.nodes = append(h.nodes, huffNode{freq: f, order: int32(len(h.nodes)), left: -1, right: -1, sym: int32(s)})
		}
	}
	n := len(h.nodes)
	switch n {
	case 0:
		return 0
	case 1:
		lens[h.nodes[0].sym] = 1
		return 1
	}
	slices.SortFunc(h.leaves, func(a, b int32) int {
		if h.nodes[a].before(&h.nodes[b]) {
			return -1
		}
		return 1 // orders are unique: never equal
	})
	next, joined := 0, n // the first leaf and joined node not yet joined
	least := func() int32 {
		if next < n && (joined == len(h.nodes) || h.nodes[h.leaves[next]].before(&h.nodes[joined])) {
			next++
			return h.leaves[next-1]
		}
		joined++
		return int32(joined - 1)
	}
	for range n - 1 {
		a := least()
		b := least()
		h.nodes = append(h.nodes, huffNode{freq: h.nodes[a].freq + h.nodes[b].freq, order: int32(len(h.nodes)), left: a, right: b})
	}
	// Depths, from the root down.
	var longest uint8
	h.stack = append(h.stack[:0], huffDepth{int32(len(h.nodes) - 1), 0})
	for len(h.stack) > 0 {
		it := h.stack[len(h.stack)-1]
		h.stack = h.stack[:len(h.stack)-1]
		nd := &h.nodes[it.n]
		if nd.left < 0 {
			l := uint8(min(it.depth, 255))
			lens[nd.sym] = l
			longest = max(longest, l)
			continue
		}
		h.stack = append(h.stack, huffDepth{nd.left, it.depth + 1}, huffDepth{nd.right, it.depth + 1})
	}
	return longest
}

// tableBytes is the size of a decode table: 1<<maxCodeLen entries of 2
// bytes, or none (bits 0) for an alphabet without symbols.
func tableBytes(bits uint8) uint64 {
	if bits == 0 {
		return 0
	}
	return 2 << maxCodeLen
}

// table returns the decode table of c: entry i, for the next maxCodeLen
// bits i of the stream, is symbol<<4 | length; 0 where no code matches.
// The first bit of i is its least significant in the tag stream, its most
// significant in the field stream (high).
func (c *code) table() []uint16 {
	if c.bits == 0 {
		return nil
	}
	t := make([]uint16, 1<<maxCodeLen)
	for s, l := range c.lens {
		if l == 0 {
			continue
		}
		e := uint16(s)<<4 | uint16(l)
		if c.high {
			lo := uint32(c.codes[s]) << (maxCodeLen - l)
			for i := lo; i < lo+1<<(maxCodeLen-l); i++ {
				t[i] = e
			}
			continue
		}
		for i := uint32(c.codes[s]); i < uint32(len(t)); i += 1 << l {
			t[i] = e
		}
	}
	return t
}
