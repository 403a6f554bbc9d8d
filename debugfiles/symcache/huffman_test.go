package symcache

import (
	"cmp"
	"container/heap"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// huffmanCost is the cost (sum of frequency times length) of an optimal
// Huffman code for freq, computed independently of newCode: the sum of
// the weights of every merge, taking the two lightest from a sorted list
// of leaves and a queue of merged weights, which comes out sorted.
func huffmanCost(freq []uint64) uint64 {
	var leaves []uint64
	for _, f := range freq {
		if f > 0 {
			leaves = append(leaves, f)
		}
	}
	if len(leaves) < 2 {
		return uint64(len(leaves)) * sum(leaves)
	}
	slices.Sort(leaves)
	var merged []uint64
	take := func() uint64 {
		if len(merged) == 0 || len(leaves) > 0 && leaves[0] <= merged[0] {
			x := leaves[0]
			leaves = leaves[1:]
			return x
		}
		x := merged[0]
		merged = merged[1:]
		return x
	}
	var cost uint64
	for len(leaves)+len(merged) > 1 {
		w := take() + take()
		cost += w
		merged = append(merged, w)
	}
	return cost
}

func sum(v []uint64) (s uint64) {
	for _, x := range v {
		s += x
	}
	return s
}

// TestNewCode checks newCode's codes: lengths within maxCodeLen, a
// complete prefix code that the decode table reads back, and the optimal
// cost wherever no length had to be limited.
func TestNewCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name     string
		freq     []uint64
		wantLens []uint8 // when set
	}{
		{"none", make([]uint64, 8), make([]uint8, 8)},
		{"one", []uint64{0, 0, 7, 0}, []uint8{0, 0, 1, 0}},
		{"two", []uint64{3, 0, 1}, []uint8{1, 0, 1}},
		{"classic", []uint64{1, 1, 2, 4}, []uint8{3, 3, 2, 1}},
		{"ties", []uint64{5, 5, 5, 5}, []uint8{2, 2, 2, 2}},
		{"fibonacci, limited", fib(20), nil},
		{"all 256", ones(256), nil},
	}
	for i := range 40 {
		f := make([]uint64, 1+rng.IntN(256))
		for k := range f {
			if rng.IntN(4) > 0 {
				f[k] = rng.Uint64N(1 << uint(1+i%40))
			}
		}
		cases = append(cases, struct {
			name     string
			freq     []uint64
			wantLens []uint8
		}{"random", f, nil})
	}
	// Small alphabets, whose optimal codes fit in maxCodeLen bits: their
	// cost is checked against huffmanCost.
	for range 200 {
		f := make([]uint64, 2+rng.IntN(15))
		for k := range f {
			f[k] = 1 + rng.Uint64N(1000)
		}
		cases = append(cases, struct {
			name     string
			freq     []uint64
			wantLens []uint8
		}{"small", f, nil})
	}
	checked := 0
	for _, tc := range cases {
		c := newCode(tc.freq)
		if tc.wantLens != nil && !slices.Equal(c.lens, tc.wantLens) {
			t.Errorf("%s: lengths %v, want %v", tc.name, c.lens, tc.wantLens)
		}
		used, kraft := 0, 0.0
		var cost uint64
		for s, l := range c.lens {
			if (l > 0) != (tc.freq[s] > 0) || l > maxCodeLen {
				t.Fatalf("%s: symbol %d of frequency %d has length %d", tc.name, s, tc.freq[s], l)
			}
			if l > 0 {
				used++
				kraft += 1 / float64(uint(1)<<l)
				cost += tc.freq[s] * uint64(l)
			}
		}
		if used == 0 {
			if c.bits != 0 {
				t.Errorf("%s: an alphabet without symbols has bits %d", tc.name, c.bits)
			}
			continue
		}
		if used > 1 && kraft != 1 {
			t.Errorf("%s: Kraft sum %v, want 1 (a complete code)", tc.name, kraft)
		}
		// Where lengths needed no limit, the code is optimal.
		if maxUnlimited(tc.freq) <= maxCodeLen && used > 1 {
			checked++
			if want := huffmanCost(tc.freq); cost != want {
				t.Errorf("%s %v: cost %d, optimal %d", tc.name, tc.freq, cost, want)
			}
		}
		tab := c.table()
		for s, l := range c.lens {
			if l == 0 {
				continue
			}
			// The table is indexed by the next maxCodeLen bits, least
			// significant first; any bits may follow the code.
			for pad := uint32(0); pad < 4; pad++ {
				i := uint32(c.codes[s]) | pad<<l&(1<<maxCodeLen-1)
				if got := tab[i]; int(got>>4) != s || uint8(got&15) != l {
					t.Fatalf("%s: code of symbol %d (length %d) decodes as symbol %d length %d", tc.name, s, l, got>>4, got&15)
				}
			}
		}
		// The field stream's code: the same lengths, the codes read
		// most significant bit first, so its table is indexed by the
		// bits in the other order.
		hc := newCode(tc.freq)
		hc.highFirst()
		htab := hc.table()
		for s, l := range hc.lens {
			if l == 0 {
				continue
			}
			if want := uint16(bits.Reverse16(c.codes[s]) >> (16 - l)); hc.codes[s] != want {
				t.Fatalf("%s: high-first code of symbol %d is %b, want %b", tc.name, s, hc.codes[s], want)
			}
			for pad := uint32(0); pad < 4; pad++ {
				i := uint32(hc.codes[s])<<(maxCodeLen-l) | pad&(1<<(maxCodeLen-l)-1)
				if got := htab[i]; int(got>>4) != s || uint8(got&15) != l {
					t.Fatalf("%s: high-first code of symbol %d (length %d) decodes as symbol %d length %d", tc.name, s, l, got>>4, got&15)
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("the cost of only %d codes was checked against an optimal one", checked)
	}
}

// maxUnlimited is the longest length of an optimal Huffman code for
// freq, with no limit: the depth of the tree merging the lightest two.
func maxUnlimited(freq []uint64) int {
	type node struct {
		w     uint64
		depth int
	}
	var q []node
	for _, f := range freq {
		if f > 0 {
			q = append(q, node{f, 0})
		}
	}
	for len(q) > 1 {
		slices.SortStableFunc(q, func(a, b node) int { return cmp.Compare(a.w, b.w) })
		q = append(q[2:], node{q[0].w + q[1].w, max(q[0].depth, q[1].depth) + 1})
	}
	if len(q) == 0 {
		return 0
	}
	return max(q[0].depth, 1)
}

func fib(n int) []uint64 {
	f := []uint64{1, 1}
	for len(f) < n {
		f = append(f, f[len(f)-1]+f[len(f)-2])
	}
	return f
}

func ones(n int) []uint64 {
	f := make([]uint64, n)
	for i := range f {
		f[i] = 1
	}
	return f
}

// heapRoots is a container/heap of Huffman roots ordered as lengths
// orders them: by weight, then by order of creation.
type heapRoots []heapRoot

type heapRoot struct {
	w     uint64
	order int
	syms  []int // the leaves under the root
}

func (h heapRoots) Len() int { return len(h) }
func (h heapRoots) Less(i, j int) bool {
	if h[i].w != h[j].w {
		return h[i].w < h[j].w
	}
	return h[i].order < h[j].order
}
func (h heapRoots) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heapRoots) Push(x any)   { *h = append(*h, x.(heapRoot)) }
func (h *heapRoots) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// heapLengths is the lengths of the Huffman tree of freq built with a
// heap of the roots, joining the least two by weight, then order (leaves
// in symbol order, then joined roots as they are made): the tree
// huffTree.lengths must build, whatever it keeps its roots in.
func heapLengths(freq []uint64) []uint8 {
	lens := make([]uint8, len(freq))
	var h heapRoots
	for s, f := range freq {
		if f > 0 {
			h = append(h, heapRoot{w: f, order: len(h), syms: []int{s}})
		}
	}
	if len(h) == 1 {
		lens[h[0].syms[0]] = 1
	}
	heap.Init(&h)
	for order := len(h); h.Len() > 1; order++ {
		a, b := heap.Pop(&h).(heapRoot), heap.Pop(&h).(heapRoot)
		syms := append(slices.Clip(a.syms), b.syms...)
		for _, s := range syms {
			lens[s]++ // one level deeper
		}
		heap.Push(&h, heapRoot{w: a.w + b.w, order: order, syms: syms})
	}
	return lens
}

// TestHuffLengthsHeap checks huffTree.lengths against heapLengths: the
// same lengths for every symbol, with and without ties of weights.
func TestHuffLengthsHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var h huffTree
	for i := range 2000 {
		n := 1 + rng.IntN(256)
		freq := make([]uint64, n)
		for s := range freq {
			switch {
			case rng.IntN(4) == 0: // unused
			case i%2 == 0: // few distinct weights: many ties
				freq[s] = 1 + uint64(rng.IntN(4))
			default:
				freq[s] = 1 + rng.Uint64N(1<<uint(rng.IntN(30)))
			}
		}
		lens := make([]uint8, n)
		longest := h.lengths(freq, lens)
		want := heapLengths(freq)
		if !slices.Equal(lens, want) {
			t.Fatalf("freq %v: lengths %v, a heap's tree gives %v", freq, lens, want)
		}
		if m := slices.Max(want); longest != m {
			t.Fatalf("freq %v: longest %d, want %d", freq, longest, m)
		}
	}
}

// BenchmarkNewCode makes the codes of 16 alphabets of skewed frequencies,
// as encodePages does once the entries are counted: their lengths are
// halved until they fit, a Huffman tree each round.
func BenchmarkNewCode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	freqs := make([][]uint64, 16)
	for k := range freqs {
		freqs[k] = make([]uint64, 256)
		for s := range freqs[k] {
			if rng.IntN(3) > 0 {
				freqs[k][s] = 1 + uint64(rng.ExpFloat64()*float64(uint64(1)<<uint(rng.IntN(18))))
			}
		}
	}
	for b.Loop() {
		for _, f := range freqs {
			newCode(f)
		}
	}
}
