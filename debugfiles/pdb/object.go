package pdb

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Object is one PDB file seen through the debugfiles view. Opening it reads
// the MSF directory, the PDB info stream, the DBI stream and the section
// headers; publics, module streams, line tables and type records are read
// when asked for. An Object is safe for concurrent use; for an Object from
// Open, nothing it returns may be used after Close.
type Object struct {
	m      *msf
	closer io.Closer
	name   string
	// file is the PDB opened once more beside its mapping (an Object
	// from Open): scattered small reads go through it, which costs a
	// system call each but leaves no page of the mapping resident.
	file *os.File

	info     *Info
	dbi      *dbi // nil when the PDB has no DBI stream
	sections []SectionHeader
	am       addressMap
	features debugfiles.Features

	// pubMu guards the publics, read on the first call to Publics.
	pubMu   sync.Mutex
	pubDone bool
	pubs    []Public
	pubErr  error
}

var _ debugfiles.Object = (*Object)(nil)

// Open memory-maps the PDB at path and reads its headers; it also keeps
// the file open for the reads that would leave scattered pages of the
// mapping resident. Close releases both.
func Open(path string) (*Object, error) {
	f, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pdb: %w", err)
	}
	o, err := NewObject(f, int64(f.Len()), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	o.closer = f
	o.m.mapped = o.m.data != nil
	if o.m.mapped {
		// Without it, reads go to the mapping.
		if file, err := os.Open(path); err == nil {
			o.file = file
		}
	}
	return o, nil
}

// NewObject reads a PDB of the given size from r; name is what Name
// reports. Close does not close r. When r holds the whole file in memory
// (it has a Bytes method, as a memory-mapped file does) streams are read
// from it without copying.
func NewObject(r io.ReaderAt, size int64, name string) (*Object, error) {
	m, err := openMSF(r, size)
	if err != nil {
		if errors.Is(err, ErrNotPDB) {
			return nil, fmt.Errorf("%w: %s", ErrNotPDB, name)
		}
		return nil, err
	}
	o := &Object{m: m, name: name}
	s, err := m.stream(streamInfo)
	if err != nil {
		return nil, fmt.Errorf("pdb: info stream: %w", err)
	}
	data, err := s.all()
	if err != nil {
		return nil, fmt.Errorf("pdb: info stream: %w", err)
	}
	if o.info, err = parseInfo(data); err != nil {
		return nil, fmt.Errorf("pdb: info stream: %w", err)
	}
	if s, err := m.stream(streamDBI); err == nil && s.size > 0 {
		data, err := s.all()
		if err != nil {
			return nil, fmt.Errorf("pdb: dbi stream: %w", err)
		}
		if o.dbi, err = parseDBI(data); err != nil {
			return nil, fmt.Errorf("pdb: dbi stream: %w", err)
		}
		if err := o.readSections(); err != nil {
			return nil, err
		}
	}
	o.features = o.computeFeatures()
	return o, nil
}

// readSections reads the image section headers and, when the image was
// rewritten after linking, the original section headers and the OMAP that
// translates addresses.
func (o *Object) readSections() error {
	b, idx, err := o.debugStream(dbgSectionHdr)
	if err != nil {
		return fmt.Errorf("pdb: section headers: %w", err)
	}
	if o.sections, err = parseSectionHeaders(b, idx); err != nil {
		return fmt.Errorf("pdb: section headers: %w", err)
	}
	o.am.sections = o.sections
	omapB, omapIdx, err := o.debugStream(dbgOmapFromSrc)
	if err != nil {
		return fmt.Errorf("pdb: omap: %w", err)
	}
	origB, origIdx, err := o.debugStream(dbgSectionHdrOrig)
	if err != nil {
		return fmt.Errorf("pdb: original section headers: %w", err)
	}
	if omapIdx < 0 || origIdx < 0 || len(omapB) == 0 {
		return nil
	}
	orig, err := parseSectionHeaders(origB, origIdx)
	if err != nil {
		return fmt.Errorf("pdb: original section headers: %w", err)
	}
	omap, err := parseOMAP(omapB, omapIdx)
	if err != nil {
		return fmt.Errorf("pdb: omap: %w", err)
	}
	o.am = addressMap{sections: orig, omap: omap}
	return nil
}

// computeFeatures: a symbol table when the publics stream or the symbol
// record stream has data, debug information when a module has symbols or
// C13 lines, unwind information when FPO or frame data were copied in.
func (o *Object) computeFeatures() debugfiles.Features {
	var f debugfiles.Features
	if o.dbi == nil {
		return f
	}
	if o.dbi.publicStream != noStream && o.m.hasStream(int(o.dbi.publicStream)) {
		f |= debugfiles.FeatureSymtab
	}
	for i := range o.dbi.modules {
		m := &o.dbi.modules[i]
		if m.Stream >= 0 && o.m.hasStream(m.Stream) && (m.SymBytes > 4 || m.C13Bytes > 0) {
			f |= debugfiles.FeatureDebug
			break
		}
	}
	for _, slot := range []int{dbgFPO, dbgNewFPO} {
		if idx := o.dbi.dbgStreams[slot]; idx != noStream && o.m.hasStream(int(idx)) {
			f |= debugfiles.FeatureUnwind
		}
	}
	return f
}

// Close releases the file mapping and the open file of an Object from
// Open; later reads fail. It must not be called while a session reads.
func (o *Object) Close() error {
	if o.closer == nil {
		return nil
	}
	c := o.closer
	o.closer = nil
	var ferr error
	if o.file != nil {
		ferr = o.file.Close()
		o.file = nil
	}
	// Reads after Close fail instead of touching the unmapped file.
	o.m.r, o.m.data = nil, nil
	if err := c.Close(); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("pdb: %w", ferr)
	}
	return nil
}

// Format is FormatPDB.
func (o *Object) Format() debugfiles.Format { return debugfiles.FormatPDB }

// Kind is KindDebug: a PDB is always a debug companion.
func (o *Object) Kind() debugfiles.Kind { return debugfiles.KindDebug }

// Arch names the DBI machine type in Sentry's spelling, "unknown" without
// a DBI stream or for machines Cairn does not name.
func (o *Object) Arch() string {
	if o.dbi == nil {
		return "unknown"
	}
	return archName(o.dbi.machine)
}

// Machine is the DBI header's machine type (IMAGE_FILE_MACHINE_*), 0
// without a DBI stream.
func (o *Object) Machine() uint16 {
	if o.dbi == nil {
		return 0
	}
	return o.dbi.machine
}

// DebugID is the GUID of the PDB info stream with the age of the DBI
// stream, as Sentry computes it: tools that rewrite a PDB bump the info
// stream's age without touching the image, whose CodeView record keeps
// the DBI age. Without a DBI stream the info stream's age is used.
func (o *Object) DebugID() debugid.ID {
	age := o.info.Age
	if o.dbi != nil {
		age = o.dbi.age
	}
	return debugid.FromGUID(o.info.GUID, age)
}

// CodeID is "": a PDB does not record the image's time stamp and size.
func (o *Object) CodeID() string { return "" }

// Name is the name the object was opened with.
func (o *Object) Name() string { return o.name }

// DebugFile is "": a PDB is itself the debug file.
func (o *Object) DebugFile() string { return "" }

// Features reports what the PDB contributes; see computeFeatures.
func (o *Object) Features() debugfiles.Features { return o.features }

// LoadAddress is 0: every address a PDB reports is an image RVA.
func (o *Object) LoadAddress() uint64 { return 0 }

// Info returns the PDB info stream.
func (o *Object) Info() *Info { return o.info }

// Age is the age of the DBI stream (the one DebugID uses), or the info
// stream's without a DBI stream.
func (o *Object) Age() uint32 { return o.DebugID().Age }

// NumStreams is the number of streams the MSF directory lists.
func (o *Object) NumStreams() int { return len(o.m.streams) }

// StreamSize is the size of stream i, or -1 for a nil or absent stream.
func (o *Object) StreamSize(i int) int64 {
	s, err := o.m.stream(i)
	if err != nil {
		return -1
	}
	return int64(s.size)
}

// BlockSize is the MSF block size.
func (o *Object) BlockSize() uint32 { return o.m.blockSize }

// NumBlocks is the number of MSF blocks the superblock declares.
func (o *Object) NumBlocks() uint32 { return o.m.numBlocks }

// Modules lists the DBI module infos, nil without a DBI stream. The slice
// must not be modified.
func (o *Object) Modules() []Module {
	if o.dbi == nil {
		return nil
	}
	return o.dbi.modules
}

// SectionHeaders returns the image section headers the PDB carries. The
// slice must not be modified.
func (o *Object) SectionHeaders() []SectionHeader { return o.sections }

// HasOMAP reports whether addresses are translated through an OMAP.
func (o *Object) HasOMAP() bool { return o.am.omap != nil }

// SectionContributions decodes the DBI section contribution substream.
func (o *Object) SectionContributions() ([]SectionContribution, error) {
	if o.dbi == nil {
		return nil, nil
	}
	c, err := o.dbi.sectionContributions()
	if err != nil {
		return nil, fmt.Errorf("pdb: dbi stream: %w", err)
	}
	return c, nil
}

// SectionMap decodes the DBI section map substream.
func (o *Object) SectionMap() ([]SectionMapEntry, error) {
	if o.dbi == nil {
		return nil, nil
	}
	m, err := o.dbi.sectionMap()
	if err != nil {
		return nil, fmt.Errorf("pdb: dbi stream: %w", err)
	}
	return m, nil
}

// RVA translates a segment:offset address of the PDB to an image RVA; ok
// is false when the segment is unknown or the address was removed by a
// post-link optimizer.
func (o *Object) RVA(segment uint16, offset uint32) (uint64, bool) {
	r, ok := o.am.rva(segment, offset)
	return uint64(r), ok
}

// Publics returns the public symbols (S_PUB32) sorted by RVA; the slice
// must not be modified.
func (o *Object) Publics() ([]Public, error) {
	o.pubMu.Lock()
	defer o.pubMu.Unlock()
	if !o.pubDone {
		o.pubs, o.pubErr = o.readPublics()
		o.pubDone = true
	}
	return o.pubs, o.pubErr
}

// Symbols yields the public symbols in executable sections (or flagged as
// code where the PDB has no section headers) sorted by address, as
// Sentry's symbol table of a PDB has them. Sizes are not recorded.
func (o *Object) Symbols() iter.Seq[debugfiles.Symbol] {
	return func(yield func(debugfiles.Symbol) bool) {
		pubs, _ := o.Publics()
		for i := range pubs {
			p := &pubs[i]
			if !p.HasRVA || !o.isCode(p) {
				continue
			}
			if !yield(debugfiles.Symbol{Name: p.Name, Address: p.RVA}) {
				return
			}
		}
	}
}

// isCode reports whether a public names code: by the characteristics of
// its section when the PDB has section headers, else by its flags.
func (o *Object) isCode(p *Public) bool {
	secs := o.am.sections
	if len(secs) == 0 {
		return p.IsCode()
	}
	if p.Segment == 0 || int(p.Segment) > len(secs) {
		return false
	}
	return secs[p.Segment-1].Executable()
}
