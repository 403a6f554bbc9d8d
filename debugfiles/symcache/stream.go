package symcache

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// streamEnc encodes the range stream. It runs twice over the same
// entries: first counting the symbols of every alphabet, from which the
// Huffman codes are built, then writing them. The counting pass may
// record the symbols it counts (rec), which the writing then replays
// without decoding and modelling the entries again.
type streamEnc struct {
	counting bool
	freq     [numAlphabets][]uint64
	rec      *symRecord // while counting, or nil
	codes    [numAlphabets]code
	w        bitWriter
	f        highBits // the page's field stream, written at its end
	out      *spill   // the stream, in pieces; nil while counting
	// pages holds the bit offset of every page and of the stream's end,
	// groups the state each group's pages start from.
	pages  []uint32
	groups []groupStart
}

// groupStart is the state the decoding of each page of a group starts
// from, which the page directory keeps with the group: the node, file and
// line of the first entry of the group's first page. A page's first entry
// is coded against it, as the entries after it are against the one before.
type groupStart struct {
	node, file, line uint32
}

// startOf returns the group state of a group whose first page starts with
// entry e.
func startOf(e entry) groupStart { return groupStart{e.node, e.file, e.line} }

// state returns the coder's state at the start of each page of the group.
func (g groupStart) state() state {
	s := state{node: g.node, file: g.file, line: g.line, top: g.node}
	s.m.files.add(g.file, 0, g.line)
	return s
}

// symRecord is the symbols of a counting pass in coding order: each one's
// alphabet and symbol, the extra bits of its value symbols (their count
// follows from the symbol), the symbol each page starts at, and the state
// each group of pages starts from.
type symRecord struct {
	syms   []uint16 // alphabet<<8 | symbol
	extras []uint32 // a word each, two for more than 32 bits, low first
	pages  []uint32
	groups []groupStart
	// groupExtras is where in extras each group of pages starts, so
	// that a group's pages can be replayed without those before.
	groupExtras []uint32
}

// recordEntries is the most entries for which encodePages records the
// symbols of its counting pass, at some 10 bytes an entry; above it, a
// large input's build keeps the memory bound of its spills and the
// writing decodes and models the entries again. Tests set it to compare
// both ways.
var recordEntries = 1 << 19

// sym codes symbol s of an alphabet.
func (e *streamEnc) sym(alpha, s int) {
	if e.counting {
		e.freq[alpha][s]++
		if e.rec != nil {
			e.rec.syms = append(e.rec.syms, uint16(alpha)<<8|uint16(s))
		}
		return
	}
	c := &e.codes[alpha]
	if c.high {
		e.f.put(uint64(c.codes[s]), uint(c.lens[s]))
		return
	}
	e.w.put(uint64(c.codes[s]), uint(c.lens[s]))
}

// value codes v as a value symbol of an alphabet and its extra bits.
func (e *streamEnc) value(alpha int, v uint64) {
	s, extra, n := valueSym(v)
	e.sym(alpha, s)
	e.raw(alpha, extra, n)
}

// raw writes n bits of v as they are, the extra bits of a value of
// alphabet alpha, in its stream; a counting pass that records its symbols
// records them.
func (e *streamEnc) raw(alpha int, v uint64, n uint) {
	// Most values have no extra bits.
	if n == 0 {
		return
	}
	switch {
	case !e.counting && e.codes[alpha].high:
		e.f.put(v, n)
	case !e.counting:
		e.w.put(v, n)
	case e.rec != nil:
		e.rec.extras = append(e.rec.extras, uint32(v))
		if n > 32 {
			e.rec.extras = append(e.rec.extras, uint32(v>>32))
		}
	}
}

// fieldSym marks the symbols of the field stream in replay's table.
const fieldSym = 1 << 30

// endPage writes the field stream of the page just coded after its tag
// stream: the page ends with it.
func (e *streamEnc) endPage() {
	if !e.counting {
		e.f.drain(&e.w)
	}
}

// replay writes the symbols rec recorded for its pages [from, to) with
// enc's codes, noting the pages' offsets as the pages pass does; from
// must start a group. Each symbol is looked up once in a table of its
// code, code length and count of extra bits, and its bits go out eight
// bytes at a time without a branch on how many there are: through sym
// and raw, the writing took about as long as the counting pass, which
// decodes and models the entries.
func (enc *streamEnc) replay(rec *symRecord, from, to int) error {
	g := from / groupPages
	if from%groupPages != 0 || from > to || to > len(rec.pages) || g >= len(rec.groupExtras) && from < to {
		return errors.New("symcache: range stream: pages miscounted")
	}
	xend := len(rec.extras) // where the extras of the pages end, and begin
	if to < len(rec.pages) {
		if to%groupPages != 0 || to/groupPages >= len(rec.groupExtras) {
			return errors.New("symcache: range stream: pages miscounted")
		}
		xend = int(rec.groupExtras[to/groupPages])
	}
	xi := xend
	if from < to {
		xi = int(rec.groupExtras[g])
	}
	// alphabet<<8 | symbol: code | length<<16 | extra bits<<24, and
	// fieldSym for the field stream's symbols
	var tab [16 << 8]uint32
	for alpha := range enc.codes {
		c := &enc.codes[alpha]
		for s := range c.lens {
			t := uint32(c.codes[s]) | uint32(c.lens[s])<<16
			if alpha > alphaTagFirst {
				_, n, _ := symValue(uint32(s))
				t |= uint32(n) << 24
			}
			if c.high {
				t |= fieldSym
			}
			tab[alpha<<8|s] = t
		}
	}
	f := &enc.f
	facc, fn := f.acc, f.n // the field stream's last bits, as f.acc and f.n
	// What w holds goes out as whole bytes first; then acc keeps fewer
	// than 8 bits between symbols, and buf[:pos] holds the bytes.
	w := &enc.w
	for ; w.n >= 8; w.n -= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
	}
	acc, n := w.acc, w.n
	pos := len(w.out)
	buf := w.out[:cap(w.out)]
	// The stream's length in bits is not counted symbol by symbol but
	// found from the bytes made since the start (flushed to the spill or
	// in buf) and the bits acc holds.
	bits0, pos0, n0, flushed := w.bits, pos, n, 0
	bitsNow := func() uint64 { return bits0 + 8*uint64(flushed+pos-pos0) + uint64(n) - uint64(n0) }
	// A word past the last extra bits is read, and not used (masked to
	// no bits), by the symbols without any: no branch on whether a
	// symbol has them. It is the next part's first word, or room the
	// record has past its end, not a copy of the extras with a word
	// appended: 2 MB of new memory for the bench fixture's two parts.
	if xi > xend || xend > len(rec.extras) {
		return errors.New("symcache: range stream: symbols miscounted")
	}
	var extras []uint32
	if xend < cap(rec.extras) {
		extras = rec.extras[:xend+1]
	} else {
		extras = append(rec.extras[:xend:xend], 0)
	}
	for p := from; p < to; p++ {
		first, last := int(rec.pages[p]), len(rec.syms)
		if p+1 < len(rec.pages) {
			last = int(rec.pages[p+1])
		}
		if first > last || last > len(rec.syms) {
			return errors.New("symcache: range stream: symbols miscounted")
		}
		bits := bitsNow()
		if bits > math.MaxUint32 {
			return errTooLarge("range stream", int(bits/8))
		}
		enc.pages = append(enc.pages, uint32(bits))
		syms := rec.syms[first:last]
		// Room for every symbol of the page (at most 72 bits each, and
		// eight bytes written at the last), so that the loop checks
		// nothing but the extra bits.
		if need := pos + 9*len(syms) + 16; need > len(buf) {
			grown := make([]byte, max(2*len(buf), need))
			copy(grown, buf[:pos])
			buf = grown
		}
		for _, v := range syms {
			t := tab[v&(16<<8-1)]
			x := uint(t >> 24 & 63)
			if x > 32 {
				// A value of more than 32 bits (rare): its extra
				// bits are two words, written in two steps.
				if xi+2 >= len(extras) {
					return errors.New("symcache: range stream: symbols miscounted")
				}
				if t&fieldSym != 0 {
					f.acc, f.n = facc, fn
					f.put(uint64(t&0xffff), uint(t>>16&0xff))
					f.put(uint64(extras[xi])|uint64(extras[xi+1])<<32, x)
					facc, fn = f.acc, f.n
					xi += 2
					continue
				}
				acc |= uint64(t&0xffff) << (n & 63) // n < 64: the masks spare Go's shift overflow code
				n += uint(t >> 16 & 0xff)
				binary.LittleEndian.PutUint64(buf[pos:], acc)
				pos += int(n >> 3)
				acc >>= n & 56
				n &= 7
				acc |= uint64(extras[xi]) << (n & 63)
				n += 32
				binary.LittleEndian.PutUint64(buf[pos:], acc)
				pos += int(n >> 3)
				acc >>= n & 56
				n &= 7
				acc |= uint64(extras[xi+1]) & (1<<((x-32)&63) - 1) << (n & 63)
				n += x - 32
				xi += 2
				binary.LittleEndian.PutUint64(buf[pos:], acc)
				pos += int(n >> 3)
				acc >>= n & 56
				n &= 7
				continue
			}
			if xi >= len(extras) {
				return errors.New("symcache: range stream: symbols miscounted")
			}
			// The code and its extra bits, at most 40 bits, go to
			// both streams, masked to none in the other one: which
			// stream a symbol is in changes from symbol to symbol, and
			// a branch on it mispredicted.
			c, l := uint64(t&0xffff), uint(t>>16&0xff)
			ext := uint64(extras[xi]) & (1<<(x&63) - 1)
			xi += int((x + 31) / 32)
			isField := uint64(t >> 30 & 1) // fieldSym
			tagMask, fieldMask := isField-1, -isField
			// The tag stream, least significant bit first.
			acc |= (c | ext<<(l&63)) & tagMask << (n & 63)
			n += (l + x) & uint(tagMask)
			binary.LittleEndian.PutUint64(buf[pos:], acc)
			pos += int(n >> 3)
			acc >>= n & 56
			n &= 7
			// The field stream, written at the page's end: most
			// significant bit first (highBits.put, written out).
			fl, fv := (l+x)&uint(fieldMask), (c<<(x&63)|ext)&fieldMask
			if fn+fl < 64 {
				facc, fn = facc<<(fl&63)|fv, fn+fl
				continue
			}
			k := fn + fl - 64
			f.words = append(f.words, facc<<((64-fn)&63)|fv>>(k&63))
			facc, fn = fv&(1<<(k&63)-1), k
		}
		// The page's field stream: its bits least significant first, at
		// most 32 at a time (n stays below 8 between them).
		put := func(v uint64, k uint) {
			acc |= v & (1<<(k&63) - 1) << (n & 63)
			n += k
			binary.LittleEndian.PutUint64(buf[pos:], acc)
			pos += int(n >> 3)
			acc >>= n & 56
			n &= 7
		}
		put(facc, min(fn, 32))
		put(facc>>32, fn-min(fn, 32))
		for i := len(f.words) - 1; i >= 0; i-- {
			put(f.words[i], 32)
			put(f.words[i]>>32, 32)
		}
		f.words, facc, fn = f.words[:0], 0, 0
		if pos >= spillChunk {
			enc.out.write(buf[:pos])
			flushed += pos
			pos = 0
		}
	}
	bits := bitsNow()
	w.acc, w.n, w.bits, w.out = acc, n, bits, buf[:pos]
	if xi != xend {
		return errors.New("symcache: range stream: symbols miscounted")
	}
	return nil
}

// state is the decoder's state an entry is encoded against.
type state struct {
	start uint64
	node  uint32
	file  uint32
	line  uint32
	flags uint32 // of the last entry
	top   uint32 // the highest node of the page so far, the group's at its start
	m     model
}

// encode codes e as the entry following s, or as the first entry of a
// page (first), whose start is the page's and whose delta is not coded.
// File and line are coded against the model's prediction (recall.go).
func (s *state) encode(enc *streamEnc, e entry, first bool) {
	var delta uint64
	if !first {
		delta = e.start - s.start
	}
	predFile, predLine, hit := s.file, s.line, true
	flags := uint32(0)
	if e.node != s.node {
		flags |= tagNodeFlag
		predFile, predLine, hit = s.m.nodes.switchTo(s.node, s.file, s.line, e.node)
	}
	if e.file != predFile {
		flags |= tagFileFlag
	}
	ctx := alphaTag + int(s.flags)
	if first {
		ctx = alphaTagFirst
	}
	s.flags = flags
	codeTag(enc, ctx, delta, flags)
	if flags&tagNodeFlag != 0 {
		// A changed node's difference is never 0, and its zigzag is
		// coded plus 1: 0 stands for the node after the highest of the
		// page so far, the next one first seen in address order
		// (nodes are numbered so), and 1 for node 0, no function or
		// nameless code, whose difference from the node before, the
		// node's id negated, would take a long value.
		d := zigzag(int32(e.node-s.node)) + 1
		switch {
		case e.node == s.top+1:
			d = 0
		case e.node == 0:
			d = 1
		}
		enc.value(alphaNode+int(flags&tagFileFlag)/tagFileFlag, d)
		s.top = max(s.top, e.node)
	}
	if flags&tagFileFlag != 0 {
		enc.value(alphaFile, uint64(e.file))
	}
	base, how := s.m.lineBase(e.file, predFile, hit, predLine)
	enc.value(lineAlphabet(flags, how, first), zigzag(int32(e.line-base)))
	s.m.files.put(e.file, e.line)
	s.start, s.node, s.file, s.line = e.start, e.node, e.file, e.line
}

// encodeNext codes e as the entry following s; one that goes on into the
// next page (cont), which codes it whole as its first entry, is a
// continuation: its tag alone, with flags 0, and its long delta, after
// which the page's two streams meet. A lookup in it decodes the next
// page's first entry. On CPython's libpython three pages in four end in
// such an entry, whose node, file and line took 30 KB.
func (s *state) encodeNext(enc *streamEnc, e entry, cont bool) {
	if !cont {
		s.encode(enc, e, false)
		return
	}
	codeTag(enc, alphaTag+int(s.flags), e.start-s.start, 0)
	s.start = e.start
}

// codeTag codes an entry's tag in context ctx: its address delta, in the
// tag up to escapeDelta and as a value of its own beyond, and its flags.
func codeTag(enc *streamEnc, ctx int, delta uint64, flags uint32) {
	a := min(delta, escapeDelta)
	enc.sym(ctx, int(a)<<2|int(flags))
	if a == escapeDelta {
		enc.value(alphaDelta, delta-escapeDelta)
	}
}

// lineAlphabet is the alphabet of an entry's line, by whether it is a
// page's first entry, whether its node changed and how its base line was
// found: the differences of each kind are distributed very differently.
//
// A page's first entry's line, coded against its group's (groupStart),
// takes alphaLineFirst whatever its kind. That is the alphabet of an
// unchanged node's line based on the file memory too, which is rare (a
// file changing within a node): the two share its code.
func lineAlphabet(flags uint32, how int, first bool) int {
	if first {
		return alphaLineFirst
	}
	return alphaLine + int(flags&tagNodeFlag)*3 + how
}

// Flags of a tag symbol.
const (
	tagNodeFlag = 1
	tagFileFlag = 2
)

// encodePages writes the range stream, page by page, with the directory
// of the pages' bit offsets and the Huffman codes of its alphabets: a
// pass counting the symbols, then a pass writing them. Pages are coded
// independently of one another but for the node their group starts from,
// so each pass runs on two goroutines, each over half of the groups (see
// splitPages), when there are two processors and enough pages. Up to
// recordEntries entries, the counting pass records its symbols and the
// writing replays them (replayAll): on the bench fixture that took a
// fifth off a build's CPU time, and the entries are decoded once.
// When a follower counted the symbols during resolve (follow.go), and
// its pages are the layout's, its record is replayed instead.
func (a *assembly) encodePages() error {
	var counts []*streamEnc
	parts := a.splitPages()
	record := a.nents <= recordEntries
	if a.followerFits() {
		// The follower counted the pages as they are: its record is
		// the whole stream's.
		counts, a.followed = []*streamEnc{a.fol.enc}, true
	}
	a.fol = nil
	if !a.followed {
		var err error
		if counts, err = a.countParts(parts, record); err != nil {
			return err
		}
	}
	var codes [numAlphabets]code
	// The codes of the alphabets are made on two goroutines, the odd
	// alphabets beside the even: halving the frequencies until every
	// length fits takes a few rounds, 0.6 ms for the bench fixture.
	var wg sync.WaitGroup
	for parity := range 2 {
		wg.Go(func() {
			for k := parity; k < len(codes); k += 2 {
				for _, c := range counts[1:] {
					for s, n := range c.freq[k] {
						counts[0].freq[k][s] += n
					}
				}
				codes[k] = newCode(counts[0].freq[k])
				if fieldAlphabet(k) {
					codes[k].highFirst()
				}
			}
		})
	}
	wg.Wait()
	pages := make([]uint32, a.npages+1)
	if record {
		return a.replayAll(counts, codes, pages)
	}
	counts = nil
	bounds := make([][2]int, len(parts))
	for i, p := range parts {
		bounds[i] = [2]int{int(p.from), int(p.to)}
		if i == len(parts)-1 {
			bounds[i][1]++ // the stream's end
		}
	}
	encs := a.partEncoders(codes, pages, bounds)
	defer closeTails(encs)
	if err := a.eachPart(parts, encs); err != nil {
		return err
	}
	if err := joinParts(encs, pages, bounds); err != nil {
		return err
	}
	return a.finishStream(encs[0])
}

// replayAll writes the range stream from the records of counts, with
// codes, noting the offsets of its pages in pages: on two goroutines
// when the counting ran on two, or when its one record holds enough
// pages to split at a group near the middle (as splitPages does). The
// second part goes to a spill of its own, joined to the first.
func (a *assembly) replayAll(counts []*streamEnc, codes [numAlphabets]code, pages []uint32) error {
	type job struct {
		rec      *symRecord
		from, to int // the record's pages
		at       int // where they go in pages
	}
	var jobs []job
	at := 0
	for _, c := range counts {
		jobs = append(jobs, job{c.rec, 0, len(c.rec.pages), at})
		at += len(c.rec.pages)
	}
	if at != len(pages) {
		return errors.New("symcache: range stream: pages miscounted")
	}
	if r := jobs[0].rec; len(jobs) == 1 && (forceSplit != 0 || len(pages) >= parallelPages && runtime.GOMAXPROCS(0) >= 2) {
		mid := len(pages) / 2 / groupPages * groupPages
		if forceSplit != 0 {
			mid = int(min(forceSplit, uint64(len(pages)))) / groupPages * groupPages
		}
		if mid > 0 && mid < len(pages) {
			jobs = []job{{r, 0, mid, 0}, {r, mid, len(pages), mid}}
		}
	}
	bounds := make([][2]int, len(jobs))
	for i, j := range jobs {
		bounds[i] = [2]int{j.at, j.at + j.to - j.from}
	}
	encs := a.partEncoders(codes, pages, bounds)
	defer closeTails(encs)
	err := runParts(len(jobs), func(i int) error { return encs[i].replay(jobs[i].rec, jobs[i].from, jobs[i].to) })
	if err != nil {
		return err
	}
	if err := joinParts(encs, pages, bounds); err != nil {
		return err
	}
	enc := encs[0]
	for _, c := range counts {
		enc.groups = append(enc.groups, c.rec.groups...)
		a.keepSpare(c.rec.syms)
		c.rec = nil
	}
	return a.finishStream(enc)
}

// partEncoders makes an encoder with codes for each part of the range
// stream, part i noting its pages' offsets in pages[bounds[i][0]:
// bounds[i][1]]: the first writes into the stream, the others into spills
// of their own (closeTails releases them), which joinParts joins to it
// in order. The parts note their offsets in their places of one
// directory, whose size is known: grown by appending, it was megabytes
// of garbage for a large input.
func (a *assembly) partEncoders(codes [numAlphabets]code, pages []uint32, bounds [][2]int) []*streamEnc {
	encs := make([]*streamEnc, len(bounds))
	for i, b := range bounds {
		encs[i] = &streamEnc{codes: codes, out: &a.stream, pages: pages[b[0]:b[0]:b[1]]}
		if i > 0 {
			encs[i].out = &spill{limit: a.stream.limit, pool: a.stream.pool}
		}
	}
	return encs
}

// closeTails releases the spills of the parts after the first.
func closeTails(encs []*streamEnc) {
	for _, e := range encs[1:] {
		e.out.close()
	}
}

// joinParts adds the bits of the parts after the first to the first's,
// checks that every part noted as many pages as its place in pages
// holds, in place, and gives the first the whole directory.
func joinParts(encs []*streamEnc, pages []uint32, bounds [][2]int) error {
	enc := encs[0]
	for _, tail := range encs[1:] {
		if err := enc.append(tail); err != nil {
			return err
		}
	}
	for i, e := range encs {
		if len(e.pages) != cap(e.pages) || len(e.pages) > 0 && &e.pages[0] != &pages[bounds[i][0]] {
			return errors.New("symcache: range stream: pages miscounted")
		}
	}
	enc.pages = pages
	return nil
}

// runParts runs part(i) for i in [0, n), each on a goroutine of its own
// but the first, and returns their errors.
func runParts(n int, part func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = part(i)
		}()
	}
	errs[0] = part(0)
	wg.Wait()
	return errors.Join(errs...)
}

// countParts runs the counting pass over parts, each on a goroutine of
// its own but the first, recording the symbols if record is set.
func (a *assembly) countParts(parts []pagePart, record bool) ([]*streamEnc, error) {
	counts := make([]*streamEnc, len(parts))
	for i := range counts {
		counts[i] = &streamEnc{counting: true}
		for k := range counts[i].freq {
			counts[i].freq[k] = make([]uint64, alphabetSize(k))
		}
		if record {
			// The bench fixture's entries take 3.3 symbols and 0.8
			// extra words each.
			n := a.nents / len(parts)
			counts[i].rec = &symRecord{syms: make([]uint16, 0, n*7/2), extras: make([]uint32, 0, n)}
		}
	}
	return counts, a.eachPart(parts, counts)
}

// finishStream ends the range stream enc wrote, with the directory of its
// pages and the codes.
func (a *assembly) finishStream(enc *streamEnc) error {
	enc.w.flush()
	enc.out.write(enc.w.out)
	enc.w.out = nil
	a.codes = enc.codes
	a.dir, a.dirW, a.groupW = packDir(enc.pages, enc.groups, 8*uint64(a.stream.size), a.nnodes)
	if a.dirW > maxColBits {
		return errTooLarge("page directory offset", int(a.dirW))
	}
	return a.stream.finish()
}

// parallelPages is the fewest pages encodePages splits between two
// goroutines: below it, starting one costs more than it saves.
const parallelPages = 4096

// forceSplit, when not 0, is the page encodePages splits at whatever the
// number of pages and processors: tests compare the outputs of every split
// with the single pass's.
var forceSplit uint64

// pagePart is the pages [from, to) of the range stream (to is npages
// for the last part, which also writes the stream's end), and the mark
// its entries are read from.
type pagePart struct {
	from, to uint64
	mark     entryMark
}

// splitPages cuts the pages in two parts at a group boundary near the
// middle when there are at least parallelPages pages and two processors
// (at forceSplit when it is set); else it returns one part of every page.
func (a *assembly) splitPages() []pagePart {
	switch {
	case forceSplit != 0:
		return a.splitAt(forceSplit)
	case a.npages < parallelPages || runtime.GOMAXPROCS(0) < 2:
		return a.splitAt(0)
	}
	return a.splitAt(a.npages / 2 / groupPages * groupPages)
}

// splitAt cuts the pages in two parts at page mid, which must start a
// group; mid 0 or past the last page gives one part.
func (a *assembly) splitAt(mid uint64) []pagePart {
	whole := []pagePart{{from: 0, to: a.npages}}
	if mid == 0 || mid >= a.npages || mid%groupPages != 0 || len(a.marks) == 0 {
		return whole
	}
	// The address page mid starts at, and the last mark at or before it:
	// the entry covering that address is at or after the mark.
	var ps uint64
	for _, r := range a.regions {
		if n := pageCount(r.end-r.start, a.shift); mid < uint64(r.firstPage)+n {
			ps = r.start + (mid-uint64(r.firstPage))<<a.shift
			break
		}
	}
	m := a.marks[0]
	for _, k := range a.marks[1:] {
		if k.start > ps {
			break
		}
		m = k
	}
	return []pagePart{{from: 0, to: mid}, {from: mid, to: a.npages, mark: m}}
}

// eachPart runs pagePass on every part, part i into encs[i], each on a
// goroutine of its own but the first, and returns their errors.
func (a *assembly) eachPart(parts []pagePart, encs []*streamEnc) error {
	return runParts(len(parts), func(i int) error { return a.pagePass(encs[i], parts[i], i == len(parts)-1) })
}

// pagePass encodes the pages of part into enc; the last part also notes
// the stream's end, as the start of a last, empty page. The bits are left
// in enc.w, and its full chunks in enc.out.
func (a *assembly) pagePass(enc *streamEnc, part pagePart, last bool) error {
	w := &entryWindow{er: a.entryReaderAt(part.mark), base: part.mark.index}
	var group groupStart // the state every page of the group starts from
	page := part.from
	// startPage notes page `page` starting here; the first of a group
	// starts a group with the page's first entry.
	startPage := func(first entry) error {
		if page > part.from {
			enc.endPage() // the page before
		}
		at := enc.w.bits
		if at > math.MaxUint32 {
			return errTooLarge("range stream", int(at/8))
		}
		if page%groupPages == 0 {
			group = startOf(first)
			switch {
			case !enc.counting:
				enc.groups = append(enc.groups, group)
			case enc.rec != nil:
				enc.rec.groups = append(enc.rec.groups, group)
				enc.rec.groupExtras = append(enc.rec.groupExtras, uint32(len(enc.rec.extras)))
			}
		}
		switch {
		case !enc.counting:
			enc.pages = append(enc.pages, uint32(at))
		case enc.rec != nil:
			enc.rec.pages = append(enc.rec.pages, uint32(len(enc.rec.syms)))
		}
		page++
		return nil
	}
	for _, r := range a.regions {
		pages := pageCount(r.end-r.start, a.shift)
		rp := uint64(r.firstPage)
		if rp+pages <= part.from {
			continue
		}
		if rp >= part.to {
			break
		}
		k := max(r.lo, part.mark.index)
		for p := part.from - min(part.from, rp); p < pages && rp+p < part.to; p++ {
			ps := r.start + p<<a.shift
			pe := r.end
			if r.end-ps > 1<<a.shift {
				pe = ps + 1<<a.shift
			}
			for k+1 < r.hi && w.at(k+1).start <= ps {
				k++
			}
			w.drop(k)
			first := w.at(k)
			if err := startPage(first); err != nil {
				return err
			}
			st := group.state()
			st.encode(enc, first, true)
			st.start = ps // the decoder counts from the page start
			j := k + 1
			for ; j < r.hi; j++ {
				e := w.at(j)
				if e.start >= pe {
					break
				}
				next := r.end
				if j+1 < r.hi {
					next = w.at(j + 1).start
				}
				st.encodeNext(enc, e, next > pe)
			}
			// The entries before j start before the next page: the
			// search for its first entry starts at the last of them.
			k = max(k, j-1)
			if !enc.counting && len(enc.w.out) >= spillChunk {
				enc.out.write(enc.w.out)
				enc.w.out = enc.w.out[:0]
			}
		}
	}
	if last {
		if err := startPage(entry{}); err != nil {
			return err
		}
	} else if page > part.from {
		enc.endPage()
	}
	return w.er.r.err
}

// append adds the bits tail encoded after enc's, and tail's group nodes
// after enc's; tail's page offsets, which follow enc's in the directory,
// are moved by the bits enc holds.
func (enc *streamEnc) append(tail *streamEnc) error {
	base := enc.w.bits
	for i, p := range tail.pages {
		at := base + uint64(p)
		if at > math.MaxUint32 {
			return errTooLarge("range stream", int(at/8))
		}
		tail.pages[i] = uint32(at)
	}
	enc.groups = append(enc.groups, tail.groups...)
	// tail's bits: whole bytes in its spill and its buffer, then the
	// fewer than 32 bits its writer holds back. encodePages closes its
	// spill. They go through enc's buffer a chunk at a time: a spill
	// kept in memory hands over its bytes in one piece, and the buffer,
	// grown to hold it, took libpython's build 1.1 MB of new memory.
	put := func(b []byte) error {
		for len(b) > 0 {
			k := min(len(b), spillChunk) // a multiple of 8 but for the last
			enc.w.putBytes(b[:k])
			b = b[k:]
			if len(enc.w.out) >= spillChunk {
				enc.out.write(enc.w.out)
				enc.w.out = enc.w.out[:0]
			}
		}
		return nil
	}
	if err := tail.out.finish(); err != nil {
		return err
	}
	if err := tail.out.each(put); err != nil {
		return err
	}
	put(tail.w.out)
	enc.w.put(tail.w.acc, tail.w.n)
	return nil
}

// packDir lays out the page directory from the pages' bit offsets, the
// state each group starts from, the stream's size in bits and the number
// of nodes: a block per group of groupPages pages, its first page's
// offset, its node, file and line, then the offset of each of its pages
// as its difference from the offset interpolated between the group's
// first page and the next group's (pageGuess), zigzag-coded in the
// fewest bits that hold every difference, so that the block of a page
// holds all that finding and starting it takes. Blocks are bit-packed:
// the offset takes the bits of the stream's size, the node those of the
// number of nodes, the file and the line those of the largest of any
// group's (the widths returned, for the header, after the fields').
func packDir(pages []uint32, groups []groupStart, total uint64, nnodes uint32) ([]byte, uint8, [2]uint8) {
	// The differences are found a group at a time, twice: for the
	// width, then for the writing.
	var diffs [groupPages]uint64
	var most uint64
	for g := 0; g*groupPages < len(pages); g++ {
		for _, d := range groupDiffs(&diffs, pages, g, total) {
			most = max(most, d)
		}
	}
	var file, line uint32
	for _, s := range groups {
		file, line = max(file, s.file), max(line, s.line)
	}
	width := uint8(bits.Len64(most))
	gw := [2]uint8{uint8(bits.Len32(file)), uint8(bits.Len32(line))}
	fw, nw := uint(bits.Len64(total)), uint(bits.Len32(nnodes))
	block := fw + nw + uint(gw[0]) + uint(gw[1]) + groupPages*uint(width)
	w := bitWriter{out: make([]byte, 0, bitBytes(uint64(len(groups)), uint64(block)))}
	for g, s := range groups {
		w.put(uint64(pages[g*groupPages]), fw)
		w.put(uint64(s.node), nw)
		w.put(uint64(s.file), uint(gw[0]))
		w.put(uint64(s.line), uint(gw[1]))
		d := groupDiffs(&diffs, pages, g, total)
		for k := range groupPages {
			var v uint64 // fields past the last page are 0
			if k < len(d) {
				v = d[k]
			}
			w.put(v, uint(width))
		}
	}
	w.flush()
	return w.out, width, gw
}

// groupDiffs returns, in diffs, the zigzag-coded differences of the pages
// of group g from their offsets interpolated (pageGuess): packDir's
// fields of the group's pages.
func groupDiffs(diffs *[groupPages]uint64, pages []uint32, g int, total uint64) []uint64 {
	lo := g * groupPages
	hi := min(lo+groupPages, len(pages))
	first, next := groupSpan(pages, lo, total)
	for k := lo; k < hi; k++ {
		diffs[k-lo] = zigzag64(int64(uint64(pages[k]) - pageGuess(first, next, uint64(k))))
	}
	return diffs[:hi-lo]
}

// groupSpan returns the bit offsets of the first page of page k's group
// and of the next group's, or total for the last group.
func groupSpan(pages []uint32, k int, total uint64) (uint64, uint64) {
	g := k / groupPages
	next := total
	if n := (g + 1) * groupPages; n < len(pages) {
		next = uint64(pages[n])
	}
	return uint64(pages[g*groupPages]), next
}

// pageGuess interpolates the bit offset of page k between the offsets of
// the first page of its group, first, and of the next group, next (or
// the end of the stream).
func pageGuess(first, next, k uint64) uint64 {
	if next < first {
		return first
	}
	return first + (next-first)*(k%groupPages)/groupPages
}

// zigzag64 is zigzag for 64-bit differences.
func zigzag64(d int64) uint64 { return uint64(d<<1) ^ uint64(d>>63) }
