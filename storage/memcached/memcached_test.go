package memcached_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/memcached"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// server starts a private memcached on a free port for the test.
func server(t *testing.T) string { return testtools.StartMemcached(t) }

func newCache(t *testing.T, addr string) *memcached.Cache {
	c, err := memcached.New(memcached.Options{Servers: []string{addr}, Prefix: t.Name() + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	addr := server(t)
	storagetest.TestCache(t, func(t *testing.T) cache.Cache { return newCache(t, addr) })
}

// Keys memcached refuses (too long, spaces, newlines) still work.
func TestUnusualKeys(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, server(t))
	keys := []string{strings.Repeat("k", 400), "with space", "new\nline", "h:abc", ""}
	for i, k := range keys {
		if err := c.Set(ctx, k, []byte{byte(i)}, time.Minute); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		if v, ok, err := c.Get(ctx, k); err != nil || !ok || len(v) != 1 || v[0] != byte(i) {
			t.Errorf("Get(%q) = %v, %v, %v", k, v, ok, err)
		}
	}
}
