package symcache

import (
	"sync/atomic"
)

// spillPool is the memory that the spills of one build may keep their
// data in once it outgrows their buffers (Options.SpillMemory), shared
// by them all. A spill that finds no room left moves its data to a
// temporary file, as every spill does without a pool. The parts of the
// range stream are written on goroutines of their own, each to a spill
// of its own, so the pool is taken from atomically.
type spillPool struct {
	left atomic.Int64
}

// newSpillPool returns a pool of n bytes, or nil (no pool) for n <= 0.
func newSpillPool(n int64) *spillPool {
	if n <= 0 {
		return nil
	}
	p := &spillPool{}
	p.left.Store(n)
	return p
}

// take reserves n bytes of the pool, reporting false, and reserving
// nothing, if it has less left. A nil pool has none.
func (p *spillPool) take(n int64) bool {
	if p == nil {
		return false
	}
	for {
		left := p.left.Load()
		if left < n {
			return false
		}
		if p.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (p *spillPool) give(n int64) {
	if p != nil {
		p.left.Add(n)
	}
}

// memStore is the data of a spill that moved to the memory of its pool:
// the buffers the spill filled, each kept as it was. Appending them to
// one array instead would copy all of it as it grew, and touch twice its
// memory: the bench fixture's build with its raw spans appended so ran
// x1.068 against their temporary file, while kept so it runs x0.94-0.96
// (BENCHMARKS.md), its system calls and the file system's work spared.
type memStore struct {
	pool   *spillPool
	chunks [][]byte
	starts []int64 // the offset of each chunk's first byte
	size   int64
	held   int64 // bytes taken from the pool: the chunks' capacities
	// last is the chunk the last read began in: reads mostly go
	// through the data in order.
	last int
}

// keep adds the bytes of b after the data, b itself, whose ownership
// passes to the store. It reports false, and keeps nothing, when the pool
// has no room for b's capacity.
func (m *memStore) keep(b []byte) bool {
	n := int64(cap(b))
	if !m.pool.take(n) {
		return false
	}
	m.held += n
	m.chunks = append(m.chunks, b)
	m.starts = append(m.starts, m.size)
	m.size += int64(len(b))
	return true
}

// readAt fills p from offset off, which the caller has checked lie
// within the data.
func (m *memStore) readAt(p []byte, off int64) {
	i := m.find(off)
	for len(p) > 0 {
		n := copy(p, m.chunks[i][off-m.starts[i]:])
		p, off = p[n:], off+int64(n)
		i++
	}
}

// find returns the chunk holding offset off, which lies within the data.
func (m *memStore) find(off int64) int {
	if i := m.last; i < len(m.chunks) && off >= m.starts[i] {
		// The chunk of the last read, or one of the next two.
		for k := i; k < min(i+3, len(m.chunks)); k++ {
			if off < m.starts[k]+int64(len(m.chunks[k])) {
				m.last = k
				return k
			}
		}
	}
	lo, hi := 0, len(m.starts)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if m.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	m.last = lo
	return lo
}

// release drops the data and gives its memory back to the pool.
func (m *memStore) release() {
	m.pool.give(m.held)
	m.chunks, m.starts, m.size, m.held, m.last = nil, nil, 0, 0, 0
}
