package symcache

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"math/bits"

	"github.com/cairn-dev/cairn/debugfiles"
)

// castagnoli is the CRC-32C table; Go computes it with the CPU's CRC
// instructions where they exist (several GB/s).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Write builds the symcache of obj's debug information (DWARF, PDB,
// Breakpad records, or the symbol table of an object without debug
// information) and writes it to w. Functions are consumed one at a time
// from the object's debug session.
func Write(w io.Writer, obj debugfiles.Object, opts Options) error {
	s, err := obj.DebugSession()
	if err != nil {
		return fmt.Errorf("symcache: %s: %w", obj.Name(), err)
	}
	defer s.Close()
	b := NewBuilder(InfoOf(obj), opts)
	if err := b.AddAll(s.Functions()); err != nil {
		return fmt.Errorf("symcache: %s: %w", obj.Name(), err)
	}
	_, err = b.WriteTo(w)
	return err
}

// AddAll adds every function of a debug session's sequence, stopping at
// its first error. Reading the debug information and flattening run on
// two goroutines, handing over batches of trees: a tree is not touched by
// the reader after it was yielded (debugfiles.NewIndex relies on that as
// well), so the work overlaps on two cores.
func (b *Builder) AddAll(seq iter.Seq2[*debugfiles.Function, error]) error {
	const batch = 256
	ch := make(chan []*debugfiles.Function, 4)
	var err error
	go func() {
		defer close(ch)
		buf := make([]*debugfiles.Function, 0, batch)
		for f, e := range seq {
			if e != nil {
				err = e
				return
			}
			buf = append(buf, f)
			if len(buf) == batch {
				ch <- buf
				buf = make([]*debugfiles.Function, 0, batch)
			}
		}
		if len(buf) > 0 {
			ch <- buf
		}
	}()
	for fs := range ch {
		for _, f := range fs {
			b.Add(f)
		}
	}
	return err // written before ch was closed
}

// region is a run of the address space without large gaps, with its own
// pages of the directory.
type region struct {
	start, end uint64
	firstPage  uint32
	lo, hi     int // its entries
}

// WriteTo writes the symcache. The Builder should not be used afterwards.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	ents, end := b.resolve()
	b.entries, b.spans = nil, nil

	// Renumber what the final ranges reach, in order of first appearance,
	// so that neighbouring entries have nearby node ids (small deltas) and
	// functions shadowed by others are left out.
	nodeMap := make([]uint32, len(b.nodes)+1) // old id+1 -> new id+1
	var nodes []node
	funcMap := make([]uint32, len(b.funcNames)) // old -> new id+1
	var funcs []string
	fileMap := make([]uint32, len(b.paths)+1) // old id+1 -> new id+1
	var files []string
	mapFile := func(f uint32) uint32 {
		if f == 0 {
			return 0
		}
		if fileMap[f] == 0 {
			files = append(files, b.paths[f-1])
			fileMap[f] = uint32(len(files))
		}
		return fileMap[f]
	}
	mapNode := func(id uint32) uint32 {
		if id == 0 {
			return 0
		}
		if nodeMap[id] != 0 {
			return nodeMap[id]
		}
		// Parents first, iteratively: chains are at most maxChain deep.
		var chain [maxChain]uint32
		n := 0
		for p := id; p != 0 && nodeMap[p] == 0 && n < maxChain; p = b.nodes[p-1].parent {
			chain[n] = p
			n++
		}
		for k := n - 1; k >= 0; k-- {
			old := b.nodes[chain[k]-1]
			nd := old
			if funcMap[old.fn] == 0 {
				funcs = append(funcs, b.funcNames[old.fn])
				funcMap[old.fn] = uint32(len(funcs))
			}
			nd.fn = funcMap[old.fn] - 1
			nd.parent = nodeMap[old.parent]
			nd.callFile = mapFile(old.callFile)
			nodes = append(nodes, nd)
			nodeMap[chain[k]] = uint32(len(nodes))
		}
		return nodeMap[id]
	}
	for i := range ents {
		ents[i].node = mapNode(ents[i].node)
		ents[i].file = mapFile(ents[i].file)
	}
	b.nodes = nil

	// Strings: interned, offset 0 is the empty string.
	st := stringTable{ids: map[string]uint32{}, data: []byte{0}}
	fileRecs := make([]byte, 0, len(files)*fileRecord)
	for _, p := range files {
		dir, name := splitPath(p)
		fileRecs = binary.LittleEndian.AppendUint32(fileRecs, st.add(dir))
		fileRecs = binary.LittleEndian.AppendUint32(fileRecs, st.add(name))
	}
	funcRecs := make([]byte, 0, len(funcs)*funcRecord)
	for _, name := range funcs {
		funcRecs = binary.LittleEndian.AppendUint32(funcRecs, st.add(name))
		funcRecs = append(funcRecs, byte(languageOf(name)))
	}

	// Sites: what nodes share (function and call site), deduplicated.
	type site struct{ fn, callFile, callLine uint32 }
	siteIDs := map[site]uint32{}
	var sites []site
	nodeSite := make([]uint32, len(nodes))
	for i, n := range nodes {
		k := site{n.fn, n.callFile, n.callLine}
		id, ok := siteIDs[k]
		if !ok {
			id = uint32(len(sites))
			siteIDs[k] = id
			sites = append(sites, k)
		}
		nodeSite[i] = id
	}
	// Node and site tables with the narrowest column widths that hold
	// every value. A node's parent is stored as the distance back to it
	// (parents are numbered before their children), which is small.
	cols := make([][numCols]uint64, 0, max(len(nodes), len(sites)))
	var widths [numCols]uint8
	var maxv [numCols]uint64
	// A node's address is stored as its distance from its parent's (shifted
	// left one bit), which is small: inlined ranges lie inside their
	// caller. Top-level nodes, and any node starting before its parent,
	// store an index into the table of absolute addresses instead (low bit
	// set).
	var abs []uint64
	for i, n := range nodes {
		var v [numCols]uint64
		v[colSite] = uint64(nodeSite[i])
		if n.parent != 0 && n.addr >= nodes[n.parent-1].addr && n.addr-nodes[n.parent-1].addr < 1<<62 {
			v[colAddr] = (n.addr - nodes[n.parent-1].addr) << 1
		} else {
			v[colAddr] = uint64(len(abs))<<1 | 1
			abs = append(abs, n.addr)
		}
		if n.parent != 0 {
			v[colParent] = uint64(uint32(i+1) - n.parent)
		}
		for c := range numNodeCols {
			maxv[c] = max(maxv[c], v[c])
		}
		cols = append(cols, v)
	}
	for _, st := range sites {
		maxv[colFunc] = max(maxv[colFunc], uint64(st.fn))
		maxv[colCallFile] = max(maxv[colCallFile], uint64(st.callFile))
		maxv[colCallLine] = max(maxv[colCallLine], uint64(st.callLine))
	}
	nodeRow, siteRow := 0, 0
	for i, v := range maxv {
		widths[i] = uint8((bits.Len64(v) + 7) / 8)
		if i < numNodeCols {
			nodeRow += int(widths[i])
		} else {
			siteRow += int(widths[i])
		}
	}
	nodeRecs := make([]byte, 0, len(nodes)*nodeRow)
	for _, v := range cols {
		for c := range numNodeCols {
			nodeRecs = appendN(nodeRecs, v[c], int(widths[c]))
		}
	}
	var maxAbs uint64
	for _, a := range abs {
		maxAbs = max(maxAbs, a)
	}
	absWidth := (bits.Len64(maxAbs) + 7) / 8
	absRecs := make([]byte, 0, len(abs)*absWidth)
	for _, a := range abs {
		absRecs = appendN(absRecs, a, absWidth)
	}
	siteRecs := make([]byte, 0, len(sites)*siteRow)
	for _, st := range sites {
		siteRecs = appendN(siteRecs, uint64(st.fn), int(widths[colFunc]))
		siteRecs = appendN(siteRecs, uint64(st.callFile), int(widths[colCallFile]))
		siteRecs = appendN(siteRecs, uint64(st.callLine), int(widths[colCallLine]))
	}

	shift, regions := layout(ents, end, b.opts.PageEntries)
	var npages uint64
	for i := range regions {
		regions[i].firstPage = uint32(npages)
		npages += pageCount(regions[i].end-regions[i].start, shift)
	}
	if npages >= math.MaxUint32/4 {
		return 0, errTooLarge("page directory", int(npages))
	}
	regionRecs := make([]byte, 0, len(regions)*regionRecord)
	for _, r := range regions {
		regionRecs = binary.LittleEndian.AppendUint64(regionRecs, r.start)
		regionRecs = binary.LittleEndian.AppendUint64(regionRecs, r.end)
		regionRecs = binary.LittleEndian.AppendUint32(regionRecs, r.firstPage)
	}
	dir := make([]byte, 0, 4*(npages+1))
	stream := make([]byte, 0, len(ents)*3)
	for _, r := range regions {
		k := r.lo
		pages := pageCount(r.end-r.start, shift)
		for p := uint64(0); p < pages; p++ {
			if uint64(len(stream)) > math.MaxUint32 {
				return 0, errTooLarge("range stream", len(stream))
			}
			dir = binary.LittleEndian.AppendUint32(dir, uint32(len(stream)))
			ps := r.start + p<<shift
			pe := r.end
			if r.end-ps > 1<<shift {
				pe = ps + 1<<shift
			}
			for k+1 < r.hi && ents[k+1].start <= ps {
				k++
			}
			var st state
			stream = st.encode(stream, ents[k], true)
			st.start = ps // the decoder counts from the page start
			for j := k + 1; j < r.hi && ents[j].start < pe; j++ {
				stream = st.encode(stream, ents[j], false)
			}
		}
	}
	dir = binary.LittleEndian.AppendUint32(dir, uint32(len(stream)))

	// Sections follow the header in this order.
	sections := [][]byte{st.data, fileRecs, funcRecs, siteRecs, nodeRecs, absRecs, regionRecs, dir, stream}
	size := uint64(headerSize)
	offs := make([]uint32, len(sections))
	for i, s := range sections {
		offs[i] = uint32(size)
		size += uint64(len(s))
	}
	if size > math.MaxUint32 {
		return 0, errTooLarge("file", int(size))
	}
	var h [headerSize]byte
	copy(h[offMagic:], magic)
	le := binary.LittleEndian
	le.PutUint32(h[offVersion:], Version)
	le.PutUint32(h[offHeaderSize:], headerSize)
	le.PutUint64(h[offLoadAddress:], b.info.LoadAddress)
	copy(h[offGUID:offGUID+16], b.info.DebugID.GUID[:])
	le.PutUint32(h[offAge:], b.info.DebugID.Age)
	h[offFormat] = byte(b.info.Format)
	h[offPageShift] = shift
	copy(h[offWidths:offWidths+numCols], widths[:])
	copy(h[offArch:offArch+archLen], b.info.Arch)
	put := func(off int, a, c uint32) { le.PutUint32(h[off:], a); le.PutUint32(h[off+4:], c) }
	put(offStrings, offs[0], uint32(len(st.data)))
	put(offFiles, offs[1], uint32(len(files)))
	put(offFuncs, offs[2], uint32(len(funcs)))
	put(offSites, offs[3], uint32(len(sites)))
	put(offNodes, offs[4], uint32(len(nodes)))
	put(offAbs, offs[5], uint32(len(abs)))
	h[offAbsWidth] = byte(absWidth)
	put(offRegions, offs[6], uint32(len(regions)))
	put(offDir, offs[7], uint32(npages))
	put(offStream, offs[8], uint32(len(stream)))
	le.PutUint32(h[offEntries:], uint32(min(len(ents), math.MaxUint32)))
	le.PutUint32(h[offFileSize:], uint32(size))

	crc := crc32.Update(0, castagnoli, h[:offChecksum])
	crc = crc32.Update(crc, castagnoli, h[offChecksum+4:])
	for _, s := range sections {
		crc = crc32.Update(crc, castagnoli, s)
	}
	le.PutUint32(h[offChecksum:], crc)

	bw := bufio.NewWriterSize(w, 1<<16)
	n, err := bw.Write(h[:])
	total := int64(n)
	for _, s := range sections {
		if err != nil {
			break
		}
		n, err = bw.Write(s)
		total += int64(n)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return total, fmt.Errorf("symcache: write: %w", err)
	}
	return total, nil
}

// layout chooses the page size and cuts the entries into regions at gaps
// so long that paging through them would waste directory space.
func layout(ents []entry, end uint64, perPage int) (uint8, []region) {
	if perPage <= 0 {
		perPage = 16
	}
	if len(ents) == 0 {
		return 0, nil
	}
	// The page size follows the code that functions cover, not the span
	// of the address space: a lone function far away must not make every
	// page huge. Gaps of 16 pages or more then separate regions.
	var covered uint64
	for i, e := range ents {
		next := end
		if i+1 < len(ents) {
			next = ents[i+1].start
		}
		if e.node != 0 {
			covered += next - e.start
		}
	}
	shift := pageShift(covered, len(ents), perPage)
	minGap := uint64(math.MaxUint64)
	if shift < 60 {
		minGap = uint64(16) << shift
	}
	regions := cut(ents, end, minGap)
	return shift, regions
}

// pageShift is log2 of the page size that puts about perPage entries on a
// page.
func pageShift(covered uint64, n, perPage int) uint8 {
	per := covered / uint64(max(n, 1)) * uint64(perPage)
	if per == 0 {
		per = 1
	}
	s := bits.Len64(per) - 1
	return uint8(min(max(s, 0), 63))
}

// pageCount is the number of pages of 1<<shift bytes covering n bytes.
func pageCount(n uint64, shift uint8) uint64 {
	c := n >> shift
	if n&(1<<shift-1) != 0 {
		c++
	}
	return c
}

// cut splits the entries into regions at gap entries of at least minGap
// bytes; gaps at the ends are left out.
func cut(ents []entry, end uint64, minGap uint64) []region {
	var out []region
	start := -1
	for i, e := range ents {
		next := end
		if i+1 < len(ents) {
			next = ents[i+1].start
		}
		if e.node == 0 && (next-e.start >= minGap || i+1 == len(ents)) {
			if start >= 0 {
				out = append(out, region{start: ents[start].start, end: e.start, lo: start, hi: i})
				start = -1
			}
			continue
		}
		if start < 0 {
			if e.node == 0 {
				continue // a short gap before anything: skip it
			}
			start = i
		}
	}
	if start >= 0 {
		out = append(out, region{start: ents[start].start, end: end, lo: start, hi: len(ents)})
	}
	return out
}

// state is the decoder's state an entry is encoded against.
type state struct {
	start uint64
	node  uint32
	file  uint32
	line  uint32
	m     model
}

// encode appends e as an entry following s (or as the first entry of a
// page, which starts from the zero state and whose start is the page's).
// File and line are coded against the model's prediction (recall.go).
func (s *state) encode(out []byte, e entry, first bool) []byte {
	tag := byte(0)
	var delta uint64
	if !first {
		delta = e.start - s.start
		if delta < 16 {
			tag |= byte(delta)
		}
	}
	predFile, predLine, hit := s.file, s.line, true
	if e.node != s.node {
		tag |= tagNode
		predFile, predLine, hit = s.m.nodes.switchTo(s.node, s.file, s.line, e.node)
	}
	if e.file != predFile {
		tag |= tagFile
	}
	base := s.m.lineBase(e.file, predFile, hit, predLine, s.line)
	code := lineDelta
	switch e.line {
	case base:
		code = lineSame
	case base + 1:
		code = lineNext
	case 0:
		code = lineZero
	}
	tag |= byte(code) << tagLineShift
	out = append(out, tag)
	if !first && delta >= 16 {
		out = binary.AppendUvarint(out, delta)
	}
	if e.node != s.node {
		out = binary.AppendVarint(out, int64(int32(e.node-s.node)))
	}
	if e.file != predFile {
		out = binary.AppendUvarint(out, uint64(e.file))
	}
	if code == lineDelta {
		out = binary.AppendVarint(out, int64(int32(e.line-base)))
	}
	s.m.files.put(e.file, e.line)
	s.start, s.node, s.file, s.line = e.start, e.node, e.file, e.line
	return out
}

// appendN appends the low n bytes of v, little-endian.
func appendN(b []byte, v uint64, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// splitPath cuts a path after its last separator: the directory keeps the
// separator, so that dir+name is the path again, byte for byte.
func splitPath(p string) (dir, name string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			return p[:i+1], p[i+1:]
		}
	}
	return "", p
}

// stringTable interns strings, each stored as a uvarint length and bytes.
type stringTable struct {
	ids  map[string]uint32
	data []byte
}

func (t *stringTable) add(s string) uint32 {
	if s == "" {
		return 0
	}
	if id, ok := t.ids[s]; ok {
		return id
	}
	id := uint32(len(t.data))
	t.data = binary.AppendUvarint(t.data, uint64(len(s)))
	t.data = append(t.data, s...)
	t.ids[s] = id
	return id
}
