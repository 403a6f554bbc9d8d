package service

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
)

// Module statuses, as Sentry spells them.
const (
	statusFound          = "found"
	statusUnused         = "unused"
	statusMissing        = "missing"
	statusMalformed      = "malformed"
	statusFetchingFailed = "fetching_failed"
	statusTooLarge       = "too_large"
	statusTimeout        = "timeout"
)

// Derived cache kinds.
const (
	kindSymcache = "symcache"
	kindCficache = "cficache"
)

// errNoObject reports a downloaded file that holds no object with the
// module's identifier (a wrong file under the right name).
var errNoObject = errors.New("no matching object")

// session is the state of one request: the sources it uses, the modules
// looked up so far and the caches it holds open.
type session struct {
	s    *Service
	srcs []sources.Source

	mu   sync.Mutex
	held []*handle
}

func (s *Service) newSession(srcs []sources.Source) *session {
	return &session{s: s, srcs: s.sourcesOr(srcs)}
}

// close releases the caches the request held.
func (r *session) close() {
	r.mu.Lock()
	held := r.held
	r.held = nil
	r.mu.Unlock()
	for _, h := range held {
		r.s.open.release(h)
	}
}

func (r *session) hold(h *handle) {
	r.mu.Lock()
	r.held = append(r.held, h)
	r.mu.Unlock()
}

// lookup is what a request found for one module.
type lookup struct {
	info ModuleInfo
	id   sources.FileID

	once sync.Once
	used bool
	sym  *symcache.Cache
	cfi  *cficache.Cache
	// symStatus and cfiStatus are the module's debug and unwind status.
	symStatus, cfiStatus string
	features             Features
	cands                []Candidate
}

// newLookup reads a module description into a lookup.
func newLookup(info ModuleInfo) *lookup {
	l := &lookup{info: info, symStatus: statusUnused, cfiStatus: statusUnused}
	id := sources.FileID{
		CodeID: strings.ToLower(info.CodeID), CodeFile: info.CodeFile, DebugFile: info.DebugFile,
		Object: sources.ParseObjectType(info.Type), Arch: info.Arch,
	}
	if d, err := debugid.Parse(info.DebugID); err == nil {
		id.DebugID = d
	}
	if id.DebugFile == "" && id.Object != sources.ObjectPE {
		// ELF and Mach-O modules are their own debug files.
		id.DebugFile = id.CodeFile
	}
	l.id = id
	return l
}

// symbolTypes and unwindTypes are the file types asked for, best first.
func symbolTypes(id sources.FileID) []sources.FileType {
	switch id.Object {
	case sources.ObjectELF:
		return []sources.FileType{sources.FileELFDebug, sources.FileELFCode, sources.FileBreakpad}
	case sources.ObjectMachO:
		return []sources.FileType{sources.FileMachDebug, sources.FileMachCode, sources.FileBreakpad}
	case sources.ObjectPE:
		return []sources.FileType{sources.FilePDB, sources.FilePE, sources.FileBreakpad}
	}
	return []sources.FileType{sources.FileBreakpad}
}

func unwindTypes(id sources.FileID) []sources.FileType {
	switch id.Object {
	case sources.ObjectELF:
		return []sources.FileType{sources.FileELFCode, sources.FileELFDebug, sources.FileBreakpad}
	case sources.ObjectMachO:
		return []sources.FileType{sources.FileMachCode, sources.FileBreakpad, sources.FileMachDebug}
	case sources.ObjectPE:
		ts := []sources.FileType{sources.FilePE, sources.FileBreakpad}
		if id.Arch == "x86" {
			// 32-bit Windows unwinds from the PDB's frame data.
			ts = append(ts, sources.FilePDB)
		}
		return ts
	}
	return []sources.FileType{sources.FileBreakpad}
}

// resolve looks the module up once: its symbols and, with unwind, its
// unwind information, concurrently.
func (r *session) resolve(ctx context.Context, l *lookup, unwind bool) {
	l.once.Do(func() {
		l.used = true
		if l.id.DebugID.IsZero() && l.id.CodeID == "" {
			l.symStatus = statusMissing
			if unwind {
				l.cfiStatus = statusMissing
			}
			return
		}
		var symCands, cfiCands []Candidate
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h *handle
			h, symCands, l.symStatus = r.find(ctx, l, symbolTypes(l.id), false)
			if h != nil {
				l.sym = h.sym
			}
		}()
		if unwind {
			var h *handle
			h, cfiCands, l.cfiStatus = r.find(ctx, l, unwindTypes(l.id), true)
			if h != nil {
				l.cfi = h.cfi
			}
		}
		wg.Wait()
		l.cands = mergeCandidates(symCands, cfiCands)
		for _, c := range l.cands {
			if f := c.Download.Features; f != nil && (c.Debug != nil && c.Debug.Status == "ok" || c.Unwind != nil && c.Unwind.Status == "ok") {
				l.features.HasDebugInfo = l.features.HasDebugInfo || f.HasDebugInfo
				l.features.HasSymbols = l.features.HasSymbols || f.HasSymbols
				l.features.HasUnwindInfo = l.features.HasUnwindInfo || f.HasUnwindInfo
				l.features.HasSources = l.features.HasSources || f.HasSources
			}
		}
	})
}

// mergeCandidates joins the candidate lists of the symbol and unwind
// lookups: one entry per location, carrying both outcomes.
func mergeCandidates(a, b []Candidate) []Candidate {
	out := slices.Clone(a)
	for _, c := range b {
		i := slices.IndexFunc(out, func(o Candidate) bool { return o.Source == c.Source && o.Location == c.Location })
		if i < 0 {
			out = append(out, c)
			continue
		}
		if c.Unwind != nil {
			out[i].Unwind = c.Unwind
		}
		if out[i].Download.Features == nil {
			out[i].Download.Features = c.Download.Features
		}
	}
	return out
}

// find tries the file types in order and returns the first derived cache
// that serves: for symbols, the first file with debug information, else
// the best with a symbol table; for unwinding, the first with unwind
// rows. It returns every candidate tried and the resulting status.
func (r *session) find(ctx context.Context, l *lookup, types []sources.FileType, unwind bool) (*handle, []Candidate, string) {
	var cands []Candidate
	var fallback *handle
	var fallbackAt int
	for _, t := range types {
		found, best := sources.Find(ctx, r.srcs, l.id, []sources.FileType{t}, r.s.cfg.FetchParallel, r.s.fetch)
		base := len(cands)
		for _, c := range found {
			if c.Status == sources.StatusUnknown {
				continue // moot: a better candidate was found first
			}
			cands = append(cands, candidateOf(c))
		}
		if best < 0 {
			continue
		}
		// best indexes found; find its place among the kept candidates.
		at := base
		for i := range best {
			if found[i].Status != sources.StatusUnknown {
				at++
			}
		}
		h, feats, err := r.derive(ctx, found[best], l.id, unwind)
		info := &ProcessingOK{Status: "ok"}
		if err != nil {
			info = &ProcessingOK{Status: "malformed", Details: err.Error()}
		}
		cands[at].Download.Features = feats
		if unwind {
			cands[at].Unwind = info
		} else {
			cands[at].Debug = info
		}
		if err != nil {
			continue
		}
		switch {
		case unwind && h.cfi != nil && cfiUseful(h.cfi):
			r.hold(h)
			if fallback != nil {
				r.s.open.release(fallback)
			}
			return h, cands, statusFound
		case unwind:
			// Read fine, but holds no unwind rows: not used.
			cands[at].Unwind = nil
			r.s.open.release(h)
		case feats.HasDebugInfo:
			r.hold(h)
			if fallback != nil {
				cands[fallbackAt].Debug = nil
				r.s.open.release(fallback)
			}
			return h, cands, statusFound
		case fallback == nil && h.sym.NumFunctions() > 0:
			fallback, fallbackAt = h, at
		default:
			cands[at].Debug = nil
			r.s.open.release(h)
		}
	}
	if fallback != nil {
		r.hold(fallback)
		return fallback, cands, statusFound
	}
	return nil, cands, failureStatus(ctx, cands, unwind)
}

// failureStatus is the module status when nothing served: the most
// telling failure among the candidates.
func failureStatus(ctx context.Context, cands []Candidate, unwind bool) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return statusTimeout
	}
	status := statusMissing
	for _, c := range cands {
		p := c.Debug
		if unwind {
			p = c.Unwind
		}
		switch {
		case p != nil && p.Status == "malformed":
			return statusMalformed
		case c.Download.Status == "toolarge":
			status = statusTooLarge
		case c.Download.Status == "error" && timedOut(c.Download.Details) && (status == statusMissing || status == statusFetchingFailed):
			status = statusTimeout
		case (c.Download.Status == "error" || c.Download.Status == "noperm") && status == statusMissing:
			status = statusFetchingFailed
		}
	}
	return status
}

// timedOut reports whether a download failure was a timeout: the source's
// own download deadline (the request's is caught before) or the HTTP
// client's, in a fresh error or one the cache remembered as text.
func timedOut(details string) bool {
	return strings.Contains(details, context.DeadlineExceeded.Error()) || strings.Contains(details, "Client.Timeout exceeded") ||
		strings.Contains(details, "i/o timeout")
}

func cfiUseful(c *cficache.Cache) bool {
	rows, win, params := c.Counts()
	return rows+win+params > 0
}

// candidateOf turns a source lookup outcome into a response candidate.
func candidateOf(c sources.Candidate) Candidate {
	out := Candidate{Source: c.SourceID, Location: c.Path}
	switch c.Status {
	case sources.StatusFound:
		out.Download.Status = "ok"
	case sources.StatusNotFound:
		out.Download.Status = "notfound"
	case sources.StatusDenied:
		out.Download.Status, out.Download.Details = "noperm", c.Reason
	case sources.StatusTooLarge:
		out.Download.Status, out.Download.Details = "toolarge", c.Reason
	default:
		out.Download.Status, out.Download.Details = "error", c.Reason
	}
	return out
}

// derive returns the open symcache (or cficache) built from a downloaded
// file, building it on first use. Concurrent requests for the same file
// share one build; a build failure is remembered for the cache's error
// expiry.
func (r *session) derive(ctx context.Context, c sources.Candidate, id sources.FileID, unwind bool) (*handle, *Features, error) {
	kind, version := kindSymcache, symcache.Version
	if unwind {
		kind, version = kindCficache, cficache.Version
	}
	// The object is picked by debug id; only without one does the
	// architecture choose (a fat file), so only then is it part of the key.
	pick := id.DebugID.String()
	if id.DebugID.IsZero() {
		pick = "arch:" + id.Arch
	}
	key := cache.Key{Kind: kind, Version: version, Source: c.SourceID, ID: c.Type.String() + ":" + c.Path + "#" + pick}
	e, err := r.s.cfg.Cache.Get(detach(ctx), key, func(ctx context.Context, path string) (map[string]string, error) {
		shared := sharedKey(key)
		if extra, ok := r.s.fromShared(ctx, shared, path); ok {
			return extra, nil
		}
		r.s.builds <- struct{}{}
		defer func() { <-r.s.builds }()
		r.s.built.Add(1)
		extra, err := buildDerived(c.File, path, id, unwind)
		if err == nil {
			r.s.toShared(ctx, shared, path, extra)
		}
		return extra, err
	})
	if err != nil {
		return nil, nil, err
	}
	feats := parseFeatures(e.Extra["features"])
	if err := e.Err(); err != nil {
		var fe *cache.FailedError
		if errors.As(err, &fe) {
			return nil, feats, errors.New(fe.Msg)
		}
		return nil, feats, err
	}
	h, err := r.s.open.acquire(e.Path, unwind)
	if err != nil {
		return nil, feats, fmt.Errorf("derived cache unreadable: %w", err)
	}
	return h, feats, nil
}

// sharedKey is where the shared store keeps a derived cache: by kind,
// format version and a hash of the local cache key.
func sharedKey(k cache.Key) string {
	h := sha256.Sum256([]byte(k.Source + "\x00" + k.ID))
	return fmt.Sprintf("derived/%s/v%d/%s", k.Kind, k.Version, hex.EncodeToString(h[:16]))
}

// fromShared copies a derived cache another process built into path and
// returns its sidecar values; ok is false when the shared store has none
// (or cannot be read: the cache is built here instead).
func (s *Service) fromShared(ctx context.Context, key, path string) (map[string]string, bool) {
	sh := s.cfg.Shared
	if sh == nil {
		return nil, false
	}
	// The sidecar is written last, so its presence means the data is whole.
	var meta bytes.Buffer
	found, err := sh.Get(ctx, key+".json", &meta)
	if err != nil || !found {
		return nil, false
	}
	var extra map[string]string
	if json.Unmarshal(meta.Bytes(), &extra) != nil {
		return nil, false
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, false
	}
	found, err = sh.Get(ctx, key, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || !found {
		s.log.Warn("shared derived cache unreadable; building it here", "key", key, "err", err)
		return nil, false
	}
	return extra, true
}

// toShared publishes a derived cache this process built, data first and
// sidecar last. Failures are logged: the cache still works locally.
func (s *Service) toShared(ctx context.Context, key, path string, extra map[string]string) {
	sh := s.cfg.Shared
	if sh == nil {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	err = sh.Put(ctx, key, f)
	f.Close()
	if err == nil {
		var meta []byte
		if meta, err = json.Marshal(extra); err == nil {
			err = sh.Put(ctx, key+".json", bytes.NewReader(meta))
		}
	}
	if err != nil {
		s.log.Warn("publishing a derived cache to the shared store failed", "key", key, "err", err)
	}
}

// buildDerived writes the symcache or cficache of the object in file that
// matches id to path, and returns the object's features for the sidecar.
func buildDerived(file, path string, id sources.FileID, unwind bool) (map[string]string, error) {
	a, err := loader.Open(file)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	obj, err := pickObject(a, id)
	if err != nil {
		return nil, err
	}
	extra := map[string]string{"features": formatFeatures(obj.Features()), "arch": obj.Arch(), "debug_id": obj.DebugID().String()}
	f, err := os.Create(path)
	if err != nil {
		return extra, err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	if unwind {
		_, err = cficache.Write(w, obj)
	} else {
		err = writeSymcache(w, obj)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return extra, err
}

// writeSymcache writes the symcache of an object: its debug information,
// with the symbol table naming the code the debug information leaves out
// (start-up code, hand-written assembly, objects built without -g), as
// Symbolicator's symcaches do.
func writeSymcache(w io.Writer, obj debugfiles.Object) error {
	if bo, ok := obj.(*breakpad.Object); ok {
		return stackwalk.WriteSymbolFileSymcache(w, bo, stackwalk.SymbolFileOptions{})
	}
	return symcache.Write(w, obj, symcache.Options{FillFromSymbols: true})
}

// pickObject finds the module's object in an archive: by debug id, else
// the only one, else by architecture.
func pickObject(a *loader.Archive, id sources.FileID) (debugfiles.Object, error) {
	var ids []string
	for _, o := range a.Objects {
		if !id.DebugID.IsZero() && o.DebugID() == id.DebugID {
			return o, nil
		}
		ids = append(ids, o.DebugID().String()+" ("+o.Arch()+")")
	}
	if id.DebugID.IsZero() {
		if len(a.Objects) == 1 {
			return a.Objects[0], nil
		}
		for _, o := range a.Objects {
			if id.Arch != "" && o.Arch() == id.Arch {
				return o, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: want debug id %s, file has %s", errNoObject, id.DebugID, strings.Join(ids, ", "))
}

var featureNames = []struct {
	f    debugfiles.Features
	name string
}{
	{debugfiles.FeatureSymtab, "symtab"}, {debugfiles.FeatureDebug, "debug"},
	{debugfiles.FeatureUnwind, "unwind"}, {debugfiles.FeatureSources, "sources"},
}

func formatFeatures(f debugfiles.Features) string {
	var names []string
	for _, n := range featureNames {
		if f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

func parseFeatures(s string) *Features {
	if s == "" {
		return nil
	}
	f := &Features{}
	for n := range strings.SplitSeq(s, ",") {
		switch n {
		case "symtab":
			f.HasSymbols = true
		case "debug":
			f.HasDebugInfo = true
		case "unwind":
			f.HasUnwindInfo = true
		case "sources":
			f.HasSources = true
		}
	}
	return f
}

// module is the response entry of a lookup.
func (l *lookup) module() Module {
	return Module{ModuleInfo: l.info, DebugStatus: l.symStatus, UnwindStatus: l.cfiStatus,
		Features: l.features, Candidates: l.cands}
}
