package stackwalk

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync"
)

// debugCache asks the Modules implementation once per module, and loads
// modules ahead of the walk when asked to prefetch.
type debugCache struct {
	p Modules

	mu      sync.Mutex
	found   map[*Module]*Debug
	loading map[*Module]chan struct{}
	// used holds the modules a frame asked for; a module only prefetched
	// is not reported, as Breakpad reports only what the walk needed.
	used map[*Module]bool
	// ahead counts the modules prefetched so far, which Options.Prefetch
	// bounds per process.
	ahead   int
	workers sync.WaitGroup
}

func newDebugCache(p Modules) *debugCache {
	return &debugCache{p: p, found: map[*Module]*Debug{}, loading: map[*Module]chan struct{}{}, used: map[*Module]bool{}}
}

// get returns a module's debug information for a frame, loading it or
// waiting for a prefetch already loading it.
func (c *debugCache) get(ctx context.Context, m *Module) *Debug {
	c.mu.Lock()
	c.used[m] = true
	c.mu.Unlock()
	return c.load(ctx, m, true)
}

// status is what was found for a module a frame needed, or nil.
func (c *debugCache) status(m *Module) *Debug {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.used[m] {
		return nil
	}
	return c.found[m]
}

// load returns a module's debug information, loading it unless another
// goroutine is: then it waits for that one when wait is set, else returns
// nil at once.
func (c *debugCache) load(ctx context.Context, m *Module, wait bool) *Debug {
	c.mu.Lock()
	if d, ok := c.found[m]; ok {
		c.mu.Unlock()
		return d
	}
	if done, ok := c.loading[m]; ok {
		c.mu.Unlock()
		if !wait {
			return nil
		}
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.found[m]
	}
	done := make(chan struct{})
	c.loading[m] = done
	c.mu.Unlock()

	d := &Debug{}
	if c.p != nil {
		*d = c.p.Find(ctx, m)
	}
	if d.SymbolStatus == StatusUnused {
		d.SymbolStatus = StatusMissing
		if d.Symbols != nil {
			d.SymbolStatus = StatusFound
		}
	}
	if d.UnwindStatus == StatusUnused {
		d.UnwindStatus = StatusMissing
		if d.Unwinder != nil {
			d.UnwindStatus = StatusFound
		}
	}
	c.mu.Lock()
	c.found[m] = d
	delete(c.loading, m)
	c.mu.Unlock()
	close(done)
	return d
}

// prefetch starts loading the modules not yet loaded or loading, in
// order, on up to GOMAXPROCS goroutines, as long as fewer than limit
// modules were prefetched for the whole walk: a guess that misses costs at
// most limit loads.
func (c *debugCache) prefetch(ctx context.Context, mods []*Module, limit int) {
	c.mu.Lock()
	var todo []*Module
	for _, m := range mods {
		if c.ahead >= limit {
			break
		}
		if _, ok := c.found[m]; ok {
			continue
		}
		if _, ok := c.loading[m]; ok {
			continue
		}
		todo = append(todo, m)
		c.ahead++
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	next := make(chan *Module, len(todo))
	for _, m := range todo {
		next <- m
	}
	close(next)
	for range min(len(todo), runtime.GOMAXPROCS(0)) {
		c.workers.Add(1)
		go func() {
			defer c.workers.Done()
			// A module the walk or another worker is loading is
			// skipped, not waited for: the worker loads the next one
			// meanwhile.
			for m := range next {
				c.load(ctx, m, false)
			}
		}()
	}
}

// wait returns when every prefetch has finished, so that nothing is
// still opening files when the caller closes its Modules.
func (c *debugCache) wait() { c.workers.Wait() }

// prefetchWindow is how many bytes above a thread's stack pointer
// likelyModules reads: the callers of the first few dozen frames.
const prefetchWindow = 16 << 10

// likelyModules lists, in order of first appearance and at most limit,
// the loaded modules that the thread's instruction pointer and the words
// just above its stack pointer point into: the modules its frames will
// most likely be in. (Data pointers into a module's image count too; the
// limit bounds what such guesses cost.)
func likelyModules(c *Context, stack []byte, base uint64, set *moduleSet, limit int) []*Module {
	var out []*Module
	add := func(addr uint64) bool {
		m := set.find(addr)
		if m == nil {
			return len(out) < limit
		}
		for _, o := range out {
			if o == m {
				return true
			}
		}
		out = append(out, m)
		return len(out) < limit
	}
	if !add(c.PC()) {
		return out
	}
	word := c.Arch.PointerSize()
	if sp := c.SP(); sp > base && sp-base < uint64(len(stack)) {
		stack = stack[sp-base:]
	}
	stack = stack[:min(len(stack), prefetchWindow)]
	for i := 0; i+word <= len(stack); i += word {
		var v uint64
		if word == 4 {
			v = uint64(binary.LittleEndian.Uint32(stack[i:]))
		} else {
			v = binary.LittleEndian.Uint64(stack[i:])
		}
		if !add(v) {
			break
		}
	}
	return out
}
