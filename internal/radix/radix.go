// Package radix sorts slices by unsigned integer keys, stably, in linear
// time: a least-significant-byte-first radix sort that skips the bytes
// every key shares.
//
// It is for the sorts of records by address on the start-up path of the
// command-line tools (the PUBLIC and STACK WIN records of a symbol file):
// thousands of records whose order in the file is far from sorted, which
// a comparison sort orders in O(n log n) comparisons and a stable one,
// through its merging, in several times that.
package radix

// smallSort is the length below which SortStable sorts by insertion:
// the counting passes cost more than the comparisons there.
const smallSort = 48

// SortStable sorts s by key(&s[i]) in ascending order, keeping elements
// with equal keys in their order. A slice already in order is only read.
func SortStable[T any](s []T, key func(*T) uint64) {
	n := len(s)
	if n < 2 {
		return
	}
	// Many files are sorted already: that is found before allocating.
	var diff uint64 // the bits in which some key differs from the first
	first, prev, sorted := key(&s[0]), uint64(0), true
	for i := range s {
		k := key(&s[i])
		diff |= k ^ first
		sorted = sorted && (i == 0 || prev <= k)
		prev = k
	}
	if sorted {
		return
	}
	keys := make([]uint64, n)
	for i := range s {
		keys[i] = key(&s[i])
	}
	if n < smallSort {
		insertion(s, keys)
		return
	}
	tmp := make([]T, n)
	tmpKeys := make([]uint64, n)
	src, dst, srcKeys, dstKeys := s, tmp, keys, tmpKeys
	for shift := 0; shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue // every key has the same byte here
		}
		var count [256]int
		for _, k := range srcKeys {
			count[(k>>shift)&0xff]++
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for i, k := range srcKeys {
			b := (k >> shift) & 0xff
			dst[count[b]], dstKeys[count[b]] = src[i], k
			count[b]++
		}
		src, dst, srcKeys, dstKeys = dst, src, dstKeys, srcKeys
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
}

// insertion sorts s, whose keys are keys, by insertion.
func insertion[T any](s []T, keys []uint64) {
	for i := 1; i < len(s); i++ {
		v, k := s[i], keys[i]
		j := i
		for ; j > 0 && keys[j-1] > k; j-- {
			s[j], keys[j] = s[j-1], keys[j-1]
		}
		s[j], keys[j] = v, k
	}
}

// Uint64s sorts s by the bits of its values from bit shift up (s[i]>>shift)
// in ascending order, keeping values with equal such bits in their order,
// with no scratch space but one slice of len(s). Packing a key above an
// index (key<<32 | index) sorts the indexes by key without a slice of
// keys beside them.
func Uint64s(s []uint64, shift uint) {
	n := len(s)
	if n < 2 || shift >= 64 {
		return
	}
	var diff uint64
	sorted := true
	for i, v := range s {
		k := v >> shift
		diff |= k ^ s[0]>>shift
		sorted = sorted && (i == 0 || s[i-1]>>shift <= k)
	}
	if sorted {
		return
	}
	tmp := make([]uint64, n)
	src, dst := s, tmp
	for p := uint(0); p < 64-shift; p += 8 {
		if (diff>>p)&0xff == 0 {
			continue
		}
		var count [256]int
		for _, v := range src {
			count[(v>>shift>>p)&0xff]++
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for _, v := range src {
			b := (v >> shift >> p) & 0xff
			dst[count[b]] = v
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
}
