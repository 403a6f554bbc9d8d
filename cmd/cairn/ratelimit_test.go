//go:build !cairncli

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cairn-dev/cairn/ingest"
)

// oneKey is a key store holding one DSN key with a rate limit.
type oneKey struct{ k ingest.Key }

func (o oneKey) Key(_ context.Context, public string) (ingest.Key, error) {
	if public != o.k.Public {
		return ingest.Key{}, ingest.ErrUnknownKey
	}
	return o.k, nil
}

func (o oneKey) Project(_ context.Context, id int64) (ingest.Project, error) {
	return ingest.Project{ID: id}, nil
}

// nullSink accepts everything and keeps nothing.
type nullSink struct{}

func (nullSink) Accept(context.Context, *ingest.Accepted) error { return nil }

// Two ingest processes sharing Redis (the real server at 127.0.0.1:6379)
// together accept a key's limit, not twice it.
func TestSharedRateLimit(t *testing.T) {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379: %v (start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379)", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	key := ingest.Key{Public: hex.EncodeToString(b), ProjectID: 1, RateLimit: ingest.Limit{Count: 10, Window: time.Minute}}
	var servers []*httptest.Server
	for range 2 {
		cfg := ingest.DefaultConfig()
		lim, closeRedis := openRedisLimiter("127.0.0.1:6379")
		defer closeRedis()
		cfg.SharedLimiter = lim
		srv := httptest.NewServer(ingest.NewHandler(cfg, oneKey{key}, nullSink{}, nil))
		defer srv.Close()
		servers = append(servers, srv)
	}
	accepted, limited := 0, 0
	for i := range 30 {
		url := fmt.Sprintf("%s/api/1/store/?sentry_key=%s&sentry_version=7", servers[i%2].URL, key.Public)
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"message":"hello"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			accepted++
		case 429:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
	if accepted != 10 || limited != 20 {
		t.Errorf("%d accepted, %d limited across two processes; want 10 and 20", accepted, limited)
	}
}
