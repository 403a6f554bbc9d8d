package service

import (
	"container/list"
	"errors"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
)

// pool keeps derived caches open between requests, so that a warm request
// maps nothing and verifies nothing: a cache file is opened and its
// checksum checked once per process. Entries are reference counted; the
// least recently used unreferenced ones are closed past the limit.
type pool struct {
	max    int
	flight singleflight.Group

	mu    sync.Mutex
	items map[string]*handle
	lru   *list.List // of *handle, most recent first
}

// handle is one open derived cache.
type handle struct {
	path string
	sym  *symcache.Cache
	cfi  *cficache.Cache
	refs int
	elem *list.Element
	// gone marks a handle evicted while referenced: the last release
	// closes it.
	gone bool
}

func newPool(max int) *pool {
	return &pool{max: max, items: map[string]*handle{}, lru: list.New()}
}

// acquire returns the open cache at path, opening (and verifying) it on
// first use; the caller releases it.
func (p *pool) acquire(path string, cfi bool) (*handle, error) {
	p.mu.Lock()
	if h := p.items[path]; h != nil {
		h.refs++
		p.lru.MoveToFront(h.elem)
		p.mu.Unlock()
		return h, nil
	}
	p.mu.Unlock()
	v, err, _ := p.flight.Do(path, func() (any, error) {
		h := &handle{path: path}
		if cfi {
			c, err := cficache.Open(path)
			if err != nil {
				return nil, err
			}
			if err := c.Verify(); err != nil {
				c.Close()
				return nil, err
			}
			h.cfi = c
		} else {
			c, err := symcache.Open(path)
			if err != nil {
				return nil, err
			}
			if err := c.Verify(); err != nil {
				c.Close()
				return nil, err
			}
			h.sym = c
		}
		return h, nil
	})
	if err != nil {
		return nil, err
	}
	h := v.(*handle)
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.items[path]; cur != nil && cur != h {
		// A concurrent flight for the same path finished first.
		cur.refs++
		p.lru.MoveToFront(cur.elem)
		if h.elem == nil {
			h.closeFiles()
		}
		return cur, nil
	}
	if h.elem == nil {
		h.elem = p.lru.PushFront(h)
		p.items[path] = h
	}
	h.refs++
	p.evictLocked()
	return h, nil
}

// release drops a reference taken by acquire.
func (p *pool) release(h *handle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.refs--
	if h.refs == 0 && h.gone {
		h.closeFiles()
		return
	}
	p.evictLocked()
}

func (p *pool) evictLocked() {
	for e := p.lru.Back(); e != nil && len(p.items) > p.max; {
		prev := e.Prev()
		h := e.Value.(*handle)
		if h.refs == 0 {
			p.lru.Remove(e)
			delete(p.items, h.path)
			h.closeFiles()
		}
		e = prev
	}
}

// close closes every unreferenced cache and marks the others to close on
// release.
func (p *pool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for path, h := range p.items {
		delete(p.items, path)
		p.lru.Remove(h.elem)
		if h.refs == 0 {
			errs = append(errs, h.closeFiles())
		} else {
			h.gone = true
		}
	}
	return errors.Join(errs...)
}

func (h *handle) closeFiles() error {
	var err error
	if h.sym != nil {
		err = h.sym.Close()
	}
	if h.cfi != nil {
		err = errors.Join(err, h.cfi.Close())
	}
	return err
}
