package cficache

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/radix"
)

// SymbolStack holds the STACK records and FUNC parameter sizes of a
// Breakpad symbol file, indexed the way Breakpad's processor
// (BasicSourceLineResolver) reads them, and answers unwind lookups
// without building a cache. The Builder turns the same index into rows.
//
// Breakpad's rules, which a plain reading of the format would get wrong:
//
//   - STACK CFI INIT records go into a map of exclusive ranges: one that
//     overlaps a record stored before it is dropped whole. STACK CFI delta
//     records go into one map by address for the whole file (a later record
//     at the same address replaces an earlier one), and every delta at or
//     below an address inside an INIT's range applies to it, in address
//     order, whichever INIT it followed in the file.
//   - STACK WIN records go into one map of nested ranges per type: a record
//     inside another nests in it, one partly overlapping a stored record or
//     equal to one is dropped, and a lookup finds the innermost. Only
//     FrameData (type 4) and FPO (type 0) are ever looked up, FrameData
//     first.
//   - FUNC parameter sizes (x86 only: the walker uses them for the callee's
//     parameter area) go into a map of exclusive ranges like INITs.
type SymbolStack struct {
	arch   unwind.Arch
	inits  []cfiInit
	deltas []cfiDelta
	// wins are the STACK WIN records, FPO and FrameData, in file order:
	// each one's range, and in ref where its line starts in text. A
	// record is parsed again when a lookup finds it; most never are, and
	// holding only their ranges keeps a cold start's fresh memory (and
	// page faults) small.
	wins [2][]rangeRef
	// text holds the STACK WIN lines: the symbol file itself when it is
	// parsed in place, else copies of the lines of the records added.
	text    []byte
	funcs   []rangeRef
	skipped int

	// The indexes, built by index.
	keptInits []rangeRef    // sorted, exclusive; ref indexes inits
	winIdx    [2][]rangeRef // disjoint, innermost record; ref as in wins
	params    []rangeRef    // sorted, exclusive; ref is the size
}

type cfiInit struct {
	start, end uint64
	rules      string
}

type cfiDelta struct {
	addr  uint64
	seq   int
	rules string
}

// rangeRef is a range with a value, in file order.
type rangeRef struct {
	start, end uint64
	ref        uint32
}

// Range implements breakpad.Ranged.
func (r rangeRef) Range() (start, end uint64) { return r.start, r.end }

// NewSymbolStack reads the STACK CFI and STACK WIN records of a Breakpad
// symbol file held in data (and, for x86, the parameter sizes of its FUNC
// records). Only those records are parsed; the others (most of a file:
// line records) are skipped unread. The index keeps references into
// data, which must not change while it is used. Malformed lines are
// skipped (Skipped counts them).
func NewSymbolStack(arch unwind.Arch, data []byte) *SymbolStack {
	lines := NewStackLines(arch)
	eachLine(data, func(off, end int) { lines.Line(data, off, end) })
	return lines.Stack(data)
}

// StackLines finds, line by line, the records of a symbol file that a
// SymbolStack parses, for a caller that splits the file into lines for
// its own purposes: one pass over the file serves both.
type StackLines struct {
	arch  unwind.Arch
	runs  [][2]int // [start, end) of runs of adjacent kept lines
	wins  [2]int   // STACK WIN FPO and FrameData records among them
	funcs int      // FUNC records among them (x86)
	run   int      // index in runs of the run the last line extended, or -1

	// callerFuncs is set when the caller parses the FUNC records itself
	// and hands them over (Func): given holds their parameter sizes.
	callerFuncs bool
	given       []rangeRef
}

// NewStackLines starts collecting the STACK records of a symbol file for
// arch (for x86, its FUNC records too).
func NewStackLines(arch unwind.Arch) *StackLines { return &StackLines{arch: arch, run: -1} }

// Line takes the next non-empty line of data, [off, end), without its
// terminator; lines come in file order, split as eachLine splits them.
func (l *StackLines) Line(data []byte, off, end int) {
	// Small enough to be inlined into the caller's loop: most lines are
	// line records, which start with a hex digit.
	if c := data[off]; c != 'S' && c != 'F' {
		l.run = -1
		return
	}
	l.line(data, off, end)
}

// CallerParsesFuncs tells l that the caller parses the file's FUNC records
// itself and hands each one over through Func: Line then leaves FUNC lines
// out, and an x86 file's FUNC records are parsed once, not twice. It is
// called before the first line.
func (l *StackLines) CallerParsesFuncs() { l.callerFuncs = true }

// Func hands over a FUNC record of the file, in file order, after
// CallerParsesFuncs: only its range and parameter size are kept (for x86).
func (l *StackLines) Func(addr, size, paramSize uint64) {
	if r, ok := paramRange(l.arch, addr, size, paramSize); ok {
		l.given = append(l.given, r)
	}
}

func (l *StackLines) line(data []byte, off, end int) {
	line := data[off:end]
	if !hasPrefix(line, "STACK ") && (l.arch != unwind.ArchX86 || l.callerFuncs || !hasPrefix(line, "FUNC ")) {
		l.run = -1
		return
	}
	if line[0] == 'F' {
		l.funcs++
	}
	if hasPrefix(line, "STACK WIN ") && len(line) > 10 {
		// Only sizes the lists: a type written otherwise is parsed
		// all the same.
		switch line[10] {
		case '0':
			l.wins[0]++
		case '4':
			l.wins[1]++
		}
	}
	if l.run >= 0 {
		l.runs[l.run][1] = end
		return
	}
	l.run = len(l.runs)
	l.runs = append(l.runs, [2]int{off, end})
}

// Stack parses the records found and indexes them, as NewSymbolStack
// does; data is the file the lines came from.
//
// The records are parsed where they lie, one reader per run of adjacent
// lines (a file's STACK records are one run at its end), and alias data:
// copying them first cost as much fresh memory as the records' text, and
// page faults are much of a cold start's time.
func (l *StackLines) Stack(data []byte) *SymbolStack {
	s := &SymbolStack{arch: l.arch, text: data}
	for i, n := range l.wins {
		s.wins[i] = make([]rangeRef, 0, n)
	}
	if l.callerFuncs {
		s.funcs = l.given
	} else {
		s.funcs = make([]rangeRef, 0, l.funcs)
	}
	for _, r := range l.runs {
		rd := breakpad.NewBytesReader(data[r[0]:r[1]])
		for rd.Next() {
			s.add(rd.Record(), true)
		}
		s.skipped += rd.Skipped()
	}
	s.index()
	return s
}

// AddSymbolFile adds the STACK records of a Breakpad symbol file held in
// data (see NewSymbolStack); data must not change until the cache is
// written.
func (b *Builder) AddSymbolFile(data []byte) {
	b.flushSymbols()
	st := NewSymbolStack(b.info.Arch, data)
	b.stats.Malformed += st.skipped
	b.addStack(st)
}

// eachLine calls f with the bounds of every non-empty line of data; lines
// end at "\n", "\r\n" or a lone "\r", as Breakpad splits them.
func eachLine(data []byte, f func(off, end int)) {
	cr := bytes.IndexByte(data, '\r') >= 0
	for off := 0; off < len(data); {
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			n = len(data) - off
		}
		end, next := off+n, off+n+1
		if cr {
			if r := bytes.IndexByte(data[off:end], '\r'); r >= 0 {
				end, next = off+r, off+r+1
			}
		}
		if end > off {
			f(off, end)
		}
		off = next
	}
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// AddSymbolRecord adds one record of a Breakpad symbol file; records must
// come in file order. Records other than STACK CFI, STACK WIN and FUNC
// are ignored, so a caller reading a symbol file for other purposes can
// hand every record over. The records are turned into rows when the
// cache is written or another source is added; their bytes are copied.
func (b *Builder) AddSymbolRecord(rec *breakpad.Record) {
	if b.sym == nil {
		b.sym = &SymbolStack{arch: b.info.Arch}
	}
	b.sym.add(rec, false)
}

// add records one record; with alias its text is kept by reference.
func (s *SymbolStack) add(rec *breakpad.Record, alias bool) {
	str := func(p []byte) string {
		if alias {
			return unsafeString(p)
		}
		return string(p)
	}
	switch rec.Kind {
	case breakpad.KindStackCFIInit:
		r := &rec.CFIInit
		if r.Size == 0 || r.Address+r.Size-1 < r.Address {
			return
		}
		s.inits = append(s.inits, cfiInit{r.Address, r.Address + r.Size, str(r.Rules)})
	case breakpad.KindStackCFI:
		s.deltas = append(s.deltas, cfiDelta{rec.CFI.Address, len(s.deltas), str(rec.CFI.Rules)})
	case breakpad.KindStackWin:
		w := &rec.Win
		if w.CodeSize == 0 || w.RVA+w.CodeSize-1 < w.RVA {
			return
		}
		i := -1
		switch w.Type {
		case 0:
			i = 0
		case 4:
			i = 1
		}
		if i < 0 {
			return // trap, TSS and standard frames are never looked up
		}
		// Where the line lies in text: in the file parsed in place, or
		// in a copy appended to text.
		var off uint64
		if alias {
			off = uint64(cap(s.text) - cap(rec.Text))
		} else {
			off = uint64(len(s.text))
			s.text = append(append(s.text, rec.Text...), '\n')
		}
		if off > math.MaxUint32 {
			s.skipped++ // beyond 4 GiB of STACK WIN lines
			return
		}
		s.wins[i] = append(s.wins[i], rangeRef{w.RVA, w.RVA + w.CodeSize, uint32(off)})
	case breakpad.KindFunc:
		f := &rec.Func
		if r, ok := paramRange(s.arch, f.Address, f.Size, f.ParamSize); ok {
			s.funcs = append(s.funcs, r)
		}
	}
}

// paramRange is the parameter size of a FUNC record as the index keeps it:
// for x86 only, and not for an empty or wrapping range.
func paramRange(arch unwind.Arch, addr, size, paramSize uint64) (rangeRef, bool) {
	if arch != unwind.ArchX86 || size == 0 || addr+size-1 < addr {
		return rangeRef{}, false
	}
	return rangeRef{addr, addr + size, uint32(min(paramSize, none-1))}, true
}

// index applies Breakpad's storage rules to the records.
func (s *SymbolStack) index() {
	// Deltas by address, the last record at an address winning.
	slices.SortStableFunc(s.deltas, func(x, y cfiDelta) int {
		return cmp.Or(cmp.Compare(x.addr, y.addr), cmp.Compare(x.seq, y.seq))
	})
	deltas := s.deltas[:0]
	for i, d := range s.deltas {
		if i+1 < len(s.deltas) && s.deltas[i+1].addr == d.addr {
			continue
		}
		deltas = append(deltas, d)
	}
	s.deltas = deltas
	inits := make([]rangeRef, len(s.inits))
	for i, in := range s.inits {
		inits[i] = rangeRef{in.start, in.end, uint32(i)}
	}
	s.keptInits = breakpad.FirstWins(inits)
	for i := range s.wins {
		s.winIdx[i] = nestedFlatten(s.wins[i])
	}
	s.params = breakpad.FirstWins(s.funcs)
}

// Skipped counts the malformed lines left out.
func (s *SymbolStack) Skipped() int { return s.skipped }

// HasUnwind reports whether any STACK record can be looked up.
func (s *SymbolStack) HasUnwind() bool {
	return len(s.keptInits) > 0 || len(s.winIdx[0]) > 0 || len(s.winIdx[1]) > 0 || len(s.params) > 0
}

// findRange returns the index of the sorted, disjoint range holding addr.
func findRange(rs []rangeRef, addr uint64) int {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].end > addr })
	if i < len(rs) && rs[i].start <= addr {
		return i
	}
	return -1
}

// Lookup fills row with the rules at addr (Start and End delimit the
// addresses they hold for) and reports whether there are usable ones
// (Breakpad needs both .cfa and .ra).
func (s *SymbolStack) Lookup(addr uint64, row *unwind.Row) bool {
	k := findRange(s.keptInits, addr)
	if k < 0 {
		return false
	}
	in := &s.inits[s.keptInits[k].ref]
	st := ruleState{arch: s.arch}
	if !st.apply(in.rules) {
		return false
	}
	start, end := in.start, in.end
	i := sort.Search(len(s.deltas), func(i int) bool { return s.deltas[i].addr >= in.start })
	for ; i < len(s.deltas) && s.deltas[i].addr < in.end; i++ {
		d := &s.deltas[i]
		if d.addr > addr {
			end = d.addr
			break
		}
		start = d.addr
		st.apply(d.rules) // rules before a malformed one still apply, as in Breakpad
	}
	r, ok := st.row()
	if !ok {
		return false
	}
	regs := append(row.Regs[:0], r.Regs...)
	*row = r
	row.Regs = regs
	row.Start, row.End = start, end
	row.Entry = unwind.Range{Start: in.start, End: in.end}
	return true
}

// LookupWin returns the Windows frame data covering addr: FrameData, else
// FPO.
func (s *SymbolStack) LookupWin(addr uint64) (unwind.WinFrame, bool) {
	for _, i := range [...]int{1, 0} {
		if k := findRange(s.winIdx[i], addr); k >= 0 {
			return s.winFrame(s.winIdx[i][k].ref)
		}
	}
	return unwind.WinFrame{}, false
}

// winFrame parses again the STACK WIN line at offset off of text. The
// program string is a view of text, as it was of the file parsed in place.
func (s *SymbolStack) winFrame(off uint32) (unwind.WinFrame, bool) {
	if int(off) >= len(s.text) {
		return unwind.WinFrame{}, false
	}
	line := s.text[off:]
	if n := bytes.IndexAny(line, "\r\n"); n >= 0 {
		line = line[:n]
	}
	w, ok := breakpad.ParseStackWin(line)
	if !ok {
		return unwind.WinFrame{}, false
	}
	// WinFrame copies the program; a lookup takes a view of it instead,
	// and allocates nothing.
	prog := unsafeString(w.ProgramString)
	w.HasProgramString = false
	f := w.WinFrame()
	f.Program = prog
	return f, true
}

// ParamSize returns the parameter size of the FUNC covering addr (x86).
func (s *SymbolStack) ParamSize(addr uint64) (uint32, bool) {
	if k := findRange(s.params, addr); k >= 0 {
		return s.params[k].ref, true
	}
	return 0, false
}

// flushSymbols turns pending symbol file records into rows, frame data
// and parameter sizes.
func (b *Builder) flushSymbols() {
	st := b.sym
	if st == nil {
		return
	}
	b.sym = nil
	st.index()
	b.addStack(st)
}

// addStack adds an indexed symbol file's rows, frame data and parameter
// sizes.
func (b *Builder) addStack(s *SymbolStack) {
	var cfi []span
	st := ruleState{arch: b.info.Arch}
	for _, r := range s.keptInits {
		in := s.inits[r.ref]
		st.reset()
		if !st.apply(in.rules) {
			b.stats.Malformed++
			continue // Breakpad cannot use the entry, but it still owns its range
		}
		// Deltas inside the entry, in address order.
		i := sort.Search(len(s.deltas), func(i int) bool { return s.deltas[i].addr >= in.start })
		pos := in.start
		for ; i < len(s.deltas) && s.deltas[i].addr < in.end; i++ {
			d := s.deltas[i]
			if d.addr > pos {
				cfi = b.appendRuleRow(cfi, &st, pos, d.addr)
				pos = d.addr
			}
			st.apply(d.rules)
		}
		cfi = b.appendRuleRow(cfi, &st, pos, in.end)
	}
	b.cfi = b.cover(b.cfi, cfi)

	// Frame data: FrameData first, then FPO where it has none.
	for _, i := range [...]int{1, 0} {
		spans := make([]span, 0, len(s.winIdx[i]))
		for _, n := range s.winIdx[i] {
			if f, ok := s.winFrame(n.ref); ok {
				spans = append(spans, span{n.start, n.end, b.internWin(&f)})
			}
		}
		b.win = b.cover(b.win, spans)
	}

	params := make([]span, 0, len(s.params))
	for _, r := range s.params {
		params = append(params, span{r.start, r.end, r.ref})
	}
	b.params = b.cover(b.params, params)
}

// appendRuleRow adds the row the rules in effect give for [start, end),
// when they can unwind (Breakpad needs both .cfa and .ra).
func (b *Builder) appendRuleRow(out []span, st *ruleState, start, end uint64) []span {
	row, ok := st.row()
	if !ok {
		b.stats.Unexpressible++
		return out
	}
	row.Start, row.End = start, end
	ref, ok := b.internRow(&row)
	if !ok {
		b.stats.Unexpressible++
		return out
	}
	return append(out, span{start, end, ref})
}

// ruleState is the rule set of a STACK CFI entry as deltas apply to it:
// named postfix expressions, later ones replacing earlier ones.
type ruleState struct {
	arch  unwind.Arch
	names []string
	exprs []string
}

func (s *ruleState) reset() { s.names, s.exprs = s.names[:0], s.exprs[:0] }

func (s *ruleState) set(name, expr string) {
	for i, n := range s.names {
		if n == name {
			s.exprs[i] = expr
			return
		}
	}
	s.names = append(s.names, name)
	s.exprs = append(s.exprs, expr)
}

// apply parses "name: expr name: expr ..." as Breakpad's CFIRuleParser
// does: tokens split at white space, a token ending in ':' names the next
// rule, the rest of the tokens up to the next name form its expression.
// Rules parsed before a malformed one stay applied; apply reports whether
// the whole set parsed.
func (s *ruleState) apply(text string) bool {
	var name string
	var expr []string
	report := func() bool {
		if name == "" || len(expr) == 0 {
			return false
		}
		s.set(name, strings.Join(expr, " "))
		return true
	}
	for _, tok := range strings.Fields(text) {
		if strings.HasSuffix(tok, ":") {
			if len(tok) < 2 {
				return false
			}
			if name != "" || len(expr) > 0 {
				if !report() {
					return false
				}
			}
			name, expr = tok[:len(tok)-1], expr[:0]
			continue
		}
		expr = append(expr, tok)
	}
	return report()
}

// row converts the rules into a row; ok is false without both a CFA and a
// return address rule.
func (s *ruleState) row() (unwind.Row, bool) {
	row := unwind.Row{RA: s.arch.RA()}
	var hasCFA, hasRA bool
	for i, name := range s.names {
		switch name {
		case ".cfa":
			row.CFA, hasCFA = parseRule(s.arch, s.exprs[i], ""), true
		case ".ra":
			setRegRule(&row, row.RA, parseRule(s.arch, s.exprs[i], ".ra"))
			hasRA = true
		default:
			reg, ok := s.arch.ParseBreakpadName(name)
			if !ok || reg == row.RA {
				continue // a register the walker does not recover, or .ra's column
			}
			setRegRule(&row, reg, parseRule(s.arch, s.exprs[i], name))
		}
	}
	return row, hasCFA && hasRA
}

func setRegRule(row *unwind.Row, reg unwind.Reg, r unwind.Rule) {
	i, ok := slices.BinarySearchFunc(row.Regs, reg, func(e unwind.RegRule, t unwind.Reg) int { return cmp.Compare(e.Reg, t) })
	if ok {
		row.Regs[i].Rule = r
		return
	}
	row.Regs = slices.Insert(row.Regs, i, unwind.RegRule{Reg: reg, Rule: r})
}

// parseRule recognizes the postfix expressions that are DWARF rules
// ("$rsp 8 +", ".cfa -8 + ^", ".cfa", "$rbp"), whose evaluation gives the
// same value with less work; anything else stays a postfix expression.
// target is the rule's name ("" for the CFA).
func parseRule(arch unwind.Arch, expr, target string) unwind.Rule {
	toks := strings.Fields(expr)
	reg := func(s string) (unwind.Reg, bool) {
		if s == ".ra" || s == ".cfa" {
			return 0, false
		}
		return arch.ParseBreakpadName(s)
	}
	num := func(s string) (int64, bool) {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	switch {
	case len(toks) == 1:
		if target != "" && toks[0] == ".cfa" {
			return unwind.Rule{Kind: unwind.RuleValOffset}
		}
		if r, ok := reg(toks[0]); ok {
			if self, ok := reg(target); ok && self == r {
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
		if target != "" && toks[0] == ".cfa" {
			return unwind.Rule{Kind: unwind.RuleValOffset, Offset: n}
		}
		if r, ok := reg(toks[0]); ok {
			return unwind.Rule{Kind: unwind.RuleRegOffset, Reg: r, Offset: n}
		}
	case len(toks) == 4 && target != "" && toks[0] == ".cfa" && (toks[2] == "+" || toks[2] == "-") && toks[3] == "^":
		if n, ok := num(toks[1]); ok {
			if toks[2] == "-" {
				n = -n
			}
			return unwind.Rule{Kind: unwind.RuleOffset, Offset: n}
		}
	}
	return unwind.Rule{Kind: unwind.RulePostfix, Expr: []byte(strings.Join(toks, " "))}
}

// maxNesting bounds how deep STACK WIN ranges nest: real files nest two or
// three deep, and a hostile file of thousands of nested ranges must not
// make building quadratic.
const maxNesting = 64

// nested is a node of Breakpad's ContainedRangeMap: a range (high is
// inclusive) and the ranges stored inside it, sorted by high.
type nested struct {
	base, high uint64
	ref        uint32
	kids       []*nested
}

// store inserts a range as ContainedRangeMap::StoreRange does (without
// equal ranges), reporting whether it was kept.
func (n *nested) store(pool *nestedPool, base, high uint64, ref uint32, depth int) bool {
	if depth > maxNesting {
		return false
	}
	kids := n.kids
	iBase := sort.Search(len(kids), func(i int) bool { return kids[i].high >= base })
	iHigh := sort.Search(len(kids), func(i int) bool { return kids[i].high >= high })
	if iBase == iHigh && iBase < len(kids) && base >= kids[iBase].base {
		k := kids[iBase]
		if k.base == base && k.high == high {
			return false
		}
		return k.store(pool, base, high, ref, depth+1)
	}
	containsHigh := iHigh < len(kids) && high >= kids[iHigh].base
	if (iBase < len(kids) && base > kids[iBase].base) || (containsHigh && high < kids[iHigh].high) {
		return false
	}
	end := iHigh
	if containsHigh {
		end++
	}
	child := pool.node(base, high, ref)
	child.kids = append(child.kids, kids[iBase:end]...)
	n.kids = slices.Insert(slices.Delete(kids, iBase, end), iBase, child)
	return true
}

// nestedPool hands out the nodes of one cluster's map and takes them all
// back when the cluster is flattened: the next cluster reuses them, and
// their lists of children, instead of allocating its own.
type nestedPool struct {
	nodes []*nested
	used  int
}

// node returns a node with no children.
func (p *nestedPool) node(base, high uint64, ref uint32) *nested {
	if p.used == len(p.nodes) {
		p.nodes = append(p.nodes, &nested{})
	}
	n := p.nodes[p.used]
	p.used++
	n.base, n.high, n.ref, n.kids = base, high, ref, n.kids[:0]
	return n
}

// reset takes every node back.
func (p *nestedPool) reset() { p.used = 0 }

// nestedFlatten stores the records in file order and returns, for every
// address some record covers, the innermost record: disjoint ranges in
// address order, each with its record's ref.
//
// Whether a record is kept depends only on the records it overlaps, so
// the records are first split into clusters of transitively overlapping
// ranges (a sweep in address order), and each cluster is stored into its
// own nested map in file order. Real files have thousands of records in
// small clusters, which keeps this near linear.
func nestedFlatten(recs []rangeRef) []rangeRef {
	order := byStart(recs)
	// A record splits at most one range of its parent in two: 2n ranges
	// at most. The room never used costs nothing (fresh memory is not
	// touched), where growing the list would copy it.
	out := make([]rangeRef, 0, 2*len(recs))
	var (
		cluster []int
		pool    nestedPool // the nodes of a cluster, reused by the next
	)
	flush := func() {
		if len(cluster) == 0 {
			return
		}
		if len(cluster) == 1 {
			out = append(out, recs[cluster[0]])
		} else {
			slices.Sort(cluster) // file order
			root := pool.node(0, 0, 0)
			for _, i := range cluster {
				root.store(&pool, recs[i].start, recs[i].end-1, recs[i].ref, 0)
			}
			out = root.flatten(out)
			pool.reset()
		}
		cluster = cluster[:0]
	}
	var end uint64
	for _, k := range order {
		i := int(uint32(k))
		if len(cluster) > 0 && recs[i].start >= end {
			flush()
		}
		if len(cluster) == 0 || recs[i].end > end {
			end = recs[i].end
		}
		cluster = append(cluster, i)
	}
	flush()
	return out
}

// byStart returns the indexes of recs by start address, records with equal
// starts in file order, each in the low 32 bits of an integer (recs come
// from a file or table of fewer than 2³² records). The sort is a stable
// radix sort by start: a cold stack walk indexes every STACK WIN record of
// a symbol file (3,700 in kernel32.sym), in file order far from sorted,
// and a comparison sort of them was a sixth of opening the file. Where
// starts fit 32 bits (always, for the 32-bit RVAs of STACK WIN records)
// the start is the integer's high half and the integers sort in place;
// fresh memory costs a cold start a page fault per page.
func byStart(recs []rangeRef) []uint64 {
	keys := make([]uint64, len(recs))
	packed := true
	for i, r := range recs {
		packed = packed && r.start <= math.MaxUint32
		keys[i] = r.start<<32 | uint64(uint32(i))
	}
	if packed {
		radix.Uint64s(keys, 32)
		return keys
	}
	for i := range keys {
		keys[i] = uint64(uint32(i))
	}
	radix.SortStable(keys, func(k *uint64) uint64 { return recs[uint32(*k)].start })
	return keys
}

// flatten appends the disjoint ranges of the map's children, each address
// owned by the innermost range holding it.
func (n *nested) flatten(out []rangeRef) []rangeRef {
	var walk func(n *nested)
	walk = func(n *nested) {
		pos := n.base
		for _, k := range n.kids {
			if k.base > pos {
				out = append(out, rangeRef{pos, k.base, n.ref})
			}
			walk(k)
			pos = past(k.high)
		}
		if end := past(n.high); pos < end {
			out = append(out, rangeRef{pos, end, n.ref})
		}
	}
	for _, k := range n.kids {
		walk(k)
	}
	return out
}

// past is the address after an inclusive high address, saturating (the
// builder leaves out what lies beyond 4 GiB anyway).
func past(high uint64) uint64 {
	if high == math.MaxUint64 {
		return high
	}
	return high + 1
}
