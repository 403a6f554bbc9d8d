// Package storagetest is the conformance suite of the storage interfaces.
// Every backend's tests call the function for its interface with a
// constructor of fresh, empty stores; the embedded backends run it on
// temporary directories, production backends on their test servers.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/cache"
)

// TestBlob checks a blob.Store.
func TestBlob(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()
	t.Run("PutOpenSizeDelete", func(t *testing.T) {
		s := newStore(t)
		data := bytes.Repeat([]byte("minidump"), 100_000)
		if err := s.Put(ctx, "attachments/1/abc/0", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		got, err := blob.ReadAll(ctx, s, "attachments/1/abc/0")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, err %v; want %d bytes", len(got), err, len(data))
		}
		if n, err := s.Size(ctx, "attachments/1/abc/0"); err != nil || n != int64(len(data)) {
			t.Fatalf("Size = %d, %v", n, err)
		}
		if err := s.Delete(ctx, "attachments/1/abc/0"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "attachments/1/abc/0"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
		}
		if _, err := s.Size(ctx, "attachments/1/abc/0"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Size after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "attachments/1/abc/0"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []string{"first version", "second"} {
			if err := s.Put(ctx, "k", strings.NewReader(v)); err != nil {
				t.Fatal(err)
			}
			if got, err := blob.ReadAll(ctx, s, "k"); err != nil || string(got) != v {
				t.Fatalf("got %q, %v; want %q", got, err, v)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "empty", strings.NewReader("")); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Size(ctx, "empty"); err != nil || n != 0 {
			t.Fatalf("Size = %d, %v", n, err)
		}
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"", "/abs", "a//b", "../x", "a/../b", "a/./b", "trailing/", "sp ace", "new\nline"} {
			if err := s.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
			}
		}
	})
	t.Run("FailedReaderLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if err := s.Put(ctx, "broken", r); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := s.Open(ctx, "broken"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open after failed Put: %v, want ErrNotFound", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				key := fmt.Sprintf("c/%d", i)
				if err := s.Put(ctx, key, strings.NewReader(key)); err != nil {
					t.Error(err)
					return
				}
				if got, err := blob.ReadAll(ctx, s, key); err != nil || string(got) != key {
					t.Errorf("%s: got %q, %v", key, got, err)
				}
			})
		}
		wg.Wait()
	})
	t.Run("Canceled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, "x", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with canceled context: %v", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestCache checks a cache.Cache.
func TestCache(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	ctx := context.Background()
	t.Run("SetGetDelete", func(t *testing.T) {
		c := newCache(t)
		if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
			t.Fatalf("Get on empty cache: ok=%v err=%v", ok, err)
		}
		v := []byte("value")
		if err := c.Set(ctx, "k", v, time.Minute); err != nil {
			t.Fatal(err)
		}
		v[0] = 'X' // the cache must hold its own copy
		got, ok, err := c.Get(ctx, "k")
		if err != nil || !ok || string(got) != "value" {
			t.Fatalf("Get = %q, %v, %v", got, ok, err)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Fatal("Get after Delete found the key")
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		c := newCache(t)
		if err := c.Set(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "long", []byte("y"), time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // some backends count whole seconds
		if _, ok, _ := c.Get(ctx, "short"); ok {
			t.Error("expired key still present")
		}
		if _, ok, _ := c.Get(ctx, "long"); !ok {
			t.Error("unexpired key missing")
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		c := newCache(t)
		_ = c.Set(ctx, "k", []byte("1"), time.Minute)
		_ = c.Set(ctx, "k", []byte("2"), time.Minute)
		if got, ok, _ := c.Get(ctx, "k"); !ok || string(got) != "2" {
			t.Fatalf("Get = %q, %v; want 2", got, ok)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		c := newCache(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 200 {
					k := fmt.Sprintf("k%d", j%20)
					_ = c.Set(ctx, k, []byte(k), time.Minute)
					if got, ok, err := c.Get(ctx, k); err != nil || ok && string(got) != k {
						t.Errorf("worker %d: Get(%s) = %q, %v", i, k, got, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
