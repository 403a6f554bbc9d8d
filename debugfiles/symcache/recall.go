package symcache

// recallSize is how many nodes, and how many files, a page's decoder
// remembers.
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
// full.
type recall struct {
	n   int
	mem [recallSize]struct{ node, file, line uint32 }
}

// switchTo records that the stream leaves node `from` at file and line,
// and returns what it remembers of node `to` (hit), or file and line.
func (r *recall) switchTo(from, file, line, to uint32) (uint32, uint32, bool) {
	pf, pl, hit := file, line, false
	k := min(r.n, recallSize)
	saved := false
	for i := 0; i < k; i++ {
		m := &r.mem[i]
		if m.node == to && !hit {
			pf, pl, hit = m.file, m.line, true
		}
		if m.node == from && !saved {
			m.file, m.line = file, line
			saved = true
		}
	}
	if !saved {
		m := &r.mem[r.n%recallSize]
		m.node, m.file, m.line = from, file, line
		r.n++
	}
	return pf, pl, hit
}

// put remembers line for id.
func (r *recall) put(id, line uint32) {
	k := min(r.n, recallSize)
	for i := 0; i < k; i++ {
		if r.mem[i].node == id {
			r.mem[i].line = line
			return
		}
	}
	m := &r.mem[r.n%recallSize]
	m.node, m.line = id, line
	r.n++
}

// get returns the line remembered for id.
func (r *recall) get(id uint32) (uint32, bool) {
	k := min(r.n, recallSize)
	for i := 0; i < k; i++ {
		if r.mem[i].node == id {
			return r.mem[i].line, true
		}
	}
	return 0, false
}

// lineBase is the line an entry's line is coded against: the line its
// node was left at when the node is remembered and the file is the one
// remembered with it (how: basePredicted), else the last line seen in the
// entry's file (baseFile), else the current line (baseCurrent).
func (m *model) lineBase(file, predFile uint32, hit bool, predLine, cur uint32) (uint32, int) {
	if hit && file == predFile {
		return predLine, basePredicted
	}
	if l, ok := m.files.get(file); ok {
		return l, baseFile
	}
	return cur, baseCurrent
}

// How lineBase found an entry's base line.
const (
	basePredicted = iota
	baseFile
	baseCurrent
)
