package applecrash

import (
	"bytes"
	"testing"
)

// BenchmarkParse measures a whole parse of each kind of report.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"ios_arm64.crash", "macos_x86_64.crash", "macos13_arm64.ips", "legacy109.ips"} {
		data := readTestdata(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data), 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkImageAt measures the lookup the symbolicator does per frame.
func BenchmarkImageAt(b *testing.B) {
	r := parseFile(b, "ios_arm64.crash")
	b.ReportAllocs()
	for b.Loop() {
		r.ImageAt(0x1c4b1edec)
	}
}
