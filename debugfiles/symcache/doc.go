// Package symcache writes and reads the symcache: a compact, versioned,
// mmap-able map from address to function, file, line and inline chain.
package symcache
