package redis_test

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/redis"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

const addr = "127.0.0.1:6379"

// client connects to the test server, starting it when it is installed but
// down, and gives each test its own key prefix.
func client(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	if err := rdb.Ping(ctx).Err(); err != nil {
		if path, lerr := exec.LookPath("redis-server"); lerr == nil {
			_ = exec.Command(path, "--daemonize", "yes", "--port", "6379", "--bind", "127.0.0.1").Run()
			for range 50 {
				if err = rdb.Ping(ctx).Err(); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if err != nil {
			rdb.Close()
			testtools.Missing(t, "Redis at "+addr, "apt-get install redis-server && redis-server --daemonize yes")
		}
	}
	prefix := fmt.Sprintf("cairntest:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb, prefix
}

func TestConformance(t *testing.T) {
	storagetest.TestCache(t, func(t *testing.T) cache.Cache {
		rdb, prefix := client(t)
		return redis.NewCache(rdb, prefix)
	})
}

// A burst of the whole count passes, the next event is refused with a
// retry delay of one emission interval, and the allowance refills.
func TestLimiterBurstAndRefill(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := client(t)
	l := redis.NewLimiter(rdb, prefix)
	lim := redis.Limit{Count: 5, Window: 500 * time.Millisecond}
	for i := range 5 {
		d, err := l.Allow(ctx, "key", lim, 1)
		if err != nil || !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("event %d: %+v, %v", i, d, err)
		}
	}
	d, err := l.Allow(ctx, "key", lim, 1)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("sixth event: %+v, %v; want refused with retry ≤ 100ms", d, err)
	}
	if d, _ := l.Allow(ctx, "other", lim, 5); !d.Allowed {
		t.Fatal("keys share an allowance")
	}
	if d, _ := l.Allow(ctx, "other", lim, 6); d.Allowed {
		t.Fatal("request larger than the burst allowed")
	}
	time.Sleep(d.RetryAfter + 10*time.Millisecond)
	if d, err := l.Allow(ctx, "key", lim, 1); err != nil || !d.Allowed {
		t.Fatalf("after waiting: %+v, %v", d, err)
	}
	if d, _ := l.Allow(ctx, "free", redis.Limit{}, 1000); !d.Allowed {
		t.Fatal("zero limit refused")
	}
}

// Concurrent callers sharing a key never get more than the burst through:
// the check and the update are one atomic script.
func TestLimiterConcurrent(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := client(t)
	limiters := []*redis.Limiter{redis.NewLimiter(rdb, prefix), redis.NewLimiter(rdb, prefix)}
	lim := redis.Limit{Count: 100, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				d, err := limiters[i%2].Allow(ctx, "shared", lim, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("%d events allowed, want exactly 100", n)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		b.Skip("Redis down")
	}
	l := redis.NewLimiter(rdb, fmt.Sprintf("cairnbench:%d:", time.Now().UnixNano()))
	lim := redis.Limit{Count: 1 << 30, Window: time.Second}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(ctx, "k", lim, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
