package breakpad

import (
	"slices"
	"sort"
)

// Ranged is a record that covers the addresses [start, end).
type Ranged interface {
	Range() (start, end uint64)
}

// FirstWins keeps, of records in the order a symbol file holds them, those
// whose range overlaps no record kept before them, sorted by address: what
// Breakpad's RangeMap holds after storing the records in file order, as it
// refuses a range that overlaps one it has. Records already sorted and
// disjoint, as writers emit them, are returned as they are, without a copy.
func FirstWins[T Ranged](rs []T) []T {
	disjoint := true
	for i := 1; i < len(rs) && disjoint; i++ {
		_, prevEnd := rs[i-1].Range()
		start, _ := rs[i].Range()
		disjoint = start >= prevEnd
	}
	if disjoint {
		return rs
	}
	kept := make([]T, 0, len(rs))
	lastEnd := uint64(0) // of kept's last record
	for _, r := range rs {
		start, end := r.Range()
		n := len(kept)
		if n == 0 || start >= lastEnd {
			kept, lastEnd = append(kept, r), end
			continue
		}
		i := sort.Search(n, func(i int) bool { _, e := kept[i].Range(); return e > start })
		if i < n {
			if s, _ := kept[i].Range(); s < end {
				continue
			}
		}
		kept = slices.Insert(kept, i, r)
	}
	return kept
}
