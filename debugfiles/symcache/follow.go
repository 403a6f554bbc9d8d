package symcache

import (
	"math"
	"runtime"
)

// follower runs the counting pass of the range stream (see encodePages)
// while resolve still makes the entries, on a goroutine of its own: the
// counting needs every entry once, in order, and resolve, which makes
// them one after the other, keeps one core busy while the other would
// idle. Resolve hands the entries over in batches.
//
// The pages need the page size, which layout takes from what the builder
// saw before resolve (guessShift), so the follower knows it from the
// start. When the entries outgrow what a counting pass records, the
// follower gives up and its counts are not used; resolve, which does not
// code the final entries while a follower counts them, then runs again
// keeping them (WriteTo), and encodePages counts as it would without a
// follower. Used or not, the file is the same.
type follower struct {
	in, free chan []entry
	done     chan struct{}
	// feed is what resolve writes: apart from what the follower's
	// goroutine writes at every entry, so that the two do not share a
	// cache line.
	feed *feed
	// end is the end of the last entry, set by resolve before it closes
	// in.
	end uint64

	shift  uint8
	minGap uint64 // the smallest gap that cuts regions (layout)
	limit  int    // the most entries it records
	room   int    // the entries its record is made room for (run)
	enc    *streamEnc
	// failed is set when the entries outgrow limit, or the pages twice
	// that: the counts are then not used.
	failed bool
	n      int

	// held is the last entry received: a gap entry cuts regions if the
	// entry after it starts far enough, which the next entry tells.
	held     entry
	haveHeld bool
	// next is where the entry after the one being coded starts (the
	// end of the last): an entry going on past its page's end is coded
	// as a continuation (state.encodeNext).
	next uint64
	// The region and page being coded: the page's range, whether its
	// first entry is coded, the coder's state since, the last entry
	// coded, the pages begun so far and the state the current group of
	// pages starts from.
	inRegion bool
	ps, pe   uint64
	open     bool
	st       state
	prev     entry
	pages    uint64
	group    groupStart
}

// feed is resolve's side of a follower: the batch it fills.
type feed struct {
	batch  []entry
	made   int // batches made so far
	closed bool
}

// followBatch is the number of entries resolve hands over at once, and
// followBatches how many batches may be in flight. Each hand-over may
// wake the follower's thread, which costs the sender a system call:
// with batches of 1,024 entries resolve took ~20% longer on the bench
// fixture than without a follower, with 16,384 ~5%.
const (
	followBatch   = 8192
	followBatches = 4
)

// followMode chooses when WriteTo starts a follower: 0 with two
// processors or more, 1 always, -1 never. Tests compare the ways, and
// make the follower's pages 2^followShiftOff times the layout's.
var (
	followMode     int
	followShiftOff uint8
)

// startFollower starts a follower for the entries the builder's spans
// promise, when it can be expected to help; nil otherwise.
func (a *assembly) startFollower() *follower {
	b := a.b
	if b.spanEntries == 0 || followMode < 0 || followMode == 0 && runtime.GOMAXPROCS(0) < 2 {
		return nil
	}
	n := b.entryGuess()
	if n > recordEntries {
		return nil
	}
	f := newFollower(a.guessShift()+followShiftOff, recordEntries, n)
	f.feed = &feed{batch: make([]entry, 0, min(n, followBatch)), made: 1}
	go f.run()
	return f
}

// followerFits reports whether a follower counted the pages the layout
// has, once resolve is done.
func (a *assembly) followerFits() bool {
	f := a.fol
	return f != nil && !f.failed && f.shift == a.shift && f.pages == a.npages+1
}

// newFollower makes a follower for pages of 1<<shift bytes that records
// up to limit entries, with room for n (made as it runs).
func newFollower(shift uint8, limit, n int) *follower {
	f := &follower{
		in:     make(chan []entry, followBatches),
		free:   make(chan []entry, followBatches),
		done:   make(chan struct{}),
		shift:  shift,
		limit:  limit,
		minGap: regionGap(shift),
		room:   n,
		enc:    &streamEnc{counting: true, rec: &symRecord{}},
	}
	for k := range f.enc.freq {
		f.enc.freq[k] = make([]uint64, alphabetSize(k))
	}
	return f
}

// put hands over the next final entry.
func (f *follower) put(e entry) {
	fd := f.feed
	if len(fd.batch) == cap(fd.batch) {
		f.in <- fd.batch
		select {
		case fd.batch = <-f.free:
		default:
			if fd.made < followBatches {
				fd.made++
				fd.batch = make([]entry, 0, followBatch)
			} else {
				fd.batch = <-f.free
			}
		}
	}
	fd.batch = append(fd.batch, e)
}

// finish hands over the last entries and the end of the last one, and
// waits for the counting to end.
func (f *follower) finish(end uint64) {
	fd := f.feed
	if fd.closed {
		return
	}
	if len(fd.batch) > 0 {
		f.in <- fd.batch
		fd.batch = nil
	}
	f.end = end
	f.stop()
}

// stop ends the follower without more entries and waits for it.
func (f *follower) stop() {
	if fd := f.feed; !fd.closed {
		fd.closed = true
		close(f.in)
	}
	<-f.done
}

// run counts the entries as they come; the batches go back to resolve.
func (f *follower) run() {
	defer close(f.done)
	// The record's room (3.8 MB for the bench fixture) is made here,
	// while resolve makes the first batch, rather than by startFollower:
	// its zeroing held up the start of resolve, which the build waits
	// for, where the follower would idle.
	rec := f.enc.rec
	rec.syms, rec.extras = make([]uint16, 0, f.room*7/2), make([]uint32, 0, f.room)
	for b := range f.in {
		for _, e := range b {
			f.push(e)
		}
		f.free <- b[:0]
	}
	if f.failed {
		return
	}
	if f.haveHeld {
		f.next = f.end
		f.code(f.held)
		f.endRegion(f.end)
	}
	if !f.failed {
		// The stream's end is the start of a last, empty page.
		f.beginPage(entry{})
	}
}

// push takes the next entry: the one held before it is coded now, unless
// it is a gap cutting the regions.
func (f *follower) push(e entry) {
	if f.failed {
		return
	}
	if f.n++; f.n > f.limit {
		f.fail()
		return
	}
	h, had := f.held, f.haveHeld
	f.held, f.haveHeld = e, true
	switch {
	case !had:
	case h.gap() && e.start-h.start >= f.minGap:
		f.endRegion(h.start)
	default:
		f.next = e.start
		f.code(h)
	}
}

// fail gives the counting up; what it recorded goes.
func (f *follower) fail() {
	f.failed, f.enc = true, nil
}

// code adds entry x of the current region, beginning a region at it if
// none is open, and the pages before it.
func (f *follower) code(x entry) {
	if !f.inRegion {
		f.inRegion = true
		f.setPage(x.start)
	}
	for x.start >= f.pe {
		if !f.open && !f.openPage(f.prev) {
			return
		}
		f.setPage(f.pe)
	}
	if !f.open {
		if x.start == f.ps {
			f.openPage(x)
			f.prev = x
			return
		}
		if !f.openPage(f.prev) { // the entry covering the page's start
			return
		}
	}
	f.st.encodeNext(f.enc, x, f.next > f.pe)
	f.prev = x
}

// endRegion ends the current region at end: each of its pages not yet
// begun repeats the last entry.
func (f *follower) endRegion(end uint64) {
	if !f.inRegion {
		return
	}
	f.inRegion = false
	for {
		if !f.open && !f.openPage(f.prev) {
			return
		}
		if f.pe >= end {
			return
		}
		f.setPage(f.pe)
	}
}

// setPage makes the page starting at ps current, not yet begun.
func (f *follower) setPage(ps uint64) {
	f.ps, f.open = ps, false
	f.pe = ps + 1<<f.shift
	if f.pe < ps {
		f.pe = math.MaxUint64
	}
}

// openPage begins the current page with first, the entry covering its
// start, as pagePass does; false when the follower gave up.
func (f *follower) openPage(first entry) bool {
	if !f.beginPage(first) {
		return false
	}
	f.st = f.group.state()
	f.st.encode(f.enc, first, true)
	f.st.start = f.ps
	f.open = true
	return true
}

// beginPage notes where the next page, whose first entry is first,
// starts in the record; the first page of a group also notes the state
// the group starts from. It gives up, returning false, past twice the
// entries it may record: the page size it guessed is then far too small
// (each page of the file holds perPage entries on average), and its
// counts would not be used.
func (f *follower) beginPage(first entry) bool {
	if f.failed || f.pages >= 2*uint64(f.limit)+groupPages {
		f.fail()
		return false
	}
	rec := f.enc.rec
	if f.pages%groupPages == 0 {
		f.group = startOf(first)
		rec.groups = append(rec.groups, f.group)
		rec.groupExtras = append(rec.groupExtras, uint32(len(rec.extras)))
	}
	rec.pages = append(rec.pages, uint32(len(rec.syms)))
	f.pages++
	return true
}
