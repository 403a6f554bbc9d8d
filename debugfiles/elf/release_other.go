//go:build !linux

package elf

// releaseMapped does nothing where the pages of a mapping are not released
// explicitly.
func releaseMapped(mapped, b []byte) {}
