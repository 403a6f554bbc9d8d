package dwarf

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cairn-dev/cairn/internal/prefault"
)

// Building the function trees of one unit needs nothing of another unit
// once names are resolved: its line table, its nodes and ranges, its gaps.
// emitParallel therefore hands runs of a unit's functions ("chunks") to a
// few workers and yields the trees in the order the serial emitEach would,
// so the output does not depend on scheduling. A window bounds how many
// chunks are built ahead of the consumer, which bounds memory much as the
// serial path does: a unit's line table is released after its last chunk.

// maxEmitWorkers bounds the workers, whatever GOMAXPROCS says: beyond a few,
// the consumer of the trees is the bottleneck.
const maxEmitWorkers = 4

// chunkGroups is the most top-level functions (with their inlinees) in one
// chunk: enough to amortise the hand-over, few enough that the trees built
// ahead of the consumer stay a small part of the program.
const chunkGroups = 32

// streamChunkGroups is chunkGroups for a streaming session, which holds
// little else: the chunks built ahead of the consumer are a good part of
// its memory. Half of chunkGroups runs as fast on the bench fixture and
// peaks ~0.2 MB lower; at 8, workers spent more time handing chunks over
// than the memory saved was worth.
const streamChunkGroups = 16

// emitChunk is a run of nodes of one unit, whole top-level groups, and the
// unit's gaps when it is the unit's last chunk.
type emitChunk struct {
	unit   int32
	n0, n1 int
	gaps   []gap
	fns    []CompactFunction
	err    error
	done   chan struct{}
	// claimed is set to 1 (atomically, by claim) by whoever builds the
	// chunk: a worker, or the consumer when it comes to a chunk no
	// worker has started. Not an atomic.Bool: chunks are appended to
	// their slice before they are shared.
	claimed int32
	// store is the storage fns was built in when the builder reuses it
	// (builder.reuse).
	store *chunkStore
}

// claim reports whether the caller is the first to claim the chunk.
func (c *emitChunk) claim() bool { return atomic.CompareAndSwapInt32(&c.claimed, 0, 1) }

// emitWorkers is how many workers emitParallel starts.
func emitWorkers() int { return min(runtime.GOMAXPROCS(0), maxEmitWorkers) }

// canEmitParallel reports whether emitParallel applies: more than one
// core, and no line table shared by two units (the serial path caches
// those; they are rare outside hostile input).
func (bl *builder) canEmitParallel(users map[uint64]int) bool {
	if emitWorkers() < 2 || (len(bl.units) < 2 && !bl.streaming) {
		return false
	}
	for _, n := range users {
		if n > 1 {
			return false
		}
	}
	return true
}

// chunks splits the emission into the chunks emitParallel builds, in the
// serial order: each unit's groups, then its gaps, then the gaps of units
// without functions.
func (bl *builder) chunks(gapsOf [][]gap, lastNode []int) []emitChunk {
	var out []emitChunk
	per := chunkGroups
	if bl.streaming {
		per = streamChunkGroups
	}
	for i := 0; i < len(bl.nodes); {
		ui := bl.nodes[i].unit
		c := emitChunk{unit: ui, n0: i}
		for groups := 0; i < len(bl.nodes) && bl.nodes[i].unit == ui && groups < per; groups++ {
			i++
			for i < len(bl.nodes) && bl.nodes[i].parent >= 0 {
				i++
			}
		}
		c.n1 = i
		if lastNode[ui] < i {
			c.gaps, gapsOf[ui] = gapsOf[ui], nil
		}
		out = append(out, c)
	}
	for ui, gs := range gapsOf {
		if len(gs) > 0 {
			out = append(out, emitChunk{unit: int32(ui), n0: len(bl.nodes), n1: len(bl.nodes), gaps: gs})
		}
	}
	return out
}

// emitParallel builds the chunks on worker goroutines and yields their
// trees in order. Names are resolved first, serially: they share caches
// across units. Then nothing reads the DIEs any more: the entries are
// dropped, and the main object's DIE sections released (see
// Sections.Release). It waits for its workers before returning.
func (bl *builder) emitParallel(gapsOf [][]gap, lastNode []int, compact bool, yield func(*CompactFunction) bool) error {
	if !bl.entriesFound {
		bl.findNodeEntries()
	}
	for i, ei := range bl.entryBuf {
		bl.nodeNames[i] = bl.name(ei)
	}
	bl.eix, bl.entriesFound = nil, false
	if !bl.streaming {
		bl.entryBuf = nil // no later segment reuses it
	}
	if bl.bud.left < 0 {
		return errBudget // names ran out of budget
	}
	if !bl.streaming {
		// A streaming session keeps the entries for segments to come
		// and releases the sections a segment at a time itself.
		bl.entries, bl.names, bl.named, bl.scopes = nil, nil, nil, nil
		// Dropping the pages is a system call per section that costs
		// as much as building the first chunks: it runs beside them,
		// and is waited for before returning, as the caller may unmap
		// the file then.
		released := make(chan struct{})
		go func() {
			defer close(released)
			if main := bl.sources[0].sec; main.Release != nil {
				for _, b := range [][]byte{main.Info, main.Abbrev, main.Addr, main.Ranges, main.RngLists, main.StrOffsets} {
					main.Release(b)
				}
			}
		}()
		defer func() { <-released }()
	}
	chunks := bl.chunks(gapsOf, lastNode)
	// left counts the chunks of each unit not yet built; the worker that
	// builds a unit's last one releases its line table. The functions of
	// a compact emission with the tables' rows (tableRows) hold the rows
	// themselves: the consumer releases a unit's table once it has taken
	// the unit's last chunk, counting them in unread.
	left := make([]atomic.Int32, len(bl.units))
	tables := compact && bl.tableRows
	var unread []int32
	if tables {
		unread = make([]int32, len(bl.units))
	}
	for i := range chunks {
		left[chunks[i].unit].Add(1)
		if tables {
			unread[chunks[i].unit]++
		}
		chunks[i].done = make(chan struct{})
	}
	for _, u := range bl.units {
		if u.once == nil { // a streaming walk may have read its table (readFirstLines)
			u.once = new(sync.Once)
		}
	}
	if bl.freeRows == nil {
		// Spare sets of rows for the tables read next; a streaming
		// session made its own as many, before its walk reads a table
		// (streamMain).
		bl.freeRows = make(chan []lineRow, 4)
	}

	workers := emitWorkers()
	// Two chunks per worker: the consumer takes them in order, and with
	// one a worker that finished early waits for a slower one's chunk to
	// be consumed before it can start another. A streaming session gets
	// one per worker: its segments are short, each starts with its first
	// line table read (readFirstLines), and the second chunk per worker
	// ran no faster on the bench fixture while its storage raised the
	// peak by ~0.3 MB.
	window := 2 * workers
	if bl.streaming {
		window = workers
	}
	shared := bl.shared
	if shared == nil {
		shared = &sharedBudget{from: bl.bud}
	}
	// The consumer queues the chunks itself as it frees room in its
	// window (see jobFeed): to workers of this call's own, or to the
	// pool of a streaming session (emitPool), whose workers last from
	// one segment to the next. A pool gets no line jobs: one still
	// queued when its segment ends would read a unit the segment has
	// let go. Whoever builds a unit's first chunk reads its table, when
	// the walk has not (readFirstLines).
	pool := bl.pool
	var feed *jobFeed
	if pool == nil {
		feed = newJobFeed(len(chunks), len(bl.units), func(k int) int32 { return chunks[k].unit })
	} else {
		feed = newJobFeed(0, 0, nil)
	}
	jobs := feed.jobs
	stop := make(chan struct{})
	// stores holds the storage of chunks consumed, for the chunks still
	// to build (builder.reuse); there are never more than the window
	// holds, and a streaming session keeps them for its next segment.
	if bl.stores == nil {
		bl.stores = make(chan *chunkStore, window)
	}
	stores := bl.stores
	if bl.scratch == nil && bl.streaming {
		bl.scratch = make(chan *emitScratch, workers)
	}
	// build builds chunk c unless stopped, and closes its done.
	build := func(c *emitChunk, sc *emitScratch, bud *budget) {
		defer close(c.done)
		select {
		case <-stop:
			return
		default:
		}
		if bl.reuse {
			select {
			case c.store = <-stores:
			default:
				c.store = &chunkStore{}
			}
			sc.store = c.store
		}
		c.fns, c.err = bl.emitNodes(c.n0, c.n1, c.gaps, bud, compact, sc)
		sc.store = nil
		if left[c.unit].Add(-1) == 0 && !tables {
			// No one reads the rows any more: the chunks hold
			// copies.
			bl.releaseLines(bl.units[c.unit])
		}
	}
	// queue hands the chunks before k to the workers.
	queue := feed.upTo
	if pool != nil {
		queued := 0
		queue = func(k int) {
			for ; queued < min(k, len(chunks)); queued++ {
				c := &chunks[queued]
				pool.jobs <- func(sc *emitScratch, bud *budget) {
					if workersBuild && c.claim() {
						build(c, sc, bud)
					}
				}
			}
		}
		workers = 0 // the pool's workers build the chunks
	}
	queue(window)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bud := shared.child()
			defer shared.giveBack(bud)
			sc := bl.takeScratch()
			defer bl.keepScratch(sc)
			for k := range jobs {
				if k < 0 {
					// A line table wanted soon: read it now, so that the
					// workers building the unit's chunks find it ready.
					// An error is kept for them to report (loadLines).
					select {
					case <-stop:
					default:
						bl.units[-k-1].readLinesOnce(bud, bl.freeRows)
					}
					continue
				}
				if c := &chunks[k]; workersBuild && c.claim() {
					build(c, sc, bud)
					if !bl.streaming {
						// A consumer waiting for this chunk was
						// made ready on this worker's core, where
						// it would wait until the worker blocks,
						// or until the other core takes it, which
						// the scheduler does only after a sleep of
						// ~50 µs when the core is busy: yielding
						// lets it run at once. 2.5% off the bench
						// fixture's symcache build; a streaming
						// session's consumer (dump-syms) gained
						// nothing from it.
						runtime.Gosched()
					}
				}
			}
		}()
	}
	// The consumer's own budget and scratch, for the chunks it builds.
	var (
		ownBud *budget
		ownSc  *emitScratch
	)
	consumed := false
	defer func() {
		// Workers skip what is left.
		close(stop)
		feed.close()
		wg.Wait()
		if pool != nil && !consumed {
			// The pool's workers may still be building this segment's
			// chunks, which read its units.
			pool.stop()
			bl.pool = nil
		}
		if ownBud != nil {
			shared.giveBack(ownBud)
			bl.keepScratch(ownSc)
		}
		for _, u := range bl.units {
			u.once = nil
		}
	}()
	for k := range chunks {
		c := &chunks[k]
		if c.claim() {
			// No worker has started the chunk the consumer needs
			// next: with as many workers as cores, the one that took
			// it is often waiting for a core the consumer and the
			// other worker hold, until the consumer blocks. Building
			// it here turns that wait into the chunk's work (the
			// consumer waited ~6 of the bench fixture's ~19 ms of
			// emission, for chunks that took ~0.06 ms to build).
			if ownBud == nil {
				ownBud, ownSc = shared.child(), bl.takeScratch()
			}
			build(c, ownSc, ownBud)
		}
		<-c.done
		if c.err != nil {
			return c.err
		}
		for i := range c.fns {
			if !yield(&c.fns[i]) {
				return nil
			}
		}
		c.fns = nil
		if tables {
			if unread[c.unit]--; unread[c.unit] == 0 {
				bl.releaseLines(bl.units[c.unit])
			}
		}
		if c.store != nil {
			// The consumer is done with the chunk's functions.
			select {
			case stores <- c.store:
			default:
			}
			c.store = nil
		}
		queue(k + 1 + window)
	}
	// Every chunk is built and consumed: a pool's workers hold none of
	// the segment's, and the next segment need not wait for them.
	consumed = true
	return nil
}

// emitPool builds the chunks of the segments of a streaming session on
// workers that last the session. emitParallel's own workers were started
// and waited for at every segment: on two cores, libpython's ~100
// segments kept the consumer waiting 1.3-2.6 ms in all for workers to be
// scheduled only to see their jobs closed (BENCHMARKS.md).
type emitPool struct {
	// jobs are the chunks queued, each a function the worker calls with
	// its scratch and budget; a chunk the consumer claimed first is a
	// job that does nothing.
	jobs chan func(*emitScratch, *budget)
	wg   sync.WaitGroup
}

// emitPoolQueue is the room of a pool's queue. The consumer queues a
// segment's chunks a window at a time, but the jobs of chunks it built
// itself stay queued until a worker takes them; a full queue only makes
// the consumer wait for the workers.
const emitPoolQueue = 256

// startEmitPool starts workers workers that build chunks for bl, drawing
// on shared.
func (bl *builder) startEmitPool(workers int, shared *sharedBudget) *emitPool {
	p := &emitPool{jobs: make(chan func(*emitScratch, *budget), emitPoolQueue)}
	if bl.scratch == nil {
		// Made before the workers take from it.
		bl.scratch = make(chan *emitScratch, workers)
	}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			bud := shared.child()
			defer shared.giveBack(bud)
			sc := bl.takeScratch()
			defer bl.keepScratch(sc)
			for job := range p.jobs {
				job(sc, bud)
			}
		}()
	}
	return p
}

// stop ends the pool once its workers have taken every job.
func (p *emitPool) stop() {
	close(p.jobs)
	p.wg.Wait()
}

// releaseLines drops the line table of u, a unit emitted in parallel,
// whose rows no function yielded or still to yield holds, and keeps its
// rows' storage for a table read later.
func (bl *builder) releaseLines(u *unitInfo) {
	if u.lines != nil {
		select {
		case bl.freeRows <- u.lines.buf:
		default:
		}
	}
	u.lines, u.files = nil, nil
}

// workersBuild lets the workers build chunks; the tests turn it off to
// have the consumer build every one.
var workersBuild = true

// takeScratch returns working storage for building chunks: a streaming
// session's from its segment before, else new.
func (bl *builder) takeScratch() *emitScratch {
	select {
	case sc := <-bl.scratch:
		return sc
	default:
		return &emitScratch{}
	}
}

// keepScratch keeps sc for a streaming session's next segment, when there
// is room.
func (bl *builder) keepScratch(sc *emitScratch) {
	select {
	case bl.scratch <- sc:
	default:
	}
}

// findNodeEntries readies the naming of the nodes by emitParallel: the
// room of their names, the entries' index (bl.eix), which the names are
// resolved through as well, and the entry each node's name comes from
// (nodeEntries, in bl.entryBuf). It reads only what the walk recorded,
// so emitEach runs it beside gaps.
func (bl *builder) findNodeEntries() {
	// A streaming session names each segment's nodes in the storage of
	// the segment before (endSegment empties it).
	bl.nodeNames = slices.Grow(bl.nodeNames[:0], len(bl.nodes))[:len(bl.nodes)]
	// Filled at once, on one goroutine: mapped in one go (the bench
	// fixture's 71,504 names take 1.1 MB, 280 page faults).
	prefault.Slice(bl.nodeNames)
	bl.eix = bl.indexEntries()
	bl.nodeEntries()
	bl.entriesFound = true
}

// dropNodeEntries undoes findNodeEntries for a serial emission, which
// names the nodes as it goes: emitNodes takes names from nodeNames
// whenever it holds any.
func (bl *builder) dropNodeEntries() {
	if bl.entriesFound {
		bl.nodeNames, bl.eix, bl.entryBuf, bl.entriesFound = bl.nodeNames[:0], nil, nil, false
	}
}

// nameParallelMin is the fewest nodes nodeEntries splits among workers:
// below it, the lookups cost less than starting them.
const nameParallelMin = 4096

// nodeEntries returns the entry each node's name comes from. The lookups,
// a binary search for each inlined call (through bl.eix when set), are
// most of the cost of naming the nodes and read only what the walk
// recorded: they run on a few workers. Resolving the names stays serial,
// with its cache and budget.
func (bl *builder) nodeEntries() []int32 {
	out := slices.Grow(bl.entryBuf[:0], len(bl.nodes))[:len(bl.nodes)]
	bl.entryBuf = out
	fill := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = bl.nodeEntry(&bl.nodes[i])
		}
	}
	workers := emitWorkers()
	if workers < 2 || len(bl.nodes) < nameParallelMin {
		fill(0, len(bl.nodes))
		return out
	}
	per := (len(bl.nodes) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fill(w*per, min((w+1)*per, len(bl.nodes)))
		}()
	}
	wg.Wait()
	return out
}

// jobFeed queues job indexes 0..n-1 for workers, in order, as their
// consumer frees room in its window (upTo): no goroutine of its own, which
// would wait for a core, the consumer's mostly, to hand the workers their
// next job (a median of ~180 µs each time emitParallel's consumer freed
// room, with a goroutine feeding the chunks).
//
// For emitParallel it queues line-table jobs as well, -(unit+1): the table
// of the next unit is queued before the first chunk of each unit. Reading
// a unit's table takes about as long as building its first chunks, and the
// first worker to need it would otherwise make the others building that
// unit wait; read one unit ahead, it is ready when they come to it, while
// no more than two or three tables are held at a time.
type jobFeed struct {
	// jobs has room for every job, so that queueing never blocks.
	jobs chan int
	n    int
	next int // the next index to queue
	// unitOf is the unit of each chunk, nil for no line jobs; order the
	// units in the order of their first chunks.
	unitOf func(int) int32
	order  []int32
	unit   int // index in order of the next unit whose first chunk is to come
	queued int // line jobs of order[:queued] are queued
	closed bool
}

// newJobFeed returns a feed of n jobs with nothing queued, and line jobs
// for the units of unitOf, if not nil, among units.
func newJobFeed(n, units int, unitOf func(int) int32) *jobFeed {
	f := &jobFeed{n: n, unitOf: unitOf}
	if unitOf != nil {
		seen := make([]bool, units)
		for i := range n {
			if u := unitOf(i); !seen[u] {
				seen[u] = true
				f.order = append(f.order, u)
			}
		}
	}
	f.jobs = make(chan int, n+len(f.order))
	return f
}

// upTo queues the jobs before k, and closes the jobs once all are queued.
func (f *jobFeed) upTo(k int) {
	for ; f.next < min(k, f.n); f.next++ {
		if f.unit < len(f.order) && f.unitOf(f.next) == f.order[f.unit] {
			f.unit++
			for ; f.queued < min(f.unit+1, len(f.order)); f.queued++ {
				f.jobs <- -int(f.order[f.queued]) - 1
			}
		}
		f.jobs <- f.next
	}
	if f.next == f.n {
		f.close()
	}
}

// close closes the jobs, if not yet closed.
func (f *jobFeed) close() {
	if !f.closed {
		f.closed = true
		close(f.jobs)
	}
}

// The walk of a unit's DIEs needs nothing of another unit once the
// abbreviation tables are parsed: its entries, nodes and ranges refer only
// to its own. walkParallel therefore walks runs of units ("batches") on
// separate builders ("shards") and appends each shard to the builder in
// unit order, renumbering its indexes, so the records are those of the
// serial walk. Split units are few and are walked serially.

// walkBatchBytes is the .debug_info a batch of units covers: enough to
// amortise a shard, small enough that the shards built ahead of the merge
// stay a small part of the walk's records (batches twice as large add 4 MiB
// to dump-syms' peak on a 4 MiB .debug_info).
const walkBatchBytes = 128 << 10

// walkBatch is a run of unit headers walked by one shard.
type walkBatch struct {
	h0, h1 int // headers[h0:h1], type units skipped
	size   int
	shard  *builder
	units  []*unitInfo
	err    error
	done   chan struct{}
}

// walkBatches groups the units of headers into batches of about
// batchBytes of .debug_info.
func walkBatches(headers []unitHeader, batchBytes int) []walkBatch {
	var out []walkBatch
	start, size := -1, 0
	for i := range headers {
		if start < 0 {
			start = i
		}
		size += int(min(headers[i].end-headers[i].off, 1<<30))
		if size >= batchBytes {
			out = append(out, walkBatch{h0: start, h1: i + 1, size: size})
			start, size = -1, 0
		}
	}
	if start >= 0 {
		out = append(out, walkBatch{h0: start, h1: len(headers), size: size})
	}
	return out
}

// walkParallel walks the units of the main source si on a few workers. It
// reports false, having left the builder as it found it, when it does not
// apply (one core, one batch) or when any unit fails or the budget runs
// short: the caller then walks serially, so that errors, and the unit that
// reports them, are those of the serial walk whatever the scheduling. The
// failed attempt costs at most the budget once more.
func (bl *builder) walkParallel(si int32, headers []unitHeader, batchBytes int) ([]*unitInfo, bool) {
	workers := emitWorkers()
	if workers < 2 {
		return nil, false
	}
	batches := walkBatches(headers, batchBytes)
	if len(batches) < 2 {
		return nil, false
	}
	saved := bl.bud.left
	n0, e0, r0, u0 := len(bl.nodes), len(bl.entries), len(bl.ranges), len(bl.units)
	undo := func() ([]*unitInfo, bool) {
		bl.bud.left = saved
		bl.bud.exhausted = false
		bl.nodes, bl.entries, bl.ranges = bl.nodes[:n0], bl.entries[:e0], bl.ranges[:r0]
		clear(bl.units[u0:])
		bl.units = bl.units[:u0]
		return nil, false
	}
	// The room presize reserved for the merged records faults in as the
	// merger fills it, which it has time for: it idles through most of
	// the walk. Prefaulted on a goroutine of its own, it held a processor
	// in the system call for ~1.4 ms as the walk started, in 4 KB pages
	// (BENCHMARKS.md).
	shared := &sharedBudget{from: bl.bud}
	abbrevs := &abbrevCache{tables: map[abbrevKey]*cachedAbbrevs{}}
	window := 2 * workers
	stop := make(chan struct{})
	// Shards go back to the workers once merged: as many as the window
	// holds, so their records are allocated once, not per batch.
	free := make(chan *builder, window)
	// The merger, when it waits for a batch, runs as soon as the batch
	// is walked rather than after the worker's next one (see the
	// workers of emitParallel): 1% off the bench fixture's symcache
	// build.
	wg, feed := walkBatchesOn(batches, workers, window, stop, true, func(w *walkBatch) {
		select {
		case w.shard = <-free:
		default:
			w.shard = &builder{opts: bl.opts, sources: sharedAbbrevs(bl.sources, si, abbrevs)}
			w.shard.presize(w.size)
		}
		w.units, w.err = w.shard.walkShard(si, headers[w.h0:w.h1], shared)
	})
	var out []*unitInfo
	ok := true
	total, done := 0, 0
	for i := range batches {
		total += batches[i].size
	}
	for k := range batches {
		w := &batches[k]
		<-w.done
		if w.err != nil {
			ok = false
			break
		}
		done += w.size
		bl.growFor(w.shard, done, total)
		bl.mergeShard(w.shard)
		out = append(out, w.units...)
		w.shard.reset()
		free <- w.shard // never blocks: at most one shard per window slot
		w.shard, w.units = nil, nil
		feed.upTo(k + 1 + window)
	}
	// Workers skip what is left.
	close(stop)
	feed.close()
	wg.Wait()
	if !ok || bl.bud.exhausted {
		return undo()
	}
	return out, true
}

// sharedAbbrevs returns sources with a copy of sources[si] whose
// abbreviation tables the shards of a parallel walk read through cache as
// they walk their batches, in parallel: read serially before the walk,
// they took 0.3-1 ms of the bench fixture's build on one core.
func sharedAbbrevs(sources []*source, si int32, cache *abbrevCache) []*source {
	own := slices.Clone(sources)
	src := sources[si]
	own[si] = &source{sec: src.sec, be: src.be, shared: cache}
	return own
}

// abbrevCache holds the abbreviation tables of a parallel walk. Each is
// read once, by the first shard that needs it, on its budget; a shard
// that needs it meanwhile waits for it. The budget spent is then the
// serial walk's, and a table that cannot be read fails every unit that
// uses it, as it fails the first in the serial walk.
type abbrevCache struct {
	mu     sync.Mutex
	tables map[abbrevKey]*cachedAbbrevs
}

// cachedAbbrevs is a table of an abbrevCache, or why it cannot be read.
type cachedAbbrevs struct {
	once sync.Once
	t    *abbrevTable
	err  error
}

// get returns the table of k, read by read if no shard has read it.
func (c *abbrevCache) get(k abbrevKey, read func() (*abbrevTable, error)) (*abbrevTable, error) {
	c.mu.Lock()
	e := c.tables[k]
	if e == nil {
		e = new(cachedAbbrevs)
		c.tables[k] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.t, e.err = read() })
	return e.t, e.err
}

// walked reports whether the walk reads the unit of h: type units are
// skipped.
func walked(h *unitHeader) bool {
	return h.utype != utType && h.utype != utSplitType
}

// walkShard walks the units of headers into sh, a builder that shares the
// sources (and their parsed abbreviation tables) with the main one and
// draws its budget from shared.
func (sh *builder) walkShard(si int32, headers []unitHeader, shared *sharedBudget) ([]*unitInfo, error) {
	sh.bud = shared.child()
	defer shared.giveBack(sh.bud)
	var out []*unitInfo
	for i := range headers {
		if !walked(&headers[i]) {
			continue
		}
		u, err := sh.walkUnit(si, &headers[i], nil)
		if err != nil {
			return nil, fmt.Errorf("unit at %#x: %w", headers[i].off, err)
		}
		if sh.bud.exhausted {
			return nil, errBudget
		}
		out = append(out, u)
	}
	return out, nil
}

// reset empties a merged shard for another batch, keeping its storage.
func (sh *builder) reset() {
	clear(sh.units)
	sh.units, sh.entries, sh.nodes, sh.ranges = sh.units[:0], sh.entries[:0], sh.nodes[:0], sh.ranges[:0]
	sh.bud = nil
	sh.rangesRead = [2]offsetSpan{}
}

// growFor makes room in bl's records for those of shard sh, where done of
// total bytes of .debug_info are walked with sh's. An array that must grow
// grows to what the walk so far projects for the whole of it, an eighth
// more, at most four times what it must hold: presize's guess, from
// compilers' usual density, fell short for CPython's libpython (66,224
// entries, 28,716 reserved), and append's steps then copied the array
// again and again, 14.8 MB of new memory where the array ends at 4.8 MB.
func (bl *builder) growFor(sh *builder, done, total int) {
	bl.entries = growProjected(bl.entries, len(sh.entries), done, total)
	bl.nodes = growProjected(bl.nodes, len(sh.nodes), done, total)
	bl.ranges = growProjected(bl.ranges, len(sh.ranges), done, total)
}

// growProjected returns s with room for more elements (see growFor).
func growProjected[T any](s []T, more, done, total int) []T {
	need := len(s) + more
	if need <= cap(s) {
		return s
	}
	want := need
	if done > 0 && total > done {
		want = int(min(float64(need)*float64(total)/float64(done)*1.125, 4*float64(need)))
	}
	return slices.Grow(s, max(want, need)-len(s))
}

// mergeShard appends the records of shard sh to bl, renumbering the
// indexes into entries, nodes, ranges and units. The records are copied
// whole and renumbered where they landed. Appended one at a time, each
// was copied twice, and merging the bench fixture's records took 1.04
// ms instead of 0.77 ms.
func (bl *builder) mergeShard(sh *builder) {
	e0, n0, r0, u0 := int32(len(bl.entries)), int32(len(bl.nodes)), int32(len(bl.ranges)), int32(len(bl.units))
	bl.entries = append(bl.entries, sh.entries...)
	es := bl.entries[e0:]
	for i := range es {
		e := &es[i]
		if e.parent >= 0 {
			e.parent += e0
		}
		e.unit += u0
	}
	bl.nodes = append(bl.nodes, sh.nodes...)
	ns := bl.nodes[n0:]
	for i := range ns {
		n := &ns[i]
		if n.entry >= 0 {
			n.entry += e0
		}
		if n.parent >= 0 {
			n.parent += n0
		}
		n.unit += u0
		n.rng0 += r0
		n.rng1 += r0
	}
	bl.ranges = append(bl.ranges, sh.ranges...)
	for i := range sh.rangesRead {
		bl.rangesRead[i].merge(sh.rangesRead[i])
	}
	for _, u := range sh.units {
		if u.cu0 >= 0 {
			u.cu0 += r0
			u.cu1 += r0
		}
		bl.units = append(bl.units, u)
	}
}

// walkBatchesOn starts workers goroutines that walk the batches in order
// with walk, each batch's done closed after it (a batch left when stop is
// closed is skipped, its done closed all the same), and queues the first
// window batches. The caller queues the others with the returned feed as
// it takes the batches (upTo(k+1+window) once it is done with batch k),
// which bounds the batches held at once. With yieldAfter, a worker yields
// its core after each batch, to a consumer waiting for it. The caller
// closes stop and the feed and waits on the returned group before it
// returns.
func walkBatchesOn(batches []walkBatch, workers, window int, stop <-chan struct{}, yieldAfter bool, walk func(*walkBatch)) (*sync.WaitGroup, *jobFeed) {
	for k := range batches {
		batches[k].done = make(chan struct{})
	}
	feed := newJobFeed(len(batches), 0, nil)
	feed.upTo(window)
	wg := new(sync.WaitGroup)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range feed.jobs {
				w := &batches[k]
				select {
				case <-stop:
				default:
					walk(w)
				}
				close(w.done)
				if yieldAfter {
					runtime.Gosched()
				}
			}
		}()
	}
	return wg, feed
}
