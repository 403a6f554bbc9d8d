package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// On disk a cache is a directory per kind and format version
// (<dir>/<kind>/v<version>/), one data file per entry named by a hash of its
// key, and beside it a ".meta" JSON sidecar. The sidecar is written last
// and renamed into place, so an entry exists exactly when its sidecar
// does; a crash mid-write leaves only a temporary file that cleanup
// removes. Negative entries (missing, failed) have a sidecar and no data.

// ErrMissing is returned by a FillFunc (wrapped or not) when the thing to
// cache does not exist; the miss is remembered for Config.MissingTTL.
var ErrMissing = errors.New("cache: missing")

// Status is what an entry holds.
type Status string

// Entry statuses.
const (
	StatusOK      Status = "ok"
	StatusMissing Status = "missing"
	StatusError   Status = "error"
)

// Key names one cached item. Kind separates caches ("objects", "symcache",
// "cficache"); Version is the kind's on-disk format version, so bumping it
// makes old entries unreachable (cleanup then deletes them).
type Key struct {
	Kind    string
	Version int
	// Source is the symbol source id (or "" for derived items keyed by
	// content).
	Source string
	// ID is the item within the source: a debug id plus the location path,
	// or any string that identifies it uniquely.
	ID string
}

func (k Key) dir() string { return filepath.Join(k.Kind, fmt.Sprintf("v%d", k.Version)) }

func (k Key) name() string {
	h := sha256.Sum256([]byte(k.Source + "\x00" + k.ID))
	return hex.EncodeToString(h[:16])
}

// Meta is an entry's sidecar.
type Meta struct {
	Key     Key       `json:"key"`
	Status  Status    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Created time.Time `json:"created"`
	// Expires is when a negative entry stops counting; zero for data.
	Expires time.Time `json:"expires,omitzero"`
	Size    int64     `json:"size"`
	// Extra carries what the filler wants kept with the entry (the
	// source location, content type, ...), for negative entries too.
	Extra map[string]string `json:"extra,omitempty"`
}

// Entry is the result of Get.
type Entry struct {
	Meta
	// Path is the data file; empty unless Status is StatusOK. It stays
	// valid until eviction; callers open it right away (an open file
	// survives removal on Unix).
	Path string
}

// Err is the error a negative entry stands for: ErrMissing for a miss, a
// *FailedError for a remembered failure, nil for data.
func (e Entry) Err() error {
	switch e.Status {
	case StatusMissing:
		return ErrMissing
	case StatusError:
		return &FailedError{Msg: e.Error, Expires: e.Expires}
	}
	return nil
}

// FailedError is a remembered failure.
type FailedError struct {
	Msg     string
	Expires time.Time
}

// Error implements error.
func (e *FailedError) Error() string { return "cache: failed earlier: " + e.Msg }

// Expiring lets a FillFunc's error carry its own expiry: derived caches
// return the expiry of the download they were derived from, so they
// retry when it does.
type Expiring interface {
	error
	ExpiresAt() time.Time
}

type followErr struct {
	err     error
	expires time.Time
}

// Error implements error.
func (e *followErr) Error() string { return e.err.Error() }

// Unwrap exposes ErrMissing or the source's failure.
func (e *followErr) Unwrap() error { return e.err }

// ExpiresAt implements Expiring.
func (e *followErr) ExpiresAt() time.Time { return e.expires }

// Follow returns the error a derived cache's FillFunc should return when
// the entry it derives from is negative, so both expire together. It
// returns nil for an entry holding data.
func Follow(src Entry) error {
	err := src.Err()
	if err == nil {
		return nil
	}
	return &followErr{err: err, expires: src.Expires}
}

// FillFunc produces an entry's data by creating the file at path. It
// returns an error matching ErrMissing when there is nothing to cache.
type FillFunc func(ctx context.Context, path string) (extra map[string]string, err error)

// Config configures a Cache.
type Config struct {
	Dir string
	// MaxBytes bounds the data kept; least recently used entries are
	// evicted past it. Zero means unbounded.
	MaxBytes int64
	// MissingTTL and ErrorTTL are how long misses and failures are
	// remembered; zero means 1 hour and 5 minutes.
	MissingTTL, ErrorTTL time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Metrics receives counters and timings; nil disables them.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Cache is an on-disk cache shared by concurrent requests.
type Cache struct {
	cfg    Config
	flight singleflight.Group

	mu    sync.Mutex
	index map[string]*lruItem // data path → size and last use
	total int64
}

type lruItem struct {
	size int64
	used time.Time
}

const tmpDir = "tmp"

// New opens (creating) the cache directory and indexes what it holds,
// removing leftovers of interrupted writes.
func New(cfg Config) (*Cache, error) {
	if cfg.MissingTTL == 0 {
		cfg.MissingTTL = time.Hour
	}
	if cfg.ErrorTTL == 0 {
		cfg.ErrorTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := &Cache{cfg: cfg, index: map[string]*lruItem{}}
	if _, err := c.Cleanup(); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the entry for k, filling it with fill when absent or when a
// negative entry has expired. Concurrent Gets of one key share one fill.
// A negative entry comes back with a nil error; use Entry.Err.
func (c *Cache) Get(ctx context.Context, k Key, fill FillFunc) (Entry, error) {
	dir := filepath.Join(c.cfg.Dir, k.dir())
	base := filepath.Join(dir, k.name())
	if e, ok := c.lookup(k, base, true); ok {
		return e, nil
	}
	v, err, shared := c.flight.Do(base, func() (any, error) {
		// Another process or an earlier flight may have filled it.
		if e, ok := c.lookup(k, base, false); ok {
			return e, nil
		}
		return c.fill(ctx, k, dir, base, fill)
	})
	if shared {
		c.cfg.Metrics.deduped(k.Kind)
	}
	if err != nil {
		return Entry{}, err
	}
	return v.(Entry), nil
}

// lookup reads a live entry; count says whether to record the outcome
// (the re-check inside a fill does not).
func (c *Cache) lookup(k Key, base string, count bool) (Entry, bool) {
	metrics := c.cfg.Metrics
	if !count {
		metrics = nil
	}
	m, err := readMeta(base + ".meta")
	if err != nil || m.Key != k {
		metrics.request(k.Kind, "miss")
		return Entry{}, false
	}
	now := c.cfg.Now()
	if m.Status != StatusOK {
		if !now.Before(m.Expires) {
			metrics.request(k.Kind, "expired")
			return Entry{}, false
		}
		metrics.request(k.Kind, "negative_hit")
		return Entry{Meta: m}, true
	}
	if _, err := os.Stat(base); err != nil {
		metrics.request(k.Kind, "miss")
		return Entry{}, false
	}
	c.touch(base, m.Size, now)
	metrics.request(k.Kind, "hit")
	return Entry{Meta: m, Path: base}, true
}

// touch records a use for LRU. The data file's mtime keeps the order
// across restarts; it is updated at most once a minute per entry to keep
// hits cheap.
func (c *Cache) touch(path string, size int64, now time.Time) {
	c.mu.Lock()
	it := c.index[path]
	if it == nil {
		it = &lruItem{size: size}
		c.index[path] = it
		c.total += size
	}
	stale := now.Sub(it.used) > time.Minute
	it.used = now
	c.mu.Unlock()
	if stale {
		os.Chtimes(path, now, now)
	}
}

func (c *Cache) fill(ctx context.Context, k Key, dir, base string, fill FillFunc) (Entry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Entry{}, fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(c.cfg.Dir, tmpDir), k.name()+".*")
	if err != nil {
		return Entry{}, fmt.Errorf("cache: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	os.Remove(tmpPath) // the filler creates it
	defer os.Remove(tmpPath)

	start := time.Now()
	extra, ferr := fill(ctx, tmpPath)
	c.cfg.Metrics.filled(k.Kind, time.Since(start))
	now := c.cfg.Now()
	m := Meta{Key: k, Created: now, Extra: extra}
	switch {
	case ferr == nil:
		st, err := os.Stat(tmpPath)
		if err != nil {
			return Entry{}, fmt.Errorf("cache: fill of %s/%s made no file: %w", k.Source, k.ID, err)
		}
		m.Status, m.Size = StatusOK, st.Size()
		os.Chtimes(tmpPath, now, now)
		if err := os.Rename(tmpPath, base); err != nil {
			return Entry{}, fmt.Errorf("cache: %w", err)
		}
	case ctx.Err() != nil:
		// A cancelled request says nothing about the file; remember nothing.
		return Entry{}, fmt.Errorf("cache: fill %s/%s: %w", k.Source, k.ID, ferr)
	default:
		var ex Expiring
		switch {
		case errors.As(ferr, &ex) && !ex.ExpiresAt().IsZero():
			m.Expires = ex.ExpiresAt()
			m.Status = StatusError
			if errors.Is(ferr, ErrMissing) {
				m.Status = StatusMissing
			}
		case errors.Is(ferr, ErrMissing):
			m.Status, m.Expires = StatusMissing, now.Add(c.cfg.MissingTTL)
		default:
			m.Status, m.Expires = StatusError, now.Add(c.cfg.ErrorTTL)
		}
		if m.Status == StatusError {
			m.Error = ferr.Error()
			c.cfg.Logger.Warn("cache fill failed", "kind", k.Kind, "source", k.Source, "id", k.ID, "err", ferr)
		}
		os.Remove(base)
	}
	if err := c.writeMeta(base+".meta", m); err != nil {
		return Entry{}, err
	}
	e := Entry{Meta: m}
	if m.Status == StatusOK {
		e.Path = base
		c.mu.Lock()
		if old := c.index[base]; old != nil {
			c.total -= old.size
		}
		c.index[base] = &lruItem{size: m.Size, used: now}
		c.total += m.Size
		c.mu.Unlock()
		c.evict()
	}
	c.cfg.Metrics.setBytes(c.Size())
	return e, nil
}

func (c *Cache) writeMeta(path string, m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Join(c.cfg.Dir, tmpDir), "meta.*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: write %s: %w", path, err)
	}
	return nil
}

func readMeta(path string) (Meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("cache: %s: %w", path, err)
	}
	return m, nil
}

// Size is the bytes of data the cache holds.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// evict removes least recently used entries until the cache fits.
func (c *Cache) evict() {
	if c.cfg.MaxBytes <= 0 {
		return
	}
	c.mu.Lock()
	if c.total <= c.cfg.MaxBytes {
		c.mu.Unlock()
		return
	}
	type kv struct {
		path string
		it   lruItem
	}
	all := make([]kv, 0, len(c.index))
	for p, it := range c.index {
		all = append(all, kv{p, *it})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].it.used.Before(all[j].it.used) })
	var victims []string
	for _, e := range all {
		if c.total <= c.cfg.MaxBytes {
			break
		}
		delete(c.index, e.path)
		c.total -= e.it.size
		victims = append(victims, e.path)
	}
	c.mu.Unlock()
	for _, p := range victims {
		// Sidecar first: without it the entry no longer exists.
		os.Remove(p + ".meta")
		os.Remove(p)
		c.cfg.Metrics.evicted()
	}
}

// Cleanup walks the cache: it deletes expired negative entries, entries
// without a sidecar or data, unknown files, temporary files older than an
// hour, then evicts down to the size limit, and rebuilds the LRU index
// from the data files' modification times. It returns how many files it
// removed.
func (c *Cache) Cleanup() (int, error) {
	now := c.cfg.Now()
	removed := 0
	index := map[string]*lruItem{}
	var total int64
	err := filepath.WalkDir(c.cfg.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(c.cfg.Dir, p)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(rel, tmpDir+string(filepath.Separator)) {
			if now.Sub(info.ModTime()) > time.Hour {
				os.Remove(p)
				removed++
			}
			return nil
		}
		if base, ok := strings.CutSuffix(p, ".meta"); ok {
			m, err := readMeta(p)
			dataInfo, statErr := os.Stat(base)
			switch {
			case err != nil,
				m.Status != StatusOK && !now.Before(m.Expires),
				m.Status == StatusOK && statErr != nil:
				os.Remove(p)
				os.Remove(base)
				removed++
			case m.Status == StatusOK:
				index[base] = &lruItem{size: dataInfo.Size(), used: dataInfo.ModTime()}
				total += dataInfo.Size()
			}
			return nil
		}
		if _, err := os.Stat(p + ".meta"); err != nil {
			// Data whose sidecar never landed (or was evicted first).
			os.Remove(p)
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("cache: cleanup: %w", err)
	}
	c.mu.Lock()
	// Keep in-memory use times newer than the files' (touch is lazy).
	for p, it := range index {
		if old := c.index[p]; old != nil && old.used.After(it.used) {
			it.used = old.used
		}
	}
	c.index, c.total = index, total
	c.mu.Unlock()
	c.evict()
	c.cfg.Metrics.setBytes(c.Size())
	return removed, nil
}

// Run cleans up every interval until ctx is done.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := c.Cleanup(); err != nil {
				c.cfg.Logger.Warn("cache cleanup failed", "err", err)
			} else if n > 0 {
				c.cfg.Logger.Info("cache cleanup", "removed", n)
			}
		}
	}
}
