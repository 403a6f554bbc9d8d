package symcache

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/cairn-dev/cairn/internal/prefault"
)

// Spilling: a store keeps up to spillAt bytes in one buffer, then moves
// to the memory of its pool or to a temporary file, writing and reading
// it in order in pieces of spillChunk bytes.
const (
	spillAt    = 256 << 10
	spillChunk = 64 << 10
	// readAt keeps spillWindows windows of spillWindow bytes.
	spillWindows = 8
	spillWindow  = 16 << 10
)

// spill is an append-only store of bytes that moves out of its buffer
// once it holds more than limit bytes (0: never): to memory of its pool
// while the pool has room (see spillPool), else to an unlinked temporary
// file. The builder's intermediate tables of a large input then live in
// the page cache, which the system can write out and drop, rather than in
// the process's memory. The first error is latched and reported by
// finish, readAt and the readers.
type spill struct {
	limit int
	pool  *spillPool
	mem   []byte // all the data, or the part not yet moved out
	// kept holds the data moved to the pool's memory, f the data moved
	// to a file; at most one is set.
	kept *memStore
	f    *os.File
	// unlinked tells that f's name was removed when it was made.
	unlinked bool
	size     int64 // bytes written in total
	err      error
	// wins cache pieces of f for readAt; reads counts the pieces read
	// (tests).
	wins  [spillWindows]spillWin
	tick  uint64
	reads int
}

// spillWin is a piece of a spill's file read at off.
type spillWin struct {
	data []byte
	off  int64
	used uint64
}

// write appends p and returns its offset.
func (s *spill) write(p []byte) int64 { return spillWrite(s, p) }

// writeString is write for a string, without copying it to a slice first.
func (s *spill) writeString(p string) int64 { return spillWrite(s, p) }

func spillWrite[T string | []byte](s *spill, p T) int64 {
	off := s.size
	s.size += int64(len(p))
	if s.err != nil {
		return off
	}
	if s.kept != nil && len(s.mem) > 0 && len(s.mem)+len(p) > cap(s.mem) {
		// The buffer goes to the pool's memory as it is: were it grown
		// by the append, its copy would be kept with room to spare, a
		// third of the memory, and the buffer it replaced be garbage.
		s.flush()
	}
	s.mem = append(s.mem, p...)
	switch {
	case !s.moved() && s.limit > 0 && len(s.mem) > s.limit:
		if m := (&memStore{pool: s.pool}); m.keep(s.mem) {
			s.kept = m
		} else if s.toFile(); s.err == nil {
			s.flush()
		}
		s.mem = s.pool.chunk()
	case s.moved() && len(s.mem) >= spillChunk:
		s.flush()
	}
	return off
}

// moved reports whether the data moved out of the buffer.
func (s *spill) moved() bool { return s.kept != nil || s.f != nil }

// toFile moves the spill to a new temporary file, with the data kept in
// memory so far, if any.
func (s *spill) toFile() {
	f, err := os.CreateTemp("", "cairn-symcache-*")
	if err != nil {
		s.err = fmt.Errorf("symcache: temporary file: %w", err)
		return
	}
	// Unlinked at once where the system allows it: nothing is left
	// behind if the process dies.
	s.unlinked = os.Remove(f.Name()) == nil
	s.f = f
	if m := s.kept; m != nil {
		s.kept = nil
		for _, c := range m.chunks {
			if _, err := f.Write(c); err != nil {
				s.err = fmt.Errorf("symcache: temporary file: %w", err)
				break
			}
		}
		m.release()
	}
}

// flush moves the buffered bytes out: the buffer itself to the pool's
// memory while it has room, else the bytes to the file.
func (s *spill) flush() {
	if s.err != nil || len(s.mem) == 0 {
		s.mem = s.mem[:0]
		return
	}
	if s.kept != nil {
		if s.kept.keep(s.mem) {
			s.mem = s.pool.chunk()
			return
		}
		if s.toFile(); s.err != nil {
			return
		}
	}
	if _, err := s.f.Write(s.mem); err != nil {
		s.err = fmt.Errorf("symcache: temporary file: %w", err)
	}
	s.mem = s.mem[:0]
}

// finish ends the writing; the data can be read afterwards.
func (s *spill) finish() error {
	if s.moved() {
		s.flush()
		s.mem = nil
	}
	return s.err
}

// readAt fills p from offset off. Reads from the file that are part of
// a sequential pass, forwards or backwards, go through a few cached
// windows, so that readers going through several parts of it in order,
// interleaved (the spans of the functions of every module, and those of
// the public symbols between them), each find theirs; others read just p.
func (s *spill) readAt(p []byte, off int64, sequential bool) error {
	if s.err != nil {
		return s.err
	}
	if off < 0 || off+int64(len(p)) > s.size {
		return errSpill
	}
	if !s.moved() {
		copy(p, s.mem[off:])
		return nil
	}
	// While the spill is written, its last bytes are still in memory.
	if flushed := s.size - int64(len(s.mem)); off+int64(len(p)) > flushed {
		k := max(off, flushed)
		copy(p[k-off:], s.mem[k-flushed:])
		p = p[:k-off]
		if len(p) == 0 {
			return nil
		}
	}
	if s.kept != nil {
		s.kept.readAt(p, off)
		return nil
	}
	if len(p) >= spillWindow || !sequential {
		// Large reads, and reads in no order, bypass the windows.
		if _, err := s.f.ReadAt(p, off); err != nil {
			s.err = fmt.Errorf("symcache: temporary file: %w", err)
		}
		return s.err
	}
	for len(p) > 0 {
		w := s.window(off)
		if w == nil {
			return s.err
		}
		n := copy(p, w.data[off-w.off:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// window returns a cached window holding offset off, reading it into the
// least recently used one when none does. The new window starts at off,
// unless a cached one starts less than a window after off: its reader is
// then going backwards, and the new window ends where that one starts.
// Spans sorted in memory are read so when the functions came in
// descending address order, as a unit's often do: one read for every
// span would make up an eighth of the build's time on the bench fixture.
func (s *spill) window(off int64) *spillWin {
	s.tick++
	var lru *spillWin
	next := int64(-1) // the start of the nearest cached window after off
	for i := range s.wins {
		w := &s.wins[i]
		if w.data != nil && off >= w.off && off < w.off+int64(len(w.data)) {
			w.used = s.tick
			return w
		}
		if w.data != nil && w.off > off && (next < 0 || w.off < next) {
			next = w.off
		}
		if lru == nil || w.used < lru.used {
			lru = w
		}
	}
	start := off
	if next >= 0 && next-off <= spillWindow {
		start = max(next-spillWindow, 0)
	}
	// Only what was written to the file: not the bytes still in memory.
	n := min(int64(spillWindow), s.size-int64(len(s.mem))-start)
	if cap(lru.data) < spillWindow {
		lru.data = make([]byte, spillWindow)
	}
	lru.data, lru.off, lru.used = lru.data[:n], start, s.tick
	s.reads++
	if _, err := s.f.ReadAt(lru.data, start); err != nil {
		s.err = fmt.Errorf("symcache: temporary file: %w", err)
		lru.data = nil
		return nil
	}
	return lru
}

// each calls out with the data in order, in pieces.
func (s *spill) each(out func([]byte) error) error {
	if s.err != nil {
		return s.err
	}
	if !s.moved() {
		if len(s.mem) == 0 {
			return nil
		}
		return out(s.mem)
	}
	if s.kept != nil {
		for _, c := range s.kept.chunks {
			if err := out(c); err != nil {
				return err
			}
		}
		if len(s.mem) > 0 {
			return out(s.mem)
		}
		return nil
	}
	buf := make([]byte, spillChunk)
	for off := int64(0); off < s.size; {
		n := int(min(int64(len(buf)), s.size-off))
		if _, err := s.f.ReadAt(buf[:n], off); err != nil {
			return fmt.Errorf("symcache: temporary file: %w", err)
		}
		if err := out(buf[:n]); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// close removes the temporary file and drops the data.
func (s *spill) close() {
	switch f := s.f; {
	case f != nil && s.unlinked:
		// Closing the file frees its pages of the page cache: 0.1 ms a
		// megabyte or more, on the build's critical path (the raw
		// spans' 4 MB before the range stream is written, for the
		// bench fixture). A goroutine does it beside the phases after.
		go f.Close()
	case f != nil:
		// It could not be unlinked while open. (Removing a name that
		// is gone costs two failing system calls: os.Remove tries a
		// directory too.)
		f.Close()
		os.Remove(f.Name())
	}
	if s.kept != nil {
		s.kept.release()
	}
	s.f, s.kept, s.unlinked = nil, nil, false
	s.mem, s.wins, s.size = nil, [spillWindows]spillWin{}, 0
}

// spillReader decodes uvarints from a spill in order.
type spillReader struct {
	s     *spill
	store []byte // the buffer buf lies in, when reading from the file
	buf   []byte // undecoded bytes read so far
	off   int64  // offset of the next byte to read into buf
	err   error
}

func (s *spill) reader() spillReader {
	r := spillReader{s: s, err: s.err}
	if !s.moved() {
		r.buf, r.off = s.mem, s.size
	}
	return r
}

// readerAt is reader from offset off on.
func (s *spill) readerAt(off int64) spillReader {
	r := s.reader()
	if !s.moved() {
		r.buf = r.buf[min(off, int64(len(r.buf))):]
	} else {
		r.off = off
	}
	return r
}

// uvarint decodes the next value; 0 after an error.
func (r *spillReader) uvarint() uint64 {
	// Most values take one or two bytes (lines, address steps): they
	// are decoded inline, as the helper uvarint does; calling it here
	// instead cost 4% more instructions in a build.
	if b := r.buf; len(b) >= 2 {
		if b[0] < 0x80 {
			r.buf = b[1:]
			return uint64(b[0])
		}
		if b[1] < 0x80 {
			r.buf = b[2:]
			return uint64(b[0]&0x7f) | uint64(b[1])<<7
		}
	}
	return r.slowUvarint()
}

// slowUvarint is uvarint for longer values, the last byte of the buffer
// and errors.
func (r *spillReader) slowUvarint() uint64 {
	if len(r.buf) > 0 && r.buf[0] < 0x80 {
		x := uint64(r.buf[0])
		r.buf = r.buf[1:]
		return x
	}
	if r.err != nil {
		return 0
	}
	if len(r.buf) < binary.MaxVarintLen64 && r.off < r.s.size {
		r.fill()
	}
	x, n := binary.Uvarint(r.buf)
	if n <= 0 {
		if r.err == nil {
			r.err = errSpill
		}
		return 0
	}
	r.buf = r.buf[n:]
	return x
}

// fill moves the undecoded bytes to the front of the buffer and reads
// the next piece of the file after them.
func (r *spillReader) fill() {
	if r.store == nil {
		r.store = make([]byte, spillChunk)
	}
	k := copy(r.store, r.buf)
	n := int(min(int64(len(r.store)-k), r.s.size-r.off))
	if err := r.s.readAt(r.store[k:k+n], r.off, false); err != nil {
		r.err = err
		return
	}
	r.buf, r.off = r.store[:k+n], r.off+int64(n)
}

// spillPool is the memory that the spills of one build may keep their
// data in once it outgrows their buffers (Options.SpillMemory), shared
// by them all. A spill that finds no room left moves its data to a
// temporary file, as every spill does without a pool. The parts of the
// range stream are written on goroutines of their own, each to a spill
// of its own, so the pool is taken from atomically.
type spillPool struct {
	left atomic.Int64
	// ahead holds chunks made ready for the spills (chunk).
	ahead chan []byte
}

// chunksAhead is the number of chunks a pool keeps ready.
const chunksAhead = 4

// newSpillPool returns a pool of n bytes, or nil (no pool) for n <= 0.
func newSpillPool(n int64) *spillPool {
	if n <= 0 {
		return nil
	}
	p := &spillPool{ahead: make(chan []byte, chunksAhead)}
	p.left.Store(n)
	return p
}

// chunk returns an empty buffer of spillChunk bytes for a spill's next
// chunk. A pool's are made, and their pages faulted in, on goroutines of
// their own, a chunk ahead of need. The spills are filled by the goroutine
// the others wait for (the adding of the functions, then resolve), and
// their first writes to fresh memory took ~900 page faults of the bench
// fixture's build, 2 ms of it on that goroutine, while the other core had
// time to spare.
func (p *spillPool) chunk() []byte {
	if p == nil {
		return make([]byte, 0, spillChunk)
	}
	go p.makeAhead()
	select {
	case c := <-p.ahead:
		return c
	default:
		return make([]byte, 0, spillChunk)
	}
}

// makeAhead makes a chunk ready for chunk, unless chunksAhead are.
func (p *spillPool) makeAhead() {
	c := make([]byte, 0, spillChunk)
	prefault.Slice(c)
	select {
	case p.ahead <- c:
	default:
	}
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
