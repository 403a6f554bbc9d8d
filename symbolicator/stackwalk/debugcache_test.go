package stackwalk

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Loading modules ahead of the walk changes nothing it reports: on every
// peer dump, the frames and the modules reported as needed (with their
// status) are those of a walk that loads each module on demand, whether
// the symbols are read directly or converted into a cache directory on the
// way. Run it with -race: the prefetch loads run concurrently with the
// walk.
func TestPrefetchAgrees(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(c.dump)
			if err != nil {
				t.Fatal(err)
			}
			walk := func(prefetch int, cache string) (map[int][]peerFrame, []string) {
				p := &SymbolPaths{Paths: []string{c.symbols}, CacheDir: cache}
				defer p.Close()
				r, _ := Process(context.Background(), data, p, Options{Prefetch: prefetch})
				if r == nil {
					return nil, nil
				}
				var used []string
				for _, m := range r.Modules {
					if d := r.Status(m); d != nil {
						used = append(used, fmt.Sprintf("%s %v %v", m.CodeFile, d.SymbolStatus, d.UnwindStatus))
					}
				}
				return ourFrames(r), used
			}
			for _, cached := range []bool{false, true} {
				dir := func() string {
					if cached {
						return t.TempDir()
					}
					return ""
				}
				wantFrames, wantUsed := walk(0, dir())
				gotFrames, gotUsed := walk(8, dir())
				if _, _, diffs := compareFrames(wantFrames, gotFrames); len(diffs) > 0 {
					t.Errorf("through a cache directory %v: %d frames differ with prefetching, first %s", cached, len(diffs), diffs[0])
				}
				if !reflect.DeepEqual(gotUsed, wantUsed) {
					t.Errorf("through a cache directory %v: modules reported %v with prefetching, %v without", cached, gotUsed, wantUsed)
				}
			}
		})
	}
}

// A prefetch loads each module once, however many threads and frames ask
// for it while it loads, and stops at the limit.
func TestPrefetchLoadsOnce(t *testing.T) {
	mods := make([]*Module, 6)
	for i := range mods {
		mods[i] = &Module{Base: uint64(i+1) << 20, Size: 1 << 16, CodeFile: fmt.Sprint("m", i)}
	}
	var calls [6]atomic.Int32
	c := newDebugCache(modulesFunc(func(_ context.Context, m *Module) Debug {
		calls[int(m.Base>>20)-1].Add(1)
		return Debug{}
	}))
	c.prefetch(context.Background(), mods[:4], 3)
	c.prefetch(context.Background(), mods, 3)
	for _, m := range mods[:2] {
		if d := c.get(context.Background(), m); d.SymbolStatus != StatusMissing {
			t.Errorf("%s: status %v", m.CodeFile, d.SymbolStatus)
		}
	}
	c.wait()
	for i := range calls {
		want := int32(0)
		if i < 3 {
			want = 1 // the three prefetched, of which a frame asked for two
		}
		if n := calls[i].Load(); n != want {
			t.Errorf("module %d loaded %d times, want %d", i, n, want)
		}
	}
	if c.status(mods[2]) != nil {
		t.Error("a module only prefetched is reported as needed")
	}
	if c.status(mods[0]) == nil {
		t.Error("a module a frame asked for is not reported")
	}
}

// A prefetch worker skips a module that a frame is loading rather than
// wait for it: with one worker, the next module loads while the first is
// still loading.
func TestPrefetchSkipsModulesLoading(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	slow, next := &Module{Base: 1 << 20, Size: 1 << 16}, &Module{Base: 2 << 20, Size: 1 << 16}
	nextLoaded := make(chan struct{})
	c := newDebugCache(modulesFunc(func(_ context.Context, m *Module) Debug {
		if m == slow {
			t.Error("the worker loaded a module a frame was loading")
		} else {
			close(nextLoaded)
		}
		return Debug{}
	}))
	c.prefetch(context.Background(), []*Module{slow, next}, 2)
	// A frame starts loading the first module before the worker, which
	// has not run on the one processor yet, gets to it.
	c.mu.Lock()
	loading := make(chan struct{})
	c.loading[slow] = loading
	c.mu.Unlock()
	select {
	case <-nextLoaded:
	case <-time.After(10 * time.Second):
		t.Error("the worker waited for a module a frame was loading")
	}
	c.mu.Lock()
	c.found[slow] = &Debug{}
	delete(c.loading, slow)
	c.mu.Unlock()
	close(loading)
	c.wait()
}
