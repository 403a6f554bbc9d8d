package sources

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/symbolicator/cache"
)

// objectsKind is the cache kind of downloaded (and unwrapped) files.
const objectsKind = "objects"

// CachedFetch is a FetchFunc that downloads through c: each location is
// fetched once, a "not found" is remembered as a miss and other failures
// as errors, for the cache's expiry times. version is the format version
// of the stored downloads; bump it when Download's output changes.
func CachedFetch(c *cache.Cache, version int) FetchFunc {
	return CachedFetchLimited(c, version, 0)
}

// CachedFetchLimited is CachedFetch with downloads capped at maxBytes (see
// DownloadLimited; zero means no cap). A refused file is remembered as an
// error entry whose sidecar status is "toolarge", so the cached refusal
// still matches ErrTooLarge. The cap is not part of the cache key: a cached
// file larger than maxBytes (fetched under a higher cap) is refused too,
// and a remembered refusal lasts the cache's error expiry even if the cap
// is raised meanwhile.
func CachedFetchLimited(c *cache.Cache, version int, maxBytes int64) FetchFunc {
	return func(ctx context.Context, src Source, loc Location) (string, error) {
		k := cache.Key{Kind: objectsKind, Version: version, Source: src.ID(), ID: loc.Type.String() + ":" + loc.Path}
		e, err := c.Get(ctx, k, func(ctx context.Context, path string) (map[string]string, error) {
			err := DownloadLimited(ctx, src, loc, path, maxBytes)
			// The status rides in the sidecar so a remembered refusal
			// still reads as "permission denied" (or "too large") in
			// candidate lists.
			extra := map[string]string{"location": loc.String(), "status": StatusOf(err).String()}
			if errors.Is(err, ErrNotFound) {
				return extra, fmt.Errorf("%w: %w", cache.ErrMissing, err)
			}
			return extra, err
		})
		if err != nil {
			return "", err
		}
		if err := e.Err(); err != nil {
			if errors.Is(err, cache.ErrMissing) {
				return "", fmt.Errorf("sources: %s: %w (cached)", loc, ErrNotFound)
			}
			switch e.Extra["status"] {
			case StatusDenied.String():
				return "", fmt.Errorf("sources: %s: %w: %w", loc, ErrDenied, err)
			case StatusTooLarge.String():
				return "", fmt.Errorf("sources: %s: %w: %w", loc, ErrTooLarge, err)
			}
			return "", fmt.Errorf("sources: %s: %w", loc, err)
		}
		if maxBytes > 0 && e.Size > maxBytes {
			return "", fmt.Errorf("sources: %s: cached file is %d bytes: %w (over %d bytes)", loc, e.Size, ErrTooLarge, maxBytes)
		}
		return e.Path, nil
	}
}
