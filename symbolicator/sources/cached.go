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
	return func(ctx context.Context, src Source, loc Location) (string, error) {
		k := cache.Key{Kind: objectsKind, Version: version, Source: src.ID(), ID: loc.Type.String() + ":" + loc.Path}
		e, err := c.Get(ctx, k, func(ctx context.Context, path string) (map[string]string, error) {
			err := Download(ctx, src, loc, path)
			// The status rides in the sidecar so a remembered refusal
			// still reads as "permission denied" in candidate lists.
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
			if e.Extra["status"] == StatusDenied.String() {
				return "", fmt.Errorf("sources: %s: %w: %w", loc, ErrDenied, err)
			}
			return "", fmt.Errorf("sources: %s: %w", loc, err)
		}
		return e.Path, nil
	}
}
