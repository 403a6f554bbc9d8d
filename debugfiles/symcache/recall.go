package symcache

// recallSize is how many nodes, and how many files, a page's decoder
// remembers. recall.find is written out for 4.
const recallSize = 4

// model predicts an entry's file and line from what came before it in
// the same page, so that the stream codes small differences. Writer and
// reader run it identically; it is reset at every page.
//
// Two memories: the file and line at which each of the last few nodes was
// left (code returning from an inlined call continues where the caller
// was), and the last line seen in each of the last few files (code moving
// between a caller's file and a callee's header returns near the line it
// left there).
type model struct {
	nodes recall
	files recall // node field holds the file id; file is unused
}

// recall is a small memory keyed by id, replacing the oldest entry when
// full. An id is in at most one slot: it is only stored when absent.
// Keys are id+1, so that the zero value is an empty memory whose slots
// match no id, and find can test every slot without a branch.
type recall struct {
	n    uint // slots filled so far
	key  [recallSize]uint64
	file [recallSize]uint32
	line [recallSize]uint32
}

// find returns the slot holding id, or -1. It tests every slot, which
// compiles to conditional moves rather than branches that mispredict as
// often as not, and is small enough for the decoder to inline; it is
// written out for recallSize 4.
func (r *recall) find(id uint32) int {
	k, i := uint64(id)+1, -1
	if r.key[3] == k {
		i = 3
	}
	if r.key[2] == k {
		i = 2
	}
	if r.key[1] == k {
		i = 1
	}
	if r.key[0] == k {
		i = 0
	}
	return i
}

// add stores id with file and line in the next slot, the oldest one once
// all are filled, and returns the slot.
func (r *recall) add(id, file, line uint32) int {
	i := r.n % recallSize
	r.key[i], r.file[i], r.line[i] = uint64(id)+1, file, line
	r.n++
	return int(i)
}

// switchTo records that the stream leaves node `from` at file and line,
// and returns what it remembers of node `to` (hit), or file and line.
// Node 0 predicts nothing: nameless code (padding) follows the function
// just left, at its last line, not the nameless code seen before.
func (r *recall) switchTo(from, file, line, to uint32) (uint32, uint32, bool) {
	pf, pl, hit := file, line, false
	if i := r.find(to); i >= 0 && to != 0 {
		pf, pl, hit = r.file[i], r.line[i], true
	}
	if i := r.find(from); i >= 0 {
		r.file[i], r.line[i] = file, line
	} else {
		r.add(from, file, line)
	}
	return pf, pl, hit
}

// put remembers line for id.
func (r *recall) put(id, line uint32) {
	if i := r.find(id); i >= 0 {
		r.line[i] = line
		return
	}
	r.add(id, 0, line)
}

// get returns the line remembered for id.
func (r *recall) get(id uint32) (uint32, bool) {
	if i := r.find(id); i >= 0 {
		return r.line[i], true
	}
	return 0, false
}

// lineBase is the line an entry's line is coded against: the line its
// node was left at when the node is remembered and the file is the one
// remembered with it (how: basePredicted), else the last line seen in the
// entry's file (baseFile), else none: the line is coded whole (baseNone,
// base 0). A line of another file than the current one's, which is what
// is left, is no nearer the current line than to 0: on CPython's
// libpython those lines took 20.6 KB coded whole, 27.2 KB against the
// current line.
func (m *model) lineBase(file, predFile uint32, hit bool, predLine uint32) (uint32, int) {
	if hit && file == predFile {
		return predLine, basePredicted
	}
	if l, ok := m.files.get(file); ok {
		return l, baseFile
	}
	return 0, baseNone
}

// How lineBase found an entry's base line.
const (
	basePredicted = iota
	baseFile
	baseNone
)
