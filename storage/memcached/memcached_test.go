package memcached_test

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/memcached"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// server starts a private memcached on a free port for the test.
func server(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		testtools.Missing(t, "memcached", "apt-get install memcached")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "64", "-u", "nobody")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("memcached did not listen on %s", addr)
	return ""
}

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
