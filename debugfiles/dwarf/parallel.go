package dwarf

import (
	"runtime"
	"sync"
	"sync/atomic"
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

// emitChunk is a run of nodes of one unit, whole top-level groups, and the
// unit's gaps when it is the unit's last chunk.
type emitChunk struct {
	unit   int32
	n0, n1 int
	gaps   []gap
	fns    []CompactFunction
	err    error
	done   chan struct{}
}

// emitWorkers is how many workers emitParallel starts.
func emitWorkers() int { return min(runtime.GOMAXPROCS(0), maxEmitWorkers) }

// canEmitParallel reports whether emitParallel applies: more than one
// core, and no line table shared by two units (the serial path caches
// those; they are rare outside hostile input).
func (bl *builder) canEmitParallel(users map[uint64]int) bool {
	if emitWorkers() < 2 || len(bl.units) < 2 {
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
	for i := 0; i < len(bl.nodes); {
		ui := bl.nodes[i].unit
		c := emitChunk{unit: ui, n0: i}
		for groups := 0; i < len(bl.nodes) && bl.nodes[i].unit == ui && groups < chunkGroups; groups++ {
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
	bl.nodeNames = make([]string, len(bl.nodes))
	for i := range bl.nodes {
		bl.nodeNames[i] = bl.name(bl.nodeEntry(&bl.nodes[i]))
	}
	if bl.bud.left < 0 {
		return errBudget // names ran out of budget
	}
	bl.entries, bl.names, bl.named, bl.scopes = nil, nil, nil, nil
	if main := bl.sources[0].sec; main.Release != nil {
		for _, b := range [][]byte{main.Info, main.Abbrev, main.Addr, main.Ranges, main.RngLists, main.StrOffsets} {
			main.Release(b)
		}
	}
	chunks := bl.chunks(gapsOf, lastNode)
	// left counts the chunks of each unit not yet built; the worker that
	// builds a unit's last one releases its line table.
	left := make([]atomic.Int32, len(bl.units))
	for i := range chunks {
		left[chunks[i].unit].Add(1)
		chunks[i].done = make(chan struct{})
	}
	for _, u := range bl.units {
		u.once = new(sync.Once)
	}

	workers := emitWorkers()
	window := 2 * workers
	shared := &sharedBudget{from: bl.bud}
	jobs := make(chan int, window)
	slots := make(chan struct{}, window) // chunks built or being built, not yet yielded
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // feeder
		defer wg.Done()
		defer close(jobs)
		for k := range chunks {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			jobs <- k
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bud := shared.child()
			defer shared.giveBack(bud)
			for k := range jobs {
				c := &chunks[k]
				select {
				case <-stop:
					close(c.done)
					continue
				default:
				}
				c.fns, c.err = bl.emitNodes(c.n0, c.n1, c.gaps, bud, compact)
				if left[c.unit].Add(-1) == 0 {
					u := bl.units[c.unit]
					u.lines, u.files = nil, nil
				}
				close(c.done)
			}
		}()
	}
	defer func() {
		// The feeder waits on the window or stop, never on jobs (the
		// window bounds what is queued); workers skip what is left.
		close(stop)
		wg.Wait()
		for _, u := range bl.units {
			u.once = nil
		}
	}()
	for k := range chunks {
		c := &chunks[k]
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
		<-slots
	}
	return nil
}
