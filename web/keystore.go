package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/meta"
)

// KeyStore is the ingest.KeyStore over the metadata store, with a cache in
// front: ingest asks for a key and a project on every request, and they
// change rarely. A disabled key takes effect within the TTL.
type KeyStore struct {
	meta  meta.Store
	cache cache.Cache
	ttl   time.Duration
}

var _ ingest.KeyStore = (*KeyStore)(nil)

// negativeTTL is how long an unknown key or project is remembered as
// unknown: short, so a key created a moment later works almost at once,
// but long enough that a client hammering a wrong DSN costs no queries.
const negativeTTL = 5 * time.Second

// NewKeyStore returns a KeyStore caching lookups for ttl (default 30s).
func NewKeyStore(m meta.Store, c cache.Cache, ttl time.Duration) *KeyStore {
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	return &KeyStore{meta: m, cache: c, ttl: ttl}
}

// cached is what the cache holds: the value, or nothing for "unknown".
type cached[T any] struct {
	Found bool `json:"f"`
	Value T    `json:"v"`
}

func lookup[T any](ctx context.Context, ks *KeyStore, key string, load func() (T, error), unknown error) (T, error) {
	var zero T
	if b, ok, err := ks.cache.Get(ctx, key); err == nil && ok {
		var c cached[T]
		if json.Unmarshal(b, &c) == nil {
			if !c.Found {
				return zero, unknown
			}
			return c.Value, nil
		}
	}
	v, err := load()
	if errors.Is(err, meta.ErrNotFound) {
		b, _ := json.Marshal(cached[T]{})
		_ = ks.cache.Set(ctx, key, b, negativeTTL)
		return zero, unknown
	}
	if err != nil {
		return zero, err
	}
	b, _ := json.Marshal(cached[T]{Found: true, Value: v})
	// A cache failure costs a query next time, nothing more.
	_ = ks.cache.Set(ctx, key, b, ks.ttl)
	return v, nil
}

// Key implements ingest.KeyStore.
func (ks *KeyStore) Key(ctx context.Context, public string) (ingest.Key, error) {
	return lookup(ctx, ks, "dsnkey:"+public, func() (ingest.Key, error) {
		k, err := ks.meta.KeyByPublic(ctx, public)
		if err != nil {
			return ingest.Key{}, err
		}
		return ingest.Key{Public: k.Public, ProjectID: k.ProjectID, Disabled: k.Disabled,
			RateLimit: ingest.Limit{Count: k.RateLimitCount, Window: k.RateLimitWindow}}, nil
	}, ingest.ErrUnknownKey)
}

// Project implements ingest.KeyStore.
func (ks *KeyStore) Project(ctx context.Context, id int64) (ingest.Project, error) {
	return lookup(ctx, ks, projectCacheKey(id), func() (ingest.Project, error) {
		p, err := ks.meta.Project(ctx, id)
		if err != nil {
			return ingest.Project{}, err
		}
		return ingest.Project{ID: p.ID, Slug: p.Slug, Disabled: p.Disabled, Scrub: p.Scrub, ScrubFields: p.ScrubFields}, nil
	}, ingest.ErrUnknownProject)
}

// Invalidate drops the cached key and project, after an edit through the
// API, so the change applies at once on this node.
func (ks *KeyStore) Invalidate(ctx context.Context, public string, projectID int64) error {
	err1 := ks.cache.Delete(ctx, "dsnkey:"+public)
	err2 := ks.cache.Delete(ctx, projectCacheKey(projectID))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("web: invalidate key: %w", err)
	}
	return nil
}

// InvalidateProject drops the cached project, after its settings changed,
// so this node's ingest scrubs the next event by the new ones.
func (ks *KeyStore) InvalidateProject(ctx context.Context, projectID int64) error {
	if err := ks.cache.Delete(ctx, projectCacheKey(projectID)); err != nil {
		return fmt.Errorf("web: invalidate project %d: %w", projectID, err)
	}
	return nil
}

func projectCacheKey(id int64) string { return "project:" + strconv.FormatInt(id, 10) }
