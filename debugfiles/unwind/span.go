package unwind

import (
	"cmp"
	"container/heap"
	"slices"
	"sort"
)

// Span is the half-open address range [Start, End) of the item of index
// Item in a caller's list: a row, a record, an entry.
type Span struct {
	Start, End uint64
	Item       int
}

// Innermost resolves overlapping spans into disjoint ones: of the spans
// covering an address, the one starting last owns it, and of those
// starting together the one later in spans. That is how nested entries of
// an exception table or nested frame records are looked up (the inner one
// starts later), said of every address at once, so that a lookup is one
// binary search over the result however the input overlaps.
//
// It sorts spans by Start in place, stably, and returns the owned pieces in
// address order; a span cut by another is kept on both sides of it, as two
// pieces of the same Item. Empty spans, and those whose End is before
// their Start, own nothing. It takes O(n log n) time and at most 2n
// pieces for n spans, whatever the nesting: walking back from an address
// over earlier spans is linear for a span that encloses every other one.
func Innermost(spans []Span) []Span {
	slices.SortStableFunc(spans, func(x, y Span) int { return cmp.Compare(x.Start, y.Start) })
	// The spans covering x, as indexes into spans: the greatest, the
	// owner, on top. Spans that ended stay until they reach the top.
	open := &spanHeap{}
	var out []Span
	var x uint64
	for i := 0; i < len(spans) || open.Len() > 0; {
		if open.Len() == 0 {
			x = spans[i].Start
		}
		for ; i < len(spans) && spans[i].Start <= x; i++ {
			if spans[i].End > x {
				heap.Push(open, i)
			}
		}
		for open.Len() > 0 && spans[open.top()].End <= x {
			heap.Pop(open)
		}
		if open.Len() == 0 {
			continue
		}
		owner := &spans[open.top()]
		end := owner.End
		if i < len(spans) && spans[i].Start < end {
			// A span starting later takes over there.
			end = spans[i].Start
		}
		if n := len(out); n > 0 && out[n-1].Item == owner.Item && out[n-1].End == x {
			// A span owning nothing (empty or inverted) that starts
			// inside the owner cut its piece above, and took nothing
			// over.
			out[n-1].End = end
		} else {
			out = append(out, Span{x, end, owner.Item})
		}
		x = end
	}
	return out
}

// Owner returns the Item of the piece of pieces, disjoint and in address
// order as Innermost returns them, that holds addr.
func Owner(pieces []Span, addr uint64) (item int, ok bool) {
	k := sort.Search(len(pieces), func(k int) bool { return pieces[k].End > addr })
	if k < len(pieces) && pieces[k].Start <= addr {
		return pieces[k].Item, true
	}
	return 0, false
}

// spanHeap is a max-heap of indexes into a sorted list of spans.
type spanHeap []int

func (h spanHeap) Len() int           { return len(h) }
func (h spanHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h spanHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *spanHeap) Push(v any)        { *h = append(*h, v.(int)) }
func (h *spanHeap) top() int          { return (*h)[0] }

func (h *spanHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
