//go:build !cairncli

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// uploadsSourceID names the uploaded-files source in candidate lists and
// cache keys. It is the same for every project: the store's keys name file
// contents, so projects holding the same file share its cached download
// and derived caches, while each project's lookups only ever yield its own
// files.
const uploadsSourceID = "sentry:project"

// nativeSymbolication is the worker's in-process symbolicator and what it
// owns: the service with its cache, and the cache's cleanup loop.
type nativeSymbolication struct {
	sym  *issues.ServiceSymbolicator
	svc  *service.Service
	stop context.CancelFunc
	// ahead queues uploaded debug files whose caches are built before a
	// crash needs them.
	ahead chan meta.DebugFile
	done  chan struct{}
	log   *slog.Logger
}

// debugFileIndex is what the in-process symbolicator needs of the metadata
// store: the index of uploaded debug files and the projects' own symbol
// sources.
type debugFileIndex interface {
	meta.DebugFiles
	ProjectSources(ctx context.Context, projectID int64) ([]byte, error)
}

// aheadQueue bounds the uploaded files waiting for their caches; past it a
// file is converted when the first crash needs it instead.
const aheadQueue = 1024

// newNativeSymbolication builds the worker's symbolicator: minidumps and
// native frames are symbolicated by the symbolicator service from the
// debug files uploaded to the event's project (projectID when the context
// names none), then from the configured sources; what the service
// converts is kept in the data directory's symbolicator cache for the
// next events. A dump the stack walker rejects keeps the unsymbolicated
// reading with a processing error on the event. blobs hold the uploaded
// files and index finds them, so the embedded and the production stores
// serve alike; metrics may be nil.
func newNativeSymbolication(ctx context.Context, blobs blob.Store, index debugFileIndex, cfg config.Config, projectID int64, metrics *cache.Metrics, log *slog.Logger) (*nativeSymbolication, error) {
	configured, err := configuredSources(cfg)
	if err != nil {
		return nil, err
	}
	c, err := cache.New(cache.Config{Dir: cfg.SymbolicatorCacheDir(), MaxBytes: cfg.Symbolicator.CacheSize, Metrics: metrics, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("symbolicator cache: %w", err)
	}
	scfg := service.Config{Cache: c, Sources: configured, Logger: log}
	if cfg.Storage.S3.Bucket != "" {
		// Workers share what they convert through the bucket: one builds a
		// file's caches, the others fetch them.
		scfg.Shared = blobShared{blobs}
	}
	svc, err := service.New(scfg)
	if err != nil {
		return nil, fmt.Errorf("symbolicator: %w", err)
	}
	ds := &store.Store{Blobs: blobs, Index: index}
	own := newProjectSources(index, projectSourcesTTL, log)
	project := func(ctx context.Context) []sources.Source {
		id := projectID
		if p, ok := issues.ProjectOf(ctx); ok {
			id = p
		}
		list := []sources.Source{sources.NewUploaded(uploadsSourceID, ds.Source(id), sources.Filters{})}
		list = append(list, own.get(ctx, id)...)
		return append(list, configured...)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	go c.Run(bg, cacheCleanupInterval)
	n := &nativeSymbolication{
		sym:   &issues.ServiceSymbolicator{Service: svc, Sources: project, Fallback: issues.Unsymbolicated{}},
		svc:   svc,
		stop:  stop,
		ahead: make(chan meta.DebugFile, aheadQueue),
		done:  make(chan struct{}),
		log:   log,
	}
	go n.buildAhead(bg)
	return n, nil
}

// prepare queues newly stored debug files for their caches to be built in
// the background (the upload server's OnStored hook); it never blocks an
// upload.
func (n *nativeSymbolication) prepare(_ context.Context, files []meta.DebugFile) {
	for _, f := range files {
		select {
		case n.ahead <- f:
		default:
			n.log.Debug("cache build queue full; the file is converted on first use", "debug_id", f.DebugID)
		}
	}
}

// buildAhead converts queued files one at a time, so uploads never compete
// with crashes for more than one core.
func (n *nativeSymbolication) buildAhead(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-n.ahead:
			start := time.Now()
			info := service.ModuleInfo{Type: objectTypeOf(f.Format), DebugID: f.DebugID, CodeID: f.CodeID, CodeFile: f.Name, Arch: f.Arch}
			m := n.svc.Prepare(ctx, info, n.sym.Sources(issues.WithProject(ctx, f.ProjectID)))
			n.log.Debug("caches built ahead", "debug_id", f.DebugID, "debug_status", m.DebugStatus, "unwind_status", m.UnwindStatus, "seconds", time.Since(start).Seconds())
		}
	}
}

// objectTypeOf is the symbolicator's object type of an uploaded file's
// format: a PDB belongs to a PE module; a Breakpad file to any.
func objectTypeOf(format string) string {
	switch format {
	case "pdb":
		return "pe"
	case "elf", "macho", "pe", "wasm":
		return format
	}
	return "unknown"
}

// configuredSources reads the sources file of the configuration (none
// when it names no file).
func configuredSources(cfg config.Config) ([]sources.Source, error) {
	if cfg.Symbolicator.SourcesFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(cfg.Symbolicator.SourcesFile)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	// The operator's own sources may reach anything the server can.
	srcs, err := sources.ParseConfigs(raw, sources.ConfigOptions{AllowPrivate: true, AllowFilesystem: true, AllowServerCredentials: true})
	if err != nil {
		return nil, fmt.Errorf("sources file %s: %w", cfg.Symbolicator.SourcesFile, err)
	}
	return srcs, nil
}

// close stops the cache cleanup and releases the caches the service holds
// open; the worker must be done with it.
func (n *nativeSymbolication) close() error {
	n.stop()
	<-n.done
	if err := n.svc.Close(); err != nil {
		return fmt.Errorf("symbolicator: %w", err)
	}
	return nil
}

// projectSourcesTTL is how long a project's parsed symbol sources are
// reused: an edit in the settings reaches crashes within it, and a busy
// project does not read and parse its sources for every module.
const projectSourcesTTL = 30 * time.Second

// projectSources are the symbol sources projects configure in the web
// interface, parsed with the SSRF guard on, since users entered them.
type projectSources struct {
	store interface {
		ProjectSources(ctx context.Context, projectID int64) ([]byte, error)
	}
	ttl time.Duration
	log *slog.Logger

	mu      sync.Mutex
	entries map[int64]projectSourcesEntry
}

type projectSourcesEntry struct {
	srcs    []sources.Source
	expires time.Time
}

func newProjectSources(st interface {
	ProjectSources(ctx context.Context, projectID int64) ([]byte, error)
}, ttl time.Duration, log *slog.Logger) *projectSources {
	return &projectSources{store: st, ttl: ttl, log: log, entries: map[int64]projectSourcesEntry{}}
}

// get returns the project's sources. A list that fails to load or parse
// counts as empty (and is logged): a broken source must not stop the
// crash from being symbolicated with the others.
func (ps *projectSources) get(ctx context.Context, projectID int64) []sources.Source {
	now := time.Now()
	ps.mu.Lock()
	e, ok := ps.entries[projectID]
	ps.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.srcs
	}
	raw, err := ps.store.ProjectSources(ctx, projectID)
	var srcs []sources.Source
	if err == nil {
		// Filesystem sources can only be saved by owners, who are trusted
		// with the server's disk; private addresses stay out of reach.
		srcs, err = sources.ParseConfigs(raw, sources.ConfigOptions{AllowPrivate: false, AllowFilesystem: true})
	}
	if err != nil {
		ps.log.Warn("project symbol sources ignored", "project", projectID, "err", err)
		srcs = nil
	}
	ps.mu.Lock()
	ps.entries[projectID] = projectSourcesEntry{srcs: srcs, expires: now.Add(ps.ttl)}
	ps.mu.Unlock()
	return srcs
}

// blobShared is the symbolicator's shared derived-cache store on the blob
// store (S3 in the production topology).
type blobShared struct{ b blob.Store }

// Get implements service.SharedCache.
func (s blobShared) Get(ctx context.Context, key string, w io.Writer) (bool, error) {
	r, err := s.b.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return false, err
	}
	return true, nil
}

// Put implements service.SharedCache.
func (s blobShared) Put(ctx context.Context, key string, r io.Reader) error {
	return s.b.Put(ctx, key, r)
}
