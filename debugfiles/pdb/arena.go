package pdb

import "github.com/cairn-dev/cairn/debugfiles"

// Sizes of the blocks an arena allocates: large enough that allocations
// are few, small enough that the functions a consumer still holds pin
// little memory besides their own (a block lives while any of its
// functions does).
const (
	arenaFuncs = 128
	arenaLines = 1024
)

// arena hands out Functions and line slices from blocks, so that the
// thousands of small objects of a large PDB cost a few allocations. A
// Function kept by a caller keeps its block alive.
type arena struct {
	fns   []debugfiles.Function
	lines []debugfiles.LineInfo
}

// fn returns a new zero Function.
func (a *arena) fn() *debugfiles.Function {
	if len(a.fns) == cap(a.fns) {
		a.fns = make([]debugfiles.Function, 0, arenaFuncs)
	}
	a.fns = a.fns[:len(a.fns)+1]
	return &a.fns[len(a.fns)-1]
}

// lineSlice returns an empty slice with room for n lines; appending more
// than n reallocates rather than overwriting a neighbour.
func (a *arena) lineSlice(n int) []debugfiles.LineInfo {
	if n > arenaLines/4 {
		return make([]debugfiles.LineInfo, 0, n)
	}
	if cap(a.lines)-len(a.lines) < n {
		a.lines = make([]debugfiles.LineInfo, 0, arenaLines)
	}
	k := len(a.lines)
	a.lines = a.lines[:k+n]
	return a.lines[k : k : k+n]
}
