package stackwalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/internal/atomicfile"
)

// SymbolPaths is a Modules over local directories. Each path may be:
//
//   - a Breakpad symbol store: <debug file>/<DEBUGID>/<name>.sym, where
//     name is the debug file's name with ".pdb" removed or ".sym" added
//     (Breakpad's SimpleSymbolSupplier layout);
//   - a cache directory of the same layout holding <name>.symcache and
//     <name>.cficache files;
//   - any directory of debug files (ELF binaries and .debug files, Mach-O
//     binaries and dSYMs, PE images, PDBs, .sym files, caches) under any
//     names: on the first module the layouts above do not answer, the
//     directories are indexed once by debug id and code id. A file in
//     the layouts above is indexed, unread, under the debug id its place
//     names, as the layouts' own lookups trust it.
//
// With CacheDir set, caches are read from it first, and debug information
// found elsewhere is converted into a symcache and a cficache there, so
// that the next walk of a dump with the same modules only maps files.
type SymbolPaths struct {
	Paths []string
	// CacheDir is where derived caches are read and written; "" keeps
	// everything in memory.
	CacheDir string
	// Options apply to Breakpad symbol files read directly.
	Options SymbolFileOptions
	// StoreOnly looks only where the store and cache layouts say, as
	// Breakpad's symbol supplier does, without indexing directories.
	StoreOnly bool
	// MaxIndexedFiles bounds how many files the directory index opens;
	// 0 means 100000.
	MaxIndexedFiles int

	mu      sync.Mutex
	indexed bool
	byDebug map[debugid.ID][]candidate
	byCode  map[string][]candidate
	closers []io.Closer
}

// candidate is a file the index found for an identifier.
type candidate struct {
	path     string
	kind     candKind
	features debugfiles.Features
}

type candKind uint8

const (
	candSym candKind = iota
	candSymcache
	candCficache
	candObject
)

var _ Modules = (*SymbolPaths)(nil)

// Close releases every file opened for the walks.
func (p *SymbolPaths) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c.Close())
	}
	p.closers = nil
	return errors.Join(errs...)
}

func (p *SymbolPaths) keep(c io.Closer) {
	p.mu.Lock()
	p.closers = append(p.closers, c)
	p.mu.Unlock()
}

// leafName is the last path element of a Windows or Unix path.
func leafName(path string) string {
	return path[strings.LastIndexAny(path, `/\`)+1:]
}

// storeStem is the symbol file's name without extension in a Breakpad
// store: the debug file's name with ".pdb" removed, else unchanged.
func storeStem(leaf string) string {
	if len(leaf) > 4 && strings.EqualFold(leaf[len(leaf)-4:], ".pdb") {
		return leaf[:len(leaf)-4]
	}
	return leaf
}

// StorePath is where a Breakpad store rooted at root keeps a module's
// file with the given extension (".sym", ".symcache", ".cficache"); "" when
// the module has no debug file name or identifier.
func StorePath(root string, m *Module, ext string) string {
	leaf := leafName(m.DebugFile)
	if leaf == "" || m.DebugID == "" {
		return ""
	}
	return filepath.Join(root, leaf, m.DebugID, storeStem(leaf)+ext)
}

// Find implements Modules.
func (p *SymbolPaths) Find(ctx context.Context, m *Module) Debug {
	if p.CacheDir != "" {
		if d, ok := p.openCaches(StorePath(p.CacheDir, m, ".symcache"), StorePath(p.CacheDir, m, ".cficache")); ok {
			return d
		}
	}
	for _, root := range p.Paths {
		if sym := StorePath(root, m, ".sym"); sym != "" && isFile(sym) {
			return p.fromSymbolFile(sym, m)
		}
		if d, ok := p.openCaches(StorePath(root, m, ".symcache"), StorePath(root, m, ".cficache")); ok {
			return d
		}
	}
	if p.StoreOnly {
		return Debug{}
	}
	return p.fromIndex(ctx, m)
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// openCaches opens a symcache and a cficache; either may be missing.
func (p *SymbolPaths) openCaches(symPath, cfiPath string) (Debug, bool) {
	var d Debug
	if symPath != "" && isFile(symPath) {
		c, err := symcache.Open(symPath)
		if err == nil {
			if err = c.Verify(); err != nil {
				c.Close()
			}
		}
		if err != nil {
			d.SymbolStatus = StatusMalformed
		} else {
			p.keep(c)
			d.Symbols, d.Source = NewSymcacheSymbols(c), symPath
		}
	}
	if cfiPath != "" && isFile(cfiPath) {
		c, err := cficache.Open(cfiPath)
		if err == nil {
			if err = c.Verify(); err != nil {
				c.Close()
			}
		}
		if err != nil {
			d.UnwindStatus = StatusMalformed
		} else {
			p.keep(c)
			if rows, win, params := c.Counts(); rows+win+params > 0 {
				d.Unwinder = CacheUnwinder{c}
			}
			if d.Source == "" {
				d.Source = cfiPath
			}
		}
	}
	return d, d.Symbols != nil || d.Unwinder != nil
}

// fromSymbolFile reads a Breakpad symbol file, converting it into caches
// when there is a cache directory.
func (p *SymbolPaths) fromSymbolFile(path string, m *Module) Debug {
	if p.CacheDir != "" {
		if d, ok := p.convert(m, path, path); ok {
			return d
		}
	}
	sf, err := OpenSymbolFile(path, p.Options)
	if err != nil {
		return Debug{SymbolStatus: StatusMalformed, UnwindStatus: StatusMalformed, Source: path}
	}
	p.keep(sf)
	d := Debug{Symbols: sf, Corrupt: sf.Corrupt(), Source: path}
	if sf.HasUnwind() {
		d.Unwinder = sf
	}
	return d
}

// convert builds a symcache from symPath and a cficache from cfiPath into
// the cache directory, then opens them.
func (p *SymbolPaths) convert(m *Module, symPath, cfiPath string) (Debug, bool) {
	symOut, cfiOut := StorePath(p.CacheDir, m, ".symcache"), StorePath(p.CacheDir, m, ".cficache")
	if symOut == "" {
		return Debug{}, false
	}
	if err := os.MkdirAll(filepath.Dir(symOut), 0o755); err != nil {
		return Debug{}, false
	}
	id, _ := debugid.Parse(m.DebugID)
	build := func(src, out string, write func(io.Writer, debugfiles.Object) error) {
		if src == "" {
			return
		}
		a, err := loader.Open(src)
		if err != nil {
			return
		}
		defer a.Close()
		for _, o := range a.Objects {
			if !id.IsZero() && len(a.Objects) > 1 && o.DebugID() != id {
				continue
			}
			_ = atomicfile.Write(out, func(w io.Writer) error { return write(w, o) })
			return
		}
	}
	build(symPath, symOut, func(w io.Writer, o debugfiles.Object) error {
		if bo, ok := o.(*breakpad.Object); ok {
			return WriteSymbolFileSymcache(w, bo, p.Options)
		}
		return symcache.Write(w, o, symcache.Options{})
	})
	build(cfiPath, cfiOut, func(w io.Writer, o debugfiles.Object) error { _, err := cficache.Write(w, o); return err })
	return p.openCaches(symOut, cfiOut)
}

// fromIndex finds the module among the indexed files: symbols from the
// best candidate (a symcache, a symbol file, an object with debug
// information, one with a symbol table), unwind information likewise.
func (p *SymbolPaths) fromIndex(ctx context.Context, m *Module) Debug {
	p.buildIndex(ctx)
	var cands []candidate
	if id, err := debugid.Parse(m.DebugID); err == nil && !id.IsZero() {
		cands = append(cands, p.byDebug[id]...)
	}
	if m.CodeID != "" {
		cands = append(cands, p.byCode[strings.ToLower(m.CodeID)]...)
	}
	if len(cands) == 0 {
		return Debug{}
	}
	rank := func(c candidate, forUnwind bool) int {
		switch {
		case c.kind == candSymcache && !forUnwind, c.kind == candCficache && forUnwind:
			return 0
		case c.kind == candSym:
			return 1
		case c.kind == candObject && !forUnwind && c.features&debugfiles.FeatureDebug != 0:
			return 2
		case c.kind == candObject && forUnwind && c.features&debugfiles.FeatureUnwind != 0:
			return 2
		case c.kind == candObject:
			return 3
		}
		return 9
	}
	best := func(forUnwind bool) string {
		bi, br := -1, 9
		for i, c := range cands {
			if r := rank(c, forUnwind); r < br {
				bi, br = i, r
			}
		}
		if bi < 0 {
			return ""
		}
		return cands[bi].path
	}
	symPath, cfiPath := best(false), best(true)
	if p.CacheDir != "" && m.DebugID != "" {
		if d, ok := p.convert(m, symPath, cfiPath); ok {
			return d
		}
	}
	var d Debug
	d.Symbols, d.SymbolStatus = p.loadSymbols(m, symPath)
	d.Unwinder, d.UnwindStatus = p.loadUnwind(m, cfiPath)
	d.Source = symPath
	if d.Source == "" {
		d.Source = cfiPath
	}
	return d
}

// loadSymbols opens symbols from a file of any kind.
func (p *SymbolPaths) loadSymbols(m *Module, path string) (Symbols, Status) {
	if path == "" {
		return nil, StatusMissing
	}
	if isMagic(path, "CAIRNSYM") {
		if d, ok := p.openCaches(path, ""); ok {
			return d.Symbols, StatusFound
		}
		return nil, StatusMalformed
	}
	if isMagic(path, "MODULE ") {
		sf, err := OpenSymbolFile(path, p.Options)
		if err != nil {
			return nil, StatusMalformed
		}
		p.keep(sf)
		return sf, StatusFound
	}
	obj, closeObj, err := p.object(m, path)
	if err != nil {
		return nil, StatusMalformed
	}
	defer closeObj()
	var buf bytes.Buffer
	if err := symcache.Write(&buf, obj, symcache.Options{}); err != nil {
		return nil, StatusMalformed
	}
	c, err := symcache.New(buf.Bytes())
	if err != nil {
		return nil, StatusMalformed
	}
	return NewSymcacheSymbols(c), StatusFound
}

// loadUnwind opens unwind information from a file of any kind.
func (p *SymbolPaths) loadUnwind(m *Module, path string) (Unwinder, Status) {
	if path == "" {
		return nil, StatusMissing
	}
	if isMagic(path, "CAIRNCFI") {
		if d, ok := p.openCaches("", path); ok && d.Unwinder != nil {
			return d.Unwinder, StatusFound
		}
		return nil, StatusMalformed
	}
	obj, closeObj, err := p.object(m, path)
	if err != nil {
		return nil, StatusMalformed
	}
	defer closeObj()
	b, err := cficache.Build(obj)
	if err != nil {
		return nil, StatusMalformed
	}
	data, err := b.Bytes()
	if err != nil {
		return nil, StatusMalformed
	}
	c, err := cficache.New(data)
	if err != nil {
		return nil, StatusMalformed
	}
	if rows, win, params := c.Counts(); rows+win+params == 0 {
		return nil, StatusMissing
	}
	return CacheUnwinder{c}, StatusFound
}

// object opens the object of a file that is the module (the right
// architecture of a fat Mach-O file).
func (p *SymbolPaths) object(m *Module, path string) (debugfiles.Object, func(), error) {
	a, err := loader.Open(path)
	if err != nil {
		return nil, nil, err
	}
	id, _ := debugid.Parse(m.DebugID)
	for _, o := range a.Objects {
		if id.IsZero() || o.DebugID() == id || len(a.Objects) == 1 {
			return o, func() { a.Close() }, nil
		}
	}
	a.Close()
	return nil, nil, fmt.Errorf("stackwalk: %s: no object with debug id %s", path, m.DebugID)
}

// isMagic reports whether a file starts with magic.
func isMagic(path, magic string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(magic))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == magic
}

// buildIndex walks the paths once, recording every debug file by its
// identifiers.
func (p *SymbolPaths) buildIndex(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.indexed {
		return
	}
	p.indexed = true
	p.byDebug = map[debugid.ID][]candidate{}
	p.byCode = map[string][]candidate{}
	limit := p.MaxIndexedFiles
	if limit <= 0 {
		limit = 100000
	}
	seen := 0
	for _, root := range p.Paths {
		_ = filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil || ctx.Err() != nil {
				return nil
			}
			if de.IsDir() {
				if strings.HasSuffix(path, ".dSYM") {
					p.indexFile(path)
					return fs.SkipDir
				}
				return nil
			}
			if !de.Type().IsRegular() {
				return nil
			}
			if seen++; seen > limit {
				return fs.SkipAll
			}
			// A file in the store layout is recorded under the
			// identifier its place names, as the store lookups trust
			// it, without being opened: opening every file of a large
			// store is most of what indexing it costs.
			if id, kind, ok := storeLayout(path); ok {
				p.add(id, "", candidate{path: path, kind: kind})
				return nil
			}
			p.indexFile(path)
			return nil
		})
	}
}

// storeLayout reports whether path is where a Breakpad store keeps a
// symbol file or cache, <debug file>/<DEBUGID>/<stem>.sym (or .symcache,
// .cficache) with the stem StorePath gives: it returns the identifier the
// path names and the kind of file its extension names.
func storeLayout(path string) (debugid.ID, candKind, bool) {
	dir, file := filepath.Split(path)
	dir = filepath.Dir(dir)
	idDir, debugFile := filepath.Base(dir), filepath.Base(filepath.Dir(dir))
	var kind candKind
	ext := filepath.Ext(file)
	switch ext {
	case ".sym":
		kind = candSym
	case ".symcache":
		kind = candSymcache
	case ".cficache":
		kind = candCficache
	default:
		return debugid.ID{}, 0, false
	}
	if file[:len(file)-len(ext)] != storeStem(debugFile) {
		return debugid.ID{}, 0, false
	}
	id, err := debugid.Parse(idDir)
	if err != nil || id.IsZero() || id.Breakpad() != idDir {
		return debugid.ID{}, 0, false
	}
	return id, kind, true
}

// add records a candidate under its debug id and code id, where it has
// them.
func (p *SymbolPaths) add(id debugid.ID, code string, c candidate) {
	if !id.IsZero() {
		p.byDebug[id] = append(p.byDebug[id], c)
	}
	if code != "" {
		k := strings.ToLower(code)
		p.byCode[k] = append(p.byCode[k], c)
	}
}

// indexFile records one file (or dSYM bundle) under its identifiers.
func (p *SymbolPaths) indexFile(path string) {
	head := make([]byte, 512)
	if f, err := os.Open(path); err == nil {
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		// A cache's header names its debug id: reading it from the open
		// file spares mapping every cache of a cache directory.
		var readID func(io.ReaderAt, int64) (debugid.ID, error)
		kind := candSymcache
		switch {
		case bytes.HasPrefix(head, []byte("CAIRNSYM")):
			readID = symcache.ReadDebugID
		case bytes.HasPrefix(head, []byte("CAIRNCFI")):
			readID, kind = cficache.ReadDebugID, candCficache
		}
		if readID != nil {
			if st, err := f.Stat(); err == nil {
				if id, err := readID(f, st.Size()); err == nil {
					p.add(id, "", candidate{path: path, kind: kind})
				}
			}
		}
		f.Close()
		if readID != nil {
			return
		}
	} else if !strings.HasSuffix(path, ".dSYM") {
		return
	}
	switch {
	case bytes.HasPrefix(head, []byte("MODULE ")):
		line, _, _ := bytes.Cut(head, []byte("\n"))
		rd := breakpad.NewBytesReader(bytes.TrimRight(line, "\r"))
		if rd.Next() && rd.Record().Kind == breakpad.KindModule {
			if id, err := debugid.Parse(string(rd.Record().Module.ID)); err == nil {
				p.add(id, "", candidate{path: path, kind: candSym})
			}
		}
		return
	}
	if !strings.HasSuffix(path, ".dSYM") && loader.Sniff(head) == debugfiles.FormatUnknown {
		return
	}
	a, err := loader.Open(path)
	if err != nil {
		return
	}
	defer a.Close()
	for _, o := range a.Objects {
		p.add(o.DebugID(), o.CodeID(), candidate{path: path, kind: candObject, features: o.Features()})
	}
}
