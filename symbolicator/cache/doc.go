// Package cache downloads debug files once and keeps derived caches,
// deduplicating concurrent work, caching misses and bounding its size.
package cache
