// Package memcache is the in-process cache backend: a size-bounded LRU with
// per-entry expiry. It is what the all-in-one server uses; clusters swap
// in a shared cache so that every node sees the same values.
package memcache

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/storage/cache"
)

// Cache is a cache.Cache held in memory. The least recently used entry is
// evicted when MaxEntries is reached.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	lru     list.List // front: most recently used
	now     func() time.Time
}

type entry struct {
	key     string
	value   []byte
	expires time.Time
}

var _ cache.Cache = (*Cache)(nil)

// New returns a cache holding at most maxEntries values (at least 1).
func New(maxEntries int) *Cache {
	return &Cache{max: max(maxEntries, 1), entries: make(map[string]*list.Element), now: time.Now}
}

// Get implements cache.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("memcache: get: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		return nil, false, nil
	}
	c.lru.MoveToFront(el)
	return e.value, true, nil
}

// Set implements cache.Cache.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcache: set: %w", err)
	}
	ttl = max(ttl, time.Millisecond)
	v := append([]byte(nil), value...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		e.value, e.expires = v, c.now().Add(ttl)
		c.lru.MoveToFront(el)
		return nil
	}
	c.entries[key] = c.lru.PushFront(&entry{key: key, value: v, expires: c.now().Add(ttl)})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*entry).key)
	}
	return nil
}

// Delete implements cache.Cache.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcache: delete: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.Remove(el)
		delete(c.entries, key)
	}
	return nil
}
