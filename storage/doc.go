// Package storage defines the interfaces of Cairn's persistent state (blobs,
// queue, metadata, events, cache) and their embedded and production backends.
package storage
