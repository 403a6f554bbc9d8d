package macho

import (
	"os"
	"testing"
)

func BenchmarkOpen(b *testing.B) {
	v := fixture(b, "hello-fat.dSYM")
	b.ReportAllocs()
	for b.Loop() {
		objs, err := Open(v.path)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range objs {
			o.Close()
		}
	}
}

func BenchmarkSymbols(b *testing.B) {
	raw, err := os.ReadFile(fixture(b, "hello-arm64").path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		objs, err := NewObjects(memReader{raw}, int64(len(raw)), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for range objs[0].Symbols() {
		}
	}
}
