//go:build !linux

package pdb

// releasePages does nothing where the pages of a mapping are not released
// explicitly.
func releasePages(b []byte) {}

// adviseRandom does nothing where pages are not mapped with advice.
func adviseRandom([]byte) {}
