package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T, cfg Config) (*Cache, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Now = clk.Now
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func writeFill(data []byte, calls *atomic.Int32) FillFunc {
	return func(ctx context.Context, path string) (map[string]string, error) {
		if calls != nil {
			calls.Add(1)
		}
		return map[string]string{"from": "test"}, os.WriteFile(path, data, 0o644)
	}
}

func TestGetFillsOnceAndHits(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newCache(t, Config{Metrics: m})
	k := Key{Kind: "objects", Version: 1, Source: "s", ID: "a"}
	var calls atomic.Int32
	for range 3 {
		e, err := c.Get(t.Context(), k, writeFill([]byte("hello"), &calls))
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != StatusOK || e.Err() != nil || e.Size != 5 || e.Extra["from"] != "test" {
			t.Fatalf("entry %+v", e)
		}
		if b, _ := os.ReadFile(e.Path); string(b) != "hello" {
			t.Fatalf("data %q", b)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("fill ran %d times", calls.Load())
	}
	if got := counterValue(t, m.requests.WithLabelValues("objects", "hit")); got != 2 {
		t.Errorf("hits = %v", got)
	}
	// A new version of the kind is a different entry.
	k.Version = 2
	if _, err := c.Get(t.Context(), k, writeFill([]byte("v2"), &calls)); err != nil || calls.Load() != 2 {
		t.Fatalf("version bump: err %v calls %d", err, calls.Load())
	}
}

func TestNegativeExpiry(t *testing.T) {
	c, clk := newCache(t, Config{})
	k := Key{Kind: "objects", Version: 1, Source: "s", ID: "missing"}
	var calls atomic.Int32
	missing := func(ctx context.Context, path string) (map[string]string, error) {
		calls.Add(1)
		return nil, fmt.Errorf("source says: %w", ErrMissing)
	}
	e, err := c.Get(t.Context(), k, missing)
	if err != nil || !errors.Is(e.Err(), ErrMissing) || e.Status != StatusMissing {
		t.Fatalf("entry %+v err %v", e, err)
	}
	clk.Add(59 * time.Minute)
	c.Get(t.Context(), k, missing)
	if calls.Load() != 1 {
		t.Fatalf("miss not remembered: %d fills", calls.Load())
	}
	clk.Add(2 * time.Minute)
	c.Get(t.Context(), k, missing)
	if calls.Load() != 2 {
		t.Fatalf("miss remembered past an hour: %d fills", calls.Load())
	}

	k.ID = "broken"
	calls.Store(0)
	failing := func(ctx context.Context, path string) (map[string]string, error) {
		calls.Add(1)
		return nil, errors.New("HTTP 500")
	}
	e, _ = c.Get(t.Context(), k, failing)
	var fe *FailedError
	if !errors.As(e.Err(), &fe) || fe.Msg != "HTTP 500" {
		t.Fatalf("error entry %+v", e)
	}
	clk.Add(4 * time.Minute)
	c.Get(t.Context(), k, failing)
	clk.Add(2 * time.Minute)
	c.Get(t.Context(), k, failing)
	if calls.Load() != 2 {
		t.Fatalf("error entry: %d fills, want 2", calls.Load())
	}
}

func TestDerivedFollowsSource(t *testing.T) {
	c, clk := newCache(t, Config{})
	src, _ := c.Get(t.Context(), Key{Kind: "objects", Version: 1, ID: "x"}, func(context.Context, string) (map[string]string, error) {
		return nil, ErrMissing
	})
	var calls atomic.Int32
	derive := func(context.Context, string) (map[string]string, error) {
		calls.Add(1)
		return nil, Follow(src)
	}
	clk.Add(30 * time.Minute)
	d, _ := c.Get(t.Context(), Key{Kind: "symcache", Version: 1, ID: "x"}, derive)
	if d.Status != StatusMissing || !d.Expires.Equal(src.Expires) {
		t.Fatalf("derived %+v, source expires %v", d.Meta, src.Expires)
	}
	clk.Add(31 * time.Minute)
	c.Get(t.Context(), Key{Kind: "symcache", Version: 1, ID: "x"}, derive)
	if calls.Load() != 2 {
		t.Fatalf("derived entry outlived its source: %d fills", calls.Load())
	}
}

func TestCancelledFillIsNotRemembered(t *testing.T) {
	c, _ := newCache(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k := Key{Kind: "objects", Version: 1, ID: "c"}
	_, err := c.Get(ctx, k, func(ctx context.Context, _ string) (map[string]string, error) { return nil, ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	e, err := c.Get(t.Context(), k, writeFill([]byte("ok"), nil))
	if err != nil || e.Status != StatusOK {
		t.Fatalf("after cancel: %+v %v", e, err)
	}
}

func TestDedupe(t *testing.T) {
	c, _ := newCache(t, Config{})
	k := Key{Kind: "objects", Version: 1, ID: "shared"}
	var calls atomic.Int32
	release := make(chan struct{})
	fill := func(ctx context.Context, path string) (map[string]string, error) {
		calls.Add(1)
		<-release
		return nil, os.WriteFile(path, []byte("once"), 0o644)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			e, err := c.Get(t.Context(), k, fill)
			if err == nil && e.Status != StatusOK {
				err = fmt.Errorf("status %s", e.Status)
			}
			errs <- err
		})
	}
	// Let the goroutines pile up on the flight before the fill finishes;
	// late arrivals find the entry on disk, so the count is 1 either way.
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("fill ran %d times", calls.Load())
	}
}

// Two caches on one directory stand for two processes: each fills the same
// keys concurrently and every reader must see a whole file.
func TestConcurrentWritersAtomic(t *testing.T) {
	dir := t.TempDir()
	c1, _ := newCache(t, Config{Dir: dir})
	c2, _ := newCache(t, Config{Dir: dir})
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 256<<10) }
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 100 {
		for _, c := range []*Cache{c1, c2} {
			wg.Go(func() {
				k := Key{Kind: "objects", Version: 1, ID: fmt.Sprint(i % 10)}
				e, err := c.Get(context.Background(), k, func(ctx context.Context, path string) (map[string]string, error) {
					// Write slowly in pieces so a non-atomic publish
					// would be visible.
					f, err := os.Create(path)
					if err != nil {
						return nil, err
					}
					defer f.Close()
					p := payload(i % 10)
					for off := 0; off < len(p); off += 64 << 10 {
						if _, err := f.Write(p[off : off+64<<10]); err != nil {
							return nil, err
						}
					}
					return nil, nil
				})
				if err != nil {
					errs <- err
					return
				}
				b, err := os.ReadFile(e.Path)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(b, payload(i%10)) {
					errs <- fmt.Errorf("key %d: torn read of %d bytes", i%10, len(b))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLRUEviction(t *testing.T) {
	c, clk := newCache(t, Config{MaxBytes: 3000})
	get := func(id string) Entry {
		t.Helper()
		e, err := c.Get(t.Context(), Key{Kind: "objects", Version: 1, ID: id}, writeFill(make([]byte, 1000), nil))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := get("a")
	clk.Add(2 * time.Minute)
	b := get("b")
	clk.Add(2 * time.Minute)
	get("c")
	clk.Add(2 * time.Minute)
	get("a") // a is now the most recently used
	clk.Add(2 * time.Minute)
	get("d") // over the limit: b goes
	if _, err := os.Stat(b.Path); !os.IsNotExist(err) {
		t.Errorf("least recently used entry kept: %v", err)
	}
	if _, err := os.Stat(a.Path); err != nil {
		t.Errorf("recently used entry evicted: %v", err)
	}
	if c.Size() != 3000 {
		t.Errorf("size %d", c.Size())
	}
	// A restart rebuilds the index from disk and keeps the limit.
	c2, err := New(Config{Dir: c.cfg.Dir, MaxBytes: 2000, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Size() != 2000 {
		t.Errorf("after restart size %d", c2.Size())
	}
	if _, err := os.Stat(a.Path); err != nil {
		t.Errorf("restart evicted the most recent entry: %v", err)
	}
}

func TestCleanup(t *testing.T) {
	c, clk := newCache(t, Config{})
	dir := c.cfg.Dir
	ok, _ := c.Get(t.Context(), Key{Kind: "objects", Version: 1, ID: "ok"}, writeFill([]byte("x"), nil))
	c.Get(t.Context(), Key{Kind: "objects", Version: 1, ID: "gone"}, func(context.Context, string) (map[string]string, error) { return nil, ErrMissing })
	orphan := filepath.Join(dir, "objects", "v1", "orphan")
	os.WriteFile(orphan, []byte("no sidecar"), 0o644)
	staleTmp := filepath.Join(dir, tmpDir, "stale")
	os.WriteFile(staleTmp, nil, 0o644)
	old := clk.Now().Add(-2 * time.Hour)
	os.Chtimes(staleTmp, old, old)
	freshTmp := filepath.Join(dir, tmpDir, "fresh")
	os.WriteFile(freshTmp, nil, 0o644)
	os.WriteFile(filepath.Join(dir, "objects", "v1", "bad.meta"), []byte("{"), 0o644)

	clk.Add(61 * time.Minute)
	os.Chtimes(freshTmp, clk.Now(), clk.Now())
	n, err := c.Cleanup()
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // expired miss, orphan, stale tmp, bad sidecar
		t.Errorf("removed %d files, want 4", n)
	}
	for _, p := range []string{orphan, staleTmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived cleanup", p)
		}
	}
	for _, p := range []string{ok.Path, ok.Path + ".meta", freshTmp} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c.Run(ctx, time.Hour) // returns at once on a done context
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
