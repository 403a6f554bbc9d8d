package breakpad

import (
	"bytes"
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Names Breakpad gives the CFA and the return address in STACK CFI rules.
const (
	cfaName = ".cfa"
	raName  = ".ra"
)

// StackCFI converts unwind tables into STACK CFI records, sorted by
// address: for each entry a "STACK CFI INIT <addr> <size> <rules>" line
// with every rule in effect at its start, then a "STACK CFI <addr> <rules>"
// line at each address where rules change, with the changed rules only —
// the records Breakpad's dump_syms writes, rules named and ordered as it
// names and orders them.
//
// Entries the tables cannot decode are left out and counted in malformed,
// as dump_syms reports and skips them. Tables are taken in order of
// preference: an entry overlapping one of an
// earlier table is left out, as Breakpad's processor would ignore it.
// Rules Breakpad cannot express are treated as it treats them: a register
// rule that is "undefined", or a DWARF expression outside the subset that
// translates to a postfix expression, is left out. Where the CFA itself
// cannot be expressed (the expression-based CFA of PLT stubs), the record
// ends, so that a stack walker falls back to other methods there instead
// of applying the previous rule; a new INIT record starts where the CFA
// can be expressed again. Rows carrying Windows x86 frame data are left
// out: StackWin writes them.
func StackCFI(tables []unwind.Table) (lines []string, malformed int) {
	blocks, malformed := stackCFIText(tables)
	return blockLines(blocks), malformed
}

// blockLines splits blocks of lines, each ending in "\n", into strings.
func blockLines(blocks [][]byte) []string {
	var lines []string
	for _, b := range blocks {
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			lines = append(lines, string(b[:i]))
			b = b[i+1:]
		}
	}
	return lines
}

// stackCFIText is StackCFI with the records as text: a block of lines
// for each entry, in the records' order, each line ending in "\n". The
// blocks share a few large buffers: a string per line, as StackCFI
// returns them, took twice the memory of their text (13,000 lines on the
// bench fixture), held by dump-syms until it writes them last.
func stackCFIText(tables []unwind.Table) (blocks [][]byte, malformed int) {
	type entry struct {
		start uint64
		text  []byte
	}
	var (
		out      []entry
		accepted []unwind.Range // entries of earlier tables, sorted
		arena    textArena
	)
	overlaps := func(r unwind.Range) bool {
		i := sort.Search(len(accepted), func(i int) bool { return accepted[i].End > r.Start })
		return i < len(accepted) && accepted[i].Start < r.End
	}
	var g cfiGrouper
	for _, t := range tables {
		arch := t.Arch()
		rn := newRuleNamer(arch)
		var (
			mine    []unwind.Range
			cur     unwind.Range
			skip    bool
			pending []cfiRow
		)
		flush := func() {
			if len(pending) > 0 {
				if text := g.groupLines(pending); len(text) > 0 {
					out = append(out, entry{start: pending[0].start, text: arena.add(text)})
				}
			}
			pending = pending[:0]
			// Nothing refers to the rules of the rows written: the next
			// entry's are built in their storage.
			rn.chunk = rn.chunk[:0]
		}
		for row, err := range t.Rows() {
			if err != nil {
				// A malformed entry is left out, as dump_syms leaves it
				// out; its rows so far are dropped.
				malformed++
				if row.Entry == cur {
					pending = pending[:0]
					skip = true
				}
				continue
			}
			if row.Win != nil {
				// Frame data is StackWin's; its ranges do not keep a later
				// table's CFI out.
				continue
			}
			if row.Entry != cur || len(mine) == 0 {
				flush()
				cur = row.Entry
				skip = cur.End <= cur.Start || overlaps(cur)
				if !skip {
					mine = append(mine, cur)
				}
			}
			if skip {
				continue
			}
			pending = append(pending, cfiRow{start: row.Start, end: row.End, rules: rn.ruleStrings(&row), ra: rn.name(row.RA)})
		}
		flush()
		accepted = append(accepted, mine...)
		slices.SortFunc(accepted, func(a, b unwind.Range) int { return cmp.Compare(a.Start, b.Start) })
	}
	slices.SortStableFunc(out, func(a, b entry) int { return cmp.Compare(a.start, b.start) })
	blocks = make([][]byte, len(out))
	for i, e := range out {
		blocks[i] = e.text
	}
	return blocks, malformed
}

// textArena hands out copies of byte slices cut from large buffers.
type textArena struct{ cur []byte }

// arenaChunk is the size of textArena's buffers.
const arenaChunk = 64 << 10

// add returns a copy of b.
func (a *textArena) add(b []byte) []byte {
	if cap(a.cur)-len(a.cur) < len(b) {
		a.cur = make([]byte, 0, max(arenaChunk, len(b)))
	}
	n := len(a.cur)
	a.cur = append(a.cur, b...)
	return a.cur[n:len(a.cur):len(a.cur)]
}

// cfiRow is one row as named rules; rules[0] is the CFA's, "" when the
// CFA cannot be expressed.
type cfiRow struct {
	start, end uint64
	rules      []namedRule
	// ra names the return address register, the value of .ra without a
	// rule.
	ra string
}

type namedRule struct{ name, expr string }

// ruleNamer renders the rules of one table's rows. Rows repeat a handful
// of register names and rules thousands of times, so it keeps what it has
// rendered, and hands out the rule slices of rows from large chunks.
type ruleNamer struct {
	arch unwind.Arch
	// names are the names of registers by number, "" where not known yet.
	names []string
	rules map[uint64]renderedRule
	chunk []namedRule
}

// renderedRule is PostfixRule's answer for a rule ruleNamer.postfix keeps.
type renderedRule struct {
	text string
	ok   bool
}

func newRuleNamer(arch unwind.Arch) *ruleNamer {
	return &ruleNamer{arch: arch, rules: map[uint64]renderedRule{}}
}

// maxNamedReg bounds the register numbers whose names are kept: real
// architectures number theirs below a few hundred.
const maxNamedReg = 1024

// name is arch.BreakpadName(r).
func (rn *ruleNamer) name(r unwind.Reg) string {
	if int(r) >= maxNamedReg {
		return rn.arch.BreakpadName(r)
	}
	if int(r) >= len(rn.names) {
		rn.names = append(rn.names, make([]string, int(r)+1-len(rn.names))...)
	}
	s := rn.names[r]
	if s == "" {
		s = rn.arch.BreakpadName(r)
		rn.names[r] = s
	}
	return s
}

// postfix is PostfixRule(rn.arch, r, cfa).
func (rn *ruleNamer) postfix(r unwind.Rule, cfa bool) (string, bool) {
	switch r.Kind {
	case unwind.RuleRegOffset, unwind.RuleOffset, unwind.RuleValOffset, unwind.RuleRegister:
	default:
		return PostfixRule(rn.arch, r, cfa)
	}
	// The key packs the rule: kind, register, whether it is the CFA's,
	// and an offset of 32 bits (any real one); others are not kept.
	if int64(int32(r.Offset)) != r.Offset {
		return PostfixRule(rn.arch, r, cfa)
	}
	k := uint64(r.Kind)<<56 | uint64(r.Reg)<<40 | uint64(uint32(r.Offset))
	if cfa {
		k |= 1 << 32
	}
	t, ok := rn.rules[k]
	if !ok {
		t.text, t.ok = PostfixRule(rn.arch, r, cfa)
		rn.rules[k] = t
	}
	return t.text, t.ok
}

// alloc returns an empty slice with room for n rules.
func (rn *ruleNamer) alloc(n int) []namedRule {
	if cap(rn.chunk)-len(rn.chunk) < n {
		rn.chunk = make([]namedRule, 0, max(n, 1024))
	}
	start := len(rn.chunk)
	rn.chunk = rn.chunk[:start+n]
	return rn.chunk[start : start : start+n]
}

// ruleStrings names and renders the rules of a row, sorted by name as
// Breakpad's std::map orders them, the CFA first.
func (rn *ruleNamer) ruleStrings(row *unwind.Row) []namedRule {
	rules := rn.alloc(len(row.Regs) + 2)
	cfa, _ := rn.postfix(row.CFA, true)
	rules = append(rules, namedRule{cfaName, cfa})
	hasRA := false
	for _, rr := range row.Regs {
		name := rn.name(rr.Reg)
		if rr.Reg == row.RA {
			name, hasRA = raName, true
		}
		switch rr.Rule.Kind {
		case unwind.RuleSameValue:
			rules = append(rules, namedRule{name, rn.name(rr.Reg)})
			continue
		case unwind.RuleUndefined:
			if rr.Reg == row.RA {
				// The outermost frame (_start, thread entry points): a
				// zero return address is where stack walkers stop.
				rules = append(rules, namedRule{name, "0"})
			}
			// Other registers cannot be marked unrecoverable; a missing
			// rule is the closest Breakpad has.
			continue
		}
		if e, ok := rn.postfix(rr.Rule, false); ok {
			rules = append(rules, namedRule{name, e})
		}
	}
	if !hasRA {
		// The return address is still in its register (arm64 x30, arm lr).
		rules = append(rules, namedRule{raName, rn.name(row.RA)})
	}
	slices.SortFunc(rules[1:], func(a, b namedRule) int { return strings.Compare(a.name, b.name) })
	return rules
}

// cfiGrouper writes the records of entries, reusing its scratch space
// from one entry to the next.
type cfiGrouper struct {
	text    []byte // the records written
	rules   []byte // the open INIT record's rules
	deltas  []byte // the records after it
	changes []namedRule
	sorted  []namedRule
}

// groupLines writes the records of one entry's rows, each line ending in
// "\n"; the text is valid until the next call.
func (g *cfiGrouper) groupLines(rows []cfiRow) []byte {
	var (
		prev []namedRule
		// open is set while an INIT record is open: its size is known,
		// and it is written before the records after it, when it closes.
		open      bool
		initStart uint64
	)
	g.text = g.text[:0]
	closeInit := func(end uint64) {
		if open {
			b := append(g.text, "STACK CFI INIT "...)
			b = strconv.AppendUint(b, initStart, 16)
			b = append(b, ' ')
			b = strconv.AppendUint(b, end-initStart, 16)
			b = append(b, g.rules...)
			b = append(b, '\n')
			g.text = append(b, g.deltas...)
			open = false
		}
	}
	for _, r := range rows {
		if r.rules[0].expr == "" {
			closeInit(r.start)
			prev = nil
			continue
		}
		if !open {
			g.rules, _ = g.writeRules(g.rules[:0], r.rules, nil, r.ra)
			g.deltas = g.deltas[:0]
			open, initStart = true, r.start
			prev = r.rules
			continue
		}
		n := len(g.deltas)
		b := append(g.deltas, "STACK CFI "...)
		b = strconv.AppendUint(b, r.start, 16)
		b, changed := g.writeRules(b, r.rules, prev, r.ra)
		if changed {
			b = append(b, '\n')
		} else {
			b = b[:n]
		}
		g.deltas = b
		prev = r.rules
	}
	if n := len(rows); n > 0 {
		closeInit(rows[n-1].end)
	}
	return g.text
}

// writeRules appends " name: expr" for each rule that differs from prev
// (all of them when prev is nil), in name order as dump_syms writes them; a
// register whose rule disappeared gets a same-value rule, as dump_syms
// writes it. It reports whether anything was written.
func (g *cfiGrouper) writeRules(b []byte, rules, prev []namedRule, ra string) ([]byte, bool) {
	changes := g.changes[:0]
	switch {
	case prev == nil:
		changes = append(changes, rules...)
	default:
		if rules[0].expr != prev[0].expr {
			changes = append(changes, rules[0])
		}
		// Both are sorted by name after the CFA; merge.
		i, j := 1, 1
		for i < len(rules) || j < len(prev) {
			switch {
			case j >= len(prev) || (i < len(rules) && rules[i].name < prev[j].name):
				changes = append(changes, rules[i])
				i++
			case i >= len(rules) || prev[j].name < rules[i].name:
				// The register lost its rule: it keeps its value.
				keep := prev[j].name
				if keep == raName {
					keep = ra
				}
				changes = append(changes, namedRule{prev[j].name, keep})
				j++
			default:
				if rules[i].expr != prev[j].expr {
					changes = append(changes, rules[i])
				}
				i++
				j++
			}
		}
	}
	g.changes = changes
	if len(changes) == 0 {
		return b, false
	}
	// The CFA is first in rules; dump_syms orders it among the others.
	sorted := append(g.sorted[:0], changes...)
	slices.SortFunc(sorted, func(a, b namedRule) int { return strings.Compare(a.name, b.name) })
	g.sorted = sorted
	for _, c := range sorted {
		b = append(b, ' ')
		b = append(b, c.name...)
		b = append(b, ": "...)
		b = append(b, c.expr...)
	}
	return b, true
}
