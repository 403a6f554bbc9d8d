package service

import (
	"context"
	"os"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// BenchmarkMinidumpWarm processes a multi-threaded crash of a program
// with its shared libraries, every debug file already converted: the
// steady state of a symbolicator serving a crashing release.
func BenchmarkMinidumpWarm(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-thread")
	src := sources.NewFilesystem("local", crashStore(b, c), sources.DirectoryLayout{Type: sources.LayoutNative}, sources.Filters{})
	s := newService(b, src)
	data, err := os.ReadFile(c.Dump)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Minidump(context.Background(), data, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Minidump(context.Background(), data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dumps/s")
}

// BenchmarkMinidumpCold processes the same crash with an empty cache each
// time: every debug file is copied from the source and converted.
func BenchmarkMinidumpCold(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-thread")
	src := sources.NewFilesystem("local", crashStore(b, c), sources.DirectoryLayout{Type: sources.LayoutNative}, sources.Filters{})
	data, err := os.ReadFile(c.Dump)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := newService(b, src)
		b.StartTimer()
		if _, err := s.Minidump(context.Background(), data, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dumps/s")
}
