package breakpad

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

var _ unwind.Source = (*Object)(nil)

// UnwindTables reads the file's STACK CFI and STACK WIN records into one
// table (none when the file has no STACK records).
func (o *Object) UnwindTables() ([]unwind.Table, error) {
	if o.closed {
		return nil, errors.New("breakpad: object is closed")
	}
	t, err := ReadStackTable(o.Reader(), unwind.ArchFromName(SentryArch(o.arch)))
	if err != nil {
		return nil, fmt.Errorf("breakpad: %s: %w", o.name, err)
	}
	if len(t.entries) == 0 {
		return nil, nil
	}
	return []unwind.Table{t}, nil
}

// StackTable is the STACK CFI and STACK WIN records of a symbol file as an
// unwind.Table. Rules are kept as text and parsed into rows on demand:
// forms that are DWARF rules in disguise ("$rsp 8 +", ".cfa -8 + ^", a
// register name) become those rules, anything else a postfix rule.
type StackTable struct {
	arch    unwind.Arch
	text    []byte
	entries []stackEntry
	changes []stackChange
}

var _ unwind.Table = (*StackTable)(nil)

// stackEntry is a STACK CFI INIT record (with its STACK CFI records at
// changes[first:first+n]) or a STACK WIN record.
type stackEntry struct {
	start, end uint64
	// rules is the INIT record's rules in text.
	rules    [2]int
	first, n int
	win      *unwind.WinFrame
}

// stackChange is a STACK CFI record.
type stackChange struct {
	addr  uint64
	rules [2]int
}

// ReadStackTable reads the STACK records of a symbol file. STACK CFI
// records before any STACK CFI INIT, and entries of size 0, are ignored
// as Breakpad's resolver ignores them; where entries overlap, Lookup
// prefers the one that comes first in the file.
func ReadStackTable(rd *Reader, arch unwind.Arch) (*StackTable, error) {
	t := &StackTable{arch: arch}
	keep := func(b []byte) [2]int {
		s := len(t.text)
		t.text = append(t.text, b...)
		return [2]int{s, len(t.text)}
	}
	cur := -1
	for rd.Next() {
		rec := rd.Record()
		switch rec.Kind {
		case KindStackCFIInit:
			r := &rec.CFIInit
			cur = -1
			if r.Size == 0 || r.Address+r.Size < r.Address {
				continue
			}
			cur = len(t.entries)
			t.entries = append(t.entries, stackEntry{start: r.Address, end: r.Address + r.Size, rules: keep(r.Rules), first: len(t.changes)})
		case KindStackCFI:
			if cur < 0 {
				continue
			}
			t.changes = append(t.changes, stackChange{addr: rec.CFI.Address, rules: keep(rec.CFI.Rules)})
			t.entries[cur].n++
		case KindStackWin:
			cur = -1
			w := &rec.Win
			if w.CodeSize == 0 || w.RVA+w.CodeSize < w.RVA {
				continue
			}
			f := w.WinFrame()
			t.entries = append(t.entries, stackEntry{start: w.RVA, end: w.RVA + w.CodeSize, win: &f})
		default:
			cur = -1
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	for i := range t.entries {
		e := &t.entries[i]
		// Changes apply in address order whatever their order in the file.
		slices.SortStableFunc(t.changes[e.first:e.first+e.n], func(a, b stackChange) int { return cmp.Compare(a.addr, b.addr) })
	}
	slices.SortStableFunc(t.entries, func(a, b stackEntry) int { return cmp.Compare(a.start, b.start) })
	return t, nil
}

// Arch is the architecture of the MODULE record.
func (t *StackTable) Arch() unwind.Arch { return t.arch }

// Rows yields the rows of every entry in address order.
func (t *StackTable) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		for i := range t.entries {
			stop := false
			err := t.entryRows(&t.entries[i], func(r *unwind.Row) bool {
				if !yield(*r, nil) {
					stop = true
					return false
				}
				return true
			})
			if stop {
				return
			}
			if err != nil && !yield(unwind.Row{Entry: unwind.Range{Start: t.entries[i].start, End: t.entries[i].end}}, err) {
				return
			}
		}
	}
}

// Lookup returns the row covering addr.
func (t *StackTable) Lookup(addr uint64) (unwind.Row, bool, error) {
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].start > addr })
	for k := i - 1; k >= 0 && k >= i-8; k-- {
		e := &t.entries[k]
		if addr < e.start || addr >= e.end {
			continue
		}
		var out unwind.Row
		found := false
		err := t.entryRows(e, func(r *unwind.Row) bool {
			if addr >= r.Start && addr < r.End {
				out, found = r.Clone(), true
				return false
			}
			return true
		})
		if err != nil {
			return unwind.Row{}, false, err
		}
		return out, found, nil
	}
	return unwind.Row{}, false, nil
}

// entryRows produces the rows of one entry: one per STACK CFI record (and
// the INIT record), or the single row of a STACK WIN record.
func (t *StackTable) entryRows(e *stackEntry, emit func(*unwind.Row) bool) error {
	row := unwind.Row{Entry: unwind.Range{Start: e.start, End: e.end}, RA: t.arch.RA()}
	if e.win != nil {
		row.Start, row.End, row.Win = e.start, e.end, e.win
		emit(&row)
		return nil
	}
	if err := t.apply(&row, e.rules); err != nil {
		return fmt.Errorf("breakpad: STACK CFI INIT %x: %w", e.start, err)
	}
	start := e.start
	for _, c := range t.changes[e.first : e.first+e.n] {
		if c.addr < start || c.addr >= e.end {
			continue
		}
		if c.addr > start {
			row.Start, row.End = start, c.addr
			if !emit(&row) {
				return nil
			}
			row.Regs = slices.Clone(row.Regs)
		}
		start = c.addr
		if err := t.apply(&row, c.rules); err != nil {
			return fmt.Errorf("breakpad: STACK CFI %x: %w", c.addr, err)
		}
	}
	row.Start, row.End = start, e.end
	emit(&row)
	return nil
}

// apply parses "name: expr ..." rules and sets them on row.
func (t *StackTable) apply(row *unwind.Row, span [2]int) error {
	text := string(t.text[span[0]:span[1]])
	fields := strings.Fields(text)
	for i := 0; i < len(fields); {
		name, ok := strings.CutSuffix(fields[i], ":")
		if !ok || name == "" {
			return fmt.Errorf("%w: rules %q", ErrBadRule, text)
		}
		j := i + 1
		for j < len(fields) && !strings.HasSuffix(fields[j], ":") {
			j++
		}
		if j == i+1 {
			return fmt.Errorf("%w: no expression for %q", ErrBadRule, name)
		}
		rule := t.rule(fields[i+1:j], name)
		switch name {
		case cfaName:
			row.CFA = rule
		default:
			reg := row.RA
			if name != raName {
				r, ok := t.arch.ParseBreakpadName(name)
				if !ok {
					i = j
					continue // a register this architecture does not name
				}
				reg = r
			}
			setRule(row, reg, rule)
		}
		i = j
	}
	return nil
}

// ErrBadRule reports a STACK CFI rule list that does not parse.
var ErrBadRule = errors.New("breakpad: malformed STACK CFI rules")

func setRule(row *unwind.Row, reg unwind.Reg, r unwind.Rule) {
	i, ok := slices.BinarySearchFunc(row.Regs, reg, func(e unwind.RegRule, t unwind.Reg) int { return cmp.Compare(e.Reg, t) })
	if ok {
		row.Regs[i].Rule = r
		return
	}
	row.Regs = slices.Insert(row.Regs, i, unwind.RegRule{Reg: reg, Rule: r})
}

// rule recognizes the postfix forms that are DWARF rules.
func (t *StackTable) rule(toks []string, target string) unwind.Rule {
	reg := func(s string) (unwind.Reg, bool) {
		if s == raName {
			return t.arch.RA(), true
		}
		return t.arch.ParseBreakpadName(s)
	}
	num := func(s string) (int64, bool) {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	switch {
	case len(toks) == 1:
		if toks[0] == cfaName {
			return unwind.Rule{Kind: unwind.RuleValOffset}
		}
		if r, ok := reg(toks[0]); ok {
			self, selfOK := reg(target)
			if selfOK && self == r {
				return unwind.Rule{Kind: unwind.RuleSameValue}
			}
			return unwind.Rule{Kind: unwind.RuleRegister, Reg: r}
		}
	case len(toks) == 3 && (toks[2] == "+" || toks[2] == "-"):
		n, ok := num(toks[1])
		if !ok {
			break
		}
		if toks[2] == "-" {
			n = -n
		}
		if toks[0] == cfaName {
			return unwind.Rule{Kind: unwind.RuleValOffset, Offset: n}
		}
		if r, ok := reg(toks[0]); ok {
			return unwind.Rule{Kind: unwind.RuleRegOffset, Reg: r, Offset: n}
		}
	case len(toks) == 4 && toks[0] == cfaName && (toks[2] == "+" || toks[2] == "-") && toks[3] == "^":
		if n, ok := num(toks[1]); ok {
			if toks[2] == "-" {
				n = -n
			}
			return unwind.Rule{Kind: unwind.RuleOffset, Offset: n}
		}
	}
	return unwind.Rule{Kind: unwind.RulePostfix, Expr: []byte(strings.Join(toks, " "))}
}
