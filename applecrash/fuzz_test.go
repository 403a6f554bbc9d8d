package applecrash

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// testdataFiles lists every fixture, the damaged ones included.
func testdataFiles(t testing.TB) []string {
	var out []string
	for _, pattern := range []string{"*.crash", "*.ips", "*.bin"} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatal("no testdata")
	}
	return out
}

// checkReport exercises what a consumer reads and the invariants Parse keeps.
func checkReport(t *testing.T, r *Report) {
	if r.Format != FormatText && r.Format != FormatIPS {
		t.Errorf("format %q", r.Format)
	}
	if r.Metadata == nil {
		t.Error("nil Metadata")
	}
	if r.CrashedThread < -1 {
		t.Errorf("crashed thread %d", r.CrashedThread)
	}
	for _, th := range r.Threads {
		for _, f := range th.Frames {
			r.ImageAt(f.Address)
		}
	}
	for _, im := range r.Images {
		if im.UUID != "" && len(im.UUID) != 36 {
			t.Errorf("uuid %q", im.UUID)
		}
	}
}

// FuzzParse feeds arbitrary bytes to Parse and both format parsers. Seeds are
// every testdata file.
func FuzzParse(f *testing.F) {
	for _, p := range testdataFiles(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := Parse(bytes.NewReader(data), 0); err == nil {
			checkReport(t, r)
		}
		if r, err := ParseText(data); err == nil {
			checkReport(t, r)
		}
		if r, err := ParseIPS(data); err == nil {
			checkReport(t, r)
		}
	})
}

// TestTruncations cuts every fixture at 1/16 steps: each prefix yields a
// report or an error, never a panic, and never an allocation out of
// proportion to its length.
func TestTruncations(t *testing.T) {
	for _, p := range testdataFiles(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(p), func(t *testing.T) {
			for i := 0; i <= 16; i++ {
				n := len(data) * i / 16
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				if r, err := Parse(bytes.NewReader(data[:n]), 0); err == nil {
					checkReport(t, r)
				}
				runtime.ReadMemStats(&ms1)
				// Decoded structures are larger than their text, but by a
				// constant factor plus a fixed cost.
				if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 64*uint64(n)+(1<<20) {
					t.Errorf("prefix of %d bytes: allocated %d bytes", n, grew)
				}
			}
		})
	}
}
