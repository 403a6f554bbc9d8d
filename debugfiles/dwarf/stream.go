package dwarf

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
)

// Functions and the compact iterators walk every unit before they build the
// first tree: the code no function covers (the nameless functions made of
// it) is only known once every function is, and an error in any unit comes
// before the first function. The walk's records of the whole program, and
// the pages of .debug_info it read, are then all held at once.
//
// A consumer that has no use for that code (a Breakpad .sym writer writes
// no FUNC record without a name), or that can wait for the end to learn
// which of it no function covers (a symcache writer, see GapClipper), is
// served unit batch by unit batch instead: each batch of units is walked
// (one batch ahead, on a goroutine of its own), its functions are named,
// built and yielded, and its records and pages are dropped before the
// next. A batch whose DIEs refer past the units read so far (references
// across units, which producers emit only with DW_FORM_ref_addr) waits for
// the units it refers to and goes out with them: the names are those of
// the whole-program walk whatever the references.

// TransientSubprograms yields what TransientCompactFunctions does, in the
// same order and under the same rules of storage, less the nameless
// functions TransientCompactFunctions makes of the code that no function
// covers. Leaving those out lets it read the program a batch of units at a
// time, holding the records of a few batches and not of the program, and
// dropping each batch's pages of .debug_info (see Sections.Release) once
// its functions are yielded. An error in a unit therefore comes after the
// functions of the batches of units before it. A session reading through debug/dwarf
// (NewSession) yields what TransientCompactFunctions does.
func (s *Session) TransientSubprograms() iter.Seq2[*CompactFunction, error] {
	if s.data != nil {
		return s.TransientCompactFunctions()
	}
	return s.streamed(false)
}

// TransientSubprogramsAndGaps yields what TransientSubprograms does, and
// after the functions of each batch of units the nameless functions made
// of the code of the batch's units that none of the batch's functions
// covers, flagged Gap, all with their lines as Table rows. Kept where no
// function of the program covers them, these are the nameless functions
// TransientCompactFunctions yields: a consumer that clips them so
// (GapClipper) gets what TransientCompactFunctions gives while holding a
// few batches' records, not the program's. Skeleton units' gaps come
// last, after their split units are read.
//
// Where reading batch by batch would hold about as much as the whole
// program, it yields what TransientCompactFunctions does instead, its
// gaps flagged alike: for a session reading through debug/dwarf; for a
// program whose DIEs may refer to other units, as every batch's records
// are kept then; and for a program whose .debug_info is smaller than
// streamMinInfo.
func (s *Session) TransientSubprogramsAndGaps() iter.Seq2[*CompactFunction, error] {
	if s.data != nil || (s.sec != nil && len(s.sec.Info) < streamMinInfo) {
		return s.TransientCompactFunctions()
	}
	return s.streamed(true)
}

// streamMinInfo is the .debug_info from which TransientSubprogramsAndGaps
// reads a batch of units at a time. The whole-program walk's heap takes
// 3.5-4.5 bytes per byte of .debug_info (15 MB for the bench fixture's
// 4.3 MB, 38 MB for libpython's 9.2 MB), and it keeps both cores busier:
// on the bench fixture the symcache build ran x0.92 of the time it took
// batch by batch, which made a segment of each unit. On libpython, batch
// by batch ran x0.88 of the whole-program walk's time, with a quarter less
// CPU and 37 MB of peak RSS instead of 50 (BENCHMARKS.md, thirty-first
// session). Below this size, the whole program's heap is less than
// Breakpad's dump_syms holds for the same input (~37 MB).
var streamMinInfo = 6 << 20

// errCrossUnit is stream's answer, before it reads any unit, when gaps
// were asked for and the DIEs may refer to other units: every batch's
// records would be kept, and on a Go binary (whose units refer to each
// other) the symcache build ran x1.19 of the whole-program walk's time.
// The tests set gapsAcrossUnits to stream such programs anyway.
var (
	errCrossUnit    = errors.New("dwarf: references across units")
	gapsAcrossUnits = false
)

// streamed is TransientSubprograms, with gaps when gaps is set (see
// TransientSubprogramsAndGaps).
func (s *Session) streamed(gaps bool) iter.Seq2[*CompactFunction, error] {
	return func(yield func(*CompactFunction, error) bool) {
		stopped := false
		err := s.stream(streamBatchBytes, gaps, func(cf *CompactFunction) bool {
			if !yield(cf, nil) {
				stopped = true
			}
			return !stopped
		})
		if err == errCrossUnit {
			for cf, err := range s.TransientCompactFunctions() {
				if !yield(cf, err) {
					return
				}
			}
			return
		}
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// stream walks, builds and yields the functions of the session's sections
// a segment at a time: a run of batches of units, of batchBytes of
// .debug_info, none of whose references points past its end; with gaps
// set, each segment's gaps too (TransientSubprogramsAndGaps). It returns
// errors as read and emit report them.
func (s *Session) stream(batchBytes int, gaps bool, yield func(*CompactFunction) bool) error {
	if s.sec == nil {
		return errClosed
	}
	bl := newBuilder(s.opts, s.sec.size())
	bl.reuse, bl.streaming = true, true
	// The consumer of gaps takes the rows of a function as they lie in
	// its unit's table, as from TransientCompactFunctions.
	bl.tableRows = gaps
	src := &source{sec: s.sec, be: s.be, abbrevs: map[abbrevKey]*abbrevTable{}}
	bl.sources = append(bl.sources, src)
	headers, err := unitHeaders(s.sec.Info, s.be)
	if err != nil {
		return fmt.Errorf("dwarf: %w", err)
	}
	if err := bl.bud.spend(len(headers)); err != nil {
		return fmt.Errorf("dwarf: %w", err)
	}

	// referBack reports whether a reference may lead to an earlier unit:
	// the entries of every segment are kept then. Each batch reads its
	// own abbreviation tables (see streamMain); they are only scanned
	// here, which streamMain does while the first batches are walked.
	referBack := func() bool {
		scanned := map[uint64]bool{}
		left := scanBytesPerByte*len(s.sec.Abbrev) + scanBytesBase
		for i := range headers {
			h := &headers[i]
			if !walked(h) || scanned[h.abbrevOff] {
				continue
			}
			scanned[h.abbrevOff] = true
			if scanReferBack(s.sec.Abbrev, h.abbrevOff, s.be, &left) {
				return true
			}
		}
		return false
	}

	if s.sec.Release != nil {
		// Reading the unit headers faulted in a page of each unit, and
		// the kernel maps the pages around a fault with it: most of
		// .debug_info. The walk reads it again a batch at a time.
		s.sec.Release(s.sec.Info)
	}

	stopped := false
	emit := func(cf *CompactFunction) bool {
		if !yield(cf) {
			stopped = true
		}
		return !stopped
	}
	skels, skelRanges, err := bl.streamMain(headers, batchBytes, referBack, gaps, emit)
	switch {
	case stopped:
		return nil
	case err != nil:
		return err
	}
	if len(skels) == 0 {
		return nil
	}
	if gaps {
		// The skeletons' ranges, for their gaps and their split units'
		// (readSplit gives a split unit without ranges its skeleton's),
		// go back in the builder's ranges, emptied since; a skeleton
		// whose segment's records went goes back in its units.
		held := make(map[*unitInfo]bool, len(bl.units))
		for _, u := range bl.units {
			held[u] = true
		}
		for _, u := range skels {
			u.cu0 = int32(len(bl.ranges))
			bl.ranges = append(bl.ranges, skelRanges[u]...)
			u.cu1 = int32(len(bl.ranges))
			if !held[u] {
				bl.units = append(bl.units, u)
			}
		}
	}
	split := len(bl.units)
	// Split units are few, and are walked after the main object's as the
	// whole-program walk does: their functions come last.
	if err := bl.readSplit(skels); err != nil {
		return err
	}
	var gs []gap
	if gaps {
		gs = bl.gapsOf(func(ui int, u *unitInfo) bool { return u.skeleton || ui >= split })
	}
	if err := bl.emitSegment(gs, emit); err != nil {
		return fmt.Errorf("dwarf: %w", err)
	}
	return nil
}

// streamBatchBytes is the .debug_info a batch of a streaming walk covers
// (at least one unit): the records of a batch, and its pages of
// .debug_info, are held from its walk to the end of its emission, for two
// batches at a time.
const streamBatchBytes = 64 << 10

// scanReferBack reports whether the DIEs of the abbreviation table at off
// of data may refer to a DIE of another unit, or wrap around to an earlier
// offset of their own: DW_FORM_ref_addr, DW_FORM_indirect, and the
// unit-relative forms wide enough to overflow. Names resolve through
// DW_AT_specification and DW_AT_abstract_origin only. The table is read
// without being built (the walk builds it); a table it cannot read, or
// reading more than left bytes in all (tables at many offsets of one
// large table), answers yes, which is never wrong.
func scanReferBack(data []byte, off uint64, be bool, left *int) bool {
	b := at(".debug_abbrev", data, off, be)
	start := b.left()
	defer func() { *left -= start - b.left() }()
	for b.err == nil && start-b.left() < *left {
		if b.uleb() == 0 {
			return b.err != nil
		}
		b.uleb() // tag
		b.u8()   // children
		for {
			attr, form := b.uleb(), b.uleb()
			if b.err != nil {
				return true
			}
			if attr == 0 && form == 0 {
				break
			}
			if form == formImplicitConst {
				b.sleb()
			}
			if uint32(attr) != atSpecification && uint32(attr) != atAbstractOrigin {
				continue
			}
			switch uint32(form) {
			case formRef1, formRef2, formRef4:
			default:
				return true
			}
		}
	}
	return true
}

// The bytes scanReferBack may read in all: a multiple of .debug_abbrev,
// which tables at distinct offsets cover about once in real files.
const (
	scanBytesPerByte = 4
	scanBytesBase    = 1 << 16
)

// streamMain walks the units of headers (the main object's) in batches on
// a few workers, as walkParallel does, and emits each segment as soon as
// its batches are merged, with its gaps when gaps is set but those of
// skeleton units. referBack tells whether a unit may refer to an earlier
// one (see stream); with gaps, streamMain then returns errCrossUnit
// before it emits anything. It returns the skeleton units met, whose split
// units are still to read, and, with gaps, each one's ranges.
func (bl *builder) streamMain(headers []unitHeader, batchBytes int, referBack func() bool, gaps bool, yield func(*CompactFunction) bool) ([]*unitInfo, map[*unitInfo][]addrRange, error) {
	src := bl.sources[0]
	batches := walkBatches(headers, batchBytes)
	root := bl.bud
	shared := &sharedBudget{from: root}
	// The walk workers spend beside this goroutine: every budget draws
	// from shared until they are done.
	bl.bud, bl.shared = shared.child(), shared
	defer func() {
		shared.giveBack(bl.bud)
		bl.bud, bl.shared = root, nil
	}()

	workers := emitWorkers()
	if workers >= 2 {
		bl.pool = bl.startEmitPool(workers, shared)
		defer func() {
			if bl.pool != nil {
				bl.pool.stop()
				bl.pool = nil
			}
		}()
	}
	// Two batches walked ahead, each on a goroutine of its own. The walk
	// takes less time than building and consuming the functions, but
	// batches differ: with one walked ahead, the emission waited for the
	// next ~7 ms of libpython's 58 ms build, and the walker as long for
	// leave to go on. Two took the build to 0.915 of the time, three to
	// 0.91. A batch walked ahead holds its records until it is emitted;
	// with two the peak RSS stayed at 36–38 MB (BENCHMARKS.md,
	// thirty-second session).
	const window = 2
	free := make(chan *builder, window)
	if bl.freeRows == nil {
		// A streaming session reads a table or two at a time, but a
		// spare set of rows serves only a table no larger than it: with
		// one spare, libpython's tables took 3.4 MB of new rows a build;
		// with four, 2.1 MB, ~200 fewer page faults, and a peak RSS of
		// 35.3–36.0 MB instead of 35.7–37.7, in as much time (x1.010,
		// alternated). Eight did no better.
		bl.freeRows = make(chan []lineRow, 4)
	}
	// Each shard reads the abbreviation tables of its batch into a source
	// of its own, emptied with the batch: compilers write a table per
	// unit, and the tables of the whole program would otherwise be held
	// to the end. The source keeps the tables' arrays for the shard's
	// next batch (abbrevSlab). A table that cannot be read fails its
	// unit's walk, as in the whole-program walk.
	walk := func(w *walkBatch) {
		select {
		case w.shard = <-free:
			clear(w.shard.sources[0].abbrevs)
			w.shard.sources[0].slab.reset()
		default:
			own := &source{sec: src.sec, be: src.be, abbrevs: map[abbrevKey]*abbrevTable{}, slab: &abbrevSlab{}}
			w.shard = &builder{opts: bl.opts, sources: []*source{own}}
			w.shard.presize(w.size)
		}
		w.units, w.err = w.shard.walkShard(0, headers[w.h0:w.h1], shared)
		if w.err == nil {
			w.shard.readFirstLines(shared, bl.freeRows)
		}
	}
	stop := make(chan struct{})
	var feed *jobFeed
	wg := new(sync.WaitGroup)
	if workers >= 2 {
		wg, feed = walkBatchesOn(batches, window, window, stop, false, walk)
	}
	// Workers skip what is left.
	defer func() {
		close(stop)
		if feed != nil {
			feed.close()
		}
		wg.Wait()
	}()

	// The scan of the abbreviation tables, ~0.5-1.7 ms of libpython's
	// build (the pages of .debug_abbrev come in as it goes), runs while
	// the walkers take the first batches, rather than before they start.
	keep := referBack()
	if keep && gaps && !gapsAcrossUnits {
		return nil, nil, errCrossUnit
	}
	open := true // the consumer wants more
	consume := func(cf *CompactFunction) bool {
		open = open && yield(cf)
		return open
	}
	// from is where the last parts released of .debug_info,
	// .debug_ranges, .debug_rnglists and .debug_line started (see
	// releaseSegment).
	var from [4]uint64
	segUnits := 0 // the segment's units are bl.units[segUnits:]
	var skels []*unitInfo
	var skelRanges map[*unitInfo][]addrRange
	segStart := -1      // offset in .debug_info of the segment's first unit, -1 when none is pending
	maxRef := uint64(0) // the highest reference of the pending segment
	for k := range batches {
		w := &batches[k]
		if feed == nil {
			walk(w)
		} else {
			<-w.done
		}
		if w.err != nil {
			return nil, nil, fmt.Errorf("dwarf: %w", w.err)
		}
		if segStart < 0 {
			segStart, segUnits = int(headers[w.h0].off), len(bl.units)
		}
		maxRef = max(maxRef, w.shard.maxRef())
		bl.mergeShard(w.shard)
		for _, u := range w.units {
			if u.skeleton {
				skels = append(skels, u)
			}
		}
		w.shard.reset()
		free <- w.shard // never blocks: at most one shard per window slot
		w.shard, w.units = nil, nil
		if feed != nil {
			feed.upTo(k + 1 + window)
		}
		end := headers[w.h1-1].end
		if maxRef >= end && k+1 < len(batches) {
			continue // the segment refers to units not read yet
		}
		src.ent0, src.ent1 = 0, int32(len(bl.entries))
		var gs []gap
		if gaps {
			first := segUnits
			gs = bl.gapsOf(func(ui int, u *unitInfo) bool { return ui >= first && !u.skeleton })
			for _, u := range bl.units[segUnits:] {
				if u.skeleton {
					if skelRanges == nil {
						skelRanges = map[*unitInfo][]addrRange{}
					}
					skelRanges[u] = slices.Clone(bl.ranges[u.cu0:u.cu1])
				}
			}
		}
		if err := bl.emitSegment(gs, consume); err != nil {
			return nil, nil, fmt.Errorf("dwarf: %w", err)
		}
		if !open {
			return nil, nil, nil
		}
		if src.sec.Release != nil {
			from = bl.releaseSegment(src.sec, uint64(segStart), end, bl.units[segUnits:], from)
		}
		bl.endSegment(keep)
		segStart, maxRef = -1, 0
	}
	if sec := src.sec; sec.Release != nil {
		// What is left of the sections the DIEs point into: split units
		// read the main object's range lists again, from the file.
		for _, b := range [][]byte{sec.Abbrev, sec.Addr, sec.Ranges, sec.RngLists, sec.StrOffsets, sec.Line} {
			sec.Release(b)
		}
	}
	return skels, skelRanges, nil
}

// releaseSegment hands the parts of the main object's sections a segment
// emitted has read to sec.Release: its units' .debug_info, from start to
// end, their line programs (each was released once read, less the pages
// it shares with its neighbours) and its range lists, up to the last list
// it read. Each part starts where the previous segment's did (from,
// returned updated): a page shared by two segments is released only with
// the second, as Release drops whole pages only. units are the segment's.
func (bl *builder) releaseSegment(sec *Sections, start, end uint64, units []*unitInfo, from [4]uint64) [4]uint64 {
	if end <= uint64(len(sec.Info)) {
		sec.Release(sec.Info[min(from[0], start):end])
		from[0] = start
	}
	var lines offsetSpan
	for _, u := range units {
		if u.hasStmt {
			lines.add(u.stmtList)
		}
	}
	for i, r := range []offsetSpan{bl.rangesRead[0], bl.rangesRead[1], lines} {
		b := [][]byte{sec.Ranges, sec.RngLists, sec.Line}[i]
		if !r.set {
			continue
		}
		lo, hi := min(r.lo, from[i+1]), min(r.hi, uint64(len(b)))
		if lo < hi {
			sec.Release(b[lo:hi])
			from[i+1] = max(from[i+1], min(r.lo, hi))
		}
	}
	bl.rangesRead = [2]offsetSpan{}
	return from
}

// maxRef is the highest DIE offset the records of shard sh refer to.
func (sh *builder) maxRef() uint64 {
	var m uint64
	for i := range sh.entries {
		e := &sh.entries[i]
		if e.flags&entHasSpec != 0 {
			m = max(m, e.spec)
		}
		if e.flags&entHasOrigin != 0 {
			m = max(m, e.origin)
		}
	}
	for i := range sh.nodes {
		if n := &sh.nodes[i]; n.hasOrig {
			m = max(m, n.origin)
		}
	}
	return m
}

// emitSegment builds and yields the functions of the nodes the builder
// holds, and of gaps. The names of entries already resolved (kept from
// earlier segments) are kept.
func (bl *builder) emitSegment(gaps []gap, yield func(*CompactFunction) bool) error {
	if old, n := len(bl.names), len(bl.entries); n > old {
		bl.names = slices.Grow(bl.names, n-old)[:n]
		bl.named = slices.Grow(bl.named, n-old)[:n]
		clear(bl.names[old:])
		clear(bl.named[old:])
	}
	if bl.scopes == nil {
		bl.scopes = map[int32]string{}
	}
	if len(bl.nodes) == 0 && len(gaps) == 0 {
		return nil
	}
	return bl.emitRuns(gaps, true, yield)
}

// endSegment drops the records of a segment emitted. With keep set the
// entries and units stay, as later segments may refer to them; otherwise
// nothing of the segment is needed any more, and the storage is reused.
func (bl *builder) endSegment(keep bool) {
	// The names' storage is kept for the next segment, not the names.
	clear(bl.nodeNames)
	bl.nodes, bl.ranges, bl.nodeNames = bl.nodes[:0], bl.ranges[:0], bl.nodeNames[:0]
	if keep {
		return
	}
	clear(bl.units)
	bl.units = bl.units[:0]
	bl.entries = bl.entries[:0]
	clear(bl.names)
	bl.names, bl.named = bl.names[:0], bl.named[:0]
	clear(bl.scopes)
}

// readFirstLines reads the line table of the unit of the first function a
// walked shard holds, which its segment's emission needs before anything
// else. A segment is often one large unit, whose table takes about as long
// to read as the functions of the segment take to build: read while its
// batch is walked ahead, it is ready when the emission starts, rather than
// read by the first worker while every other waits (the workers read the
// tables of a segment's later units one unit ahead themselves; see
// jobFeed). An error is kept for the emission to report (loadLines).
func (sh *builder) readFirstLines(shared *sharedBudget, free chan []lineRow) {
	if len(sh.nodes) == 0 {
		return
	}
	u := sh.units[sh.nodes[0].unit]
	if !u.hasStmt || u.skeleton {
		return
	}
	u.once = new(sync.Once)
	bud := shared.child()
	defer shared.giveBack(bud)
	u.readLinesOnce(bud, free)
}

// SetStreamMinInfo sets the .debug_info from which
// TransientSubprogramsAndGaps reads a batch of units at a time, and
// returns the setting it replaced. It is for the tests of the packages
// that consume the iterator, which hold both ways to the same answers on
// small inputs; it must not be called while a session reads.
func SetStreamMinInfo(n int) int {
	old := streamMinInfo
	streamMinInfo = n
	return old
}
