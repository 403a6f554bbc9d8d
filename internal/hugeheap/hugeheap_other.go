//go:build !linux

package hugeheap

func advisable() bool { return false }

func reserve(int) {}
