package memcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.TestCache(t, func(t *testing.T) cache.Cache { return memcache.New(1000) })
}

// The least recently used entry goes first when the cache is full.
func TestEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	c := memcache.New(3)
	for i := range 3 {
		c.Set(ctx, fmt.Sprint(i), []byte{byte(i)}, time.Minute)
	}
	c.Get(ctx, "0") // 1 is now the least recently used
	c.Set(ctx, "3", []byte{3}, time.Minute)
	if _, ok, _ := c.Get(ctx, "1"); ok {
		t.Error("least recently used entry kept")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok, _ := c.Get(ctx, k); !ok {
			t.Errorf("entry %s evicted", k)
		}
	}
}
