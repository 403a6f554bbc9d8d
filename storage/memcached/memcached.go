// Package memcached is a cache.Cache on memcached servers
// (github.com/bradfitz/gomemcache), for views computed from the stores
// (issue lists, counts) that many processes read and any may recompute.
//
// Two memcached limits shape it. Keys are at most 250 bytes without spaces
// or control characters, so longer or unusual keys are replaced by their
// SHA-256. Expiry counts whole seconds on the server's clock, so each
// value carries its own deadline in milliseconds, checked on Get, and the
// server's expiry, rounded up, only reclaims the memory.
package memcached

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cairn-dev/cairn/storage/cache"
)

// maxKey is memcached's key length limit.
const maxKey = 250

// headerLen is the size of the deadline stored before each value.
const headerLen = 8

// Cache is a cache.Cache on one or more memcached servers; keys are spread
// over the servers by the client's hash.
type Cache struct {
	c      *memcache.Client
	prefix string
}

var _ cache.Cache = (*Cache)(nil)

// Options configure a Cache.
type Options struct {
	// Servers are host:port addresses.
	Servers []string
	// Prefix namespaces the keys of one installation.
	Prefix string
	// Timeout bounds each network operation (default 500ms): the client
	// takes no context, so this is what keeps a dead server from stalling
	// requests.
	Timeout time.Duration
}

// New returns a cache on the given servers. No connection is made until
// the first call.
func New(o Options) (*Cache, error) {
	if len(o.Servers) == 0 {
		return nil, errors.New("memcached: no servers")
	}
	c := memcache.New(o.Servers...)
	c.Timeout = o.Timeout
	if c.Timeout <= 0 {
		c.Timeout = 500 * time.Millisecond
	}
	c.MaxIdleConns = 16
	return &Cache{c: c, prefix: o.Prefix}, nil
}

// key maps a cache key to a legal memcached key.
func (c *Cache) key(k string) string {
	full := c.prefix + k
	if len(full) <= maxKey && legal(full) {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	return "h:" + hex.EncodeToString(sum[:])
}

func legal(k string) bool {
	if k == "" || len(k) > 1 && k[:2] == "h:" {
		return false // reserved for hashed keys, so the two never collide
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] == 0x7f {
			return false
		}
	}
	return true
}

// Get returns the value of key and true, or false when it is absent or
// past its deadline.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("memcached: get %q: %w", key, err)
	}
	it, err := c.c.Get(c.key(key))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("memcached: get %q: %w", key, err)
	}
	if len(it.Value) < headerLen {
		return nil, false, nil // not written by this package
	}
	deadline := int64(binary.BigEndian.Uint64(it.Value))
	if time.Now().UnixMilli() >= deadline {
		return nil, false, nil
	}
	return it.Value[headerLen:], true, nil
}

// Set stores a copy of value under key for ttl (at least a millisecond).
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached: set %q: %w", key, err)
	}
	ttl = max(ttl, time.Millisecond)
	buf := make([]byte, headerLen+len(value))
	binary.BigEndian.PutUint64(buf, uint64(time.Now().Add(ttl).UnixMilli()))
	copy(buf[headerLen:], value)
	// Expiration up to 30 days is relative; beyond, memcached reads it as a
	// Unix time, so long TTLs are sent as one.
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs > 30*24*3600 {
		secs = time.Now().Unix() + secs
	}
	if err := c.c.Set(&memcache.Item{Key: c.key(key), Value: buf, Expiration: int32(secs)}); err != nil {
		return fmt.Errorf("memcached: set %q: %w", key, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached: delete %q: %w", key, err)
	}
	err := c.c.Delete(c.key(key))
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return fmt.Errorf("memcached: delete %q: %w", key, err)
	}
	return nil
}

// Close releases idle connections.
func (c *Cache) Close() error {
	return c.c.Close()
}
