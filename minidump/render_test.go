package minidump

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/synthetic from the current writer and renderer")

// TestRenderGolden keeps the synthetic dumps in testdata/synthetic (so the
// CLI can be tried on them) and pins the text and JSON renderings of each.
// Regenerate with `go tool task fixtures` after a deliberate change.
func TestRenderGolden(t *testing.T) {
	dir := filepath.Join("testdata", "synthetic")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range syntheticDumps() {
		t.Run(s.name, func(t *testing.T) {
			f, err := FromBytes(s.dump)
			if err != nil {
				t.Fatal(err)
			}
			c := f.ReadAll()
			var text bytes.Buffer
			if err := c.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{s.name + ".dmp": s.dump, s.name + ".txt": text.Bytes(), s.name + ".json": append(js, '\n')}
			for name, got := range files {
				path := filepath.Join(dir, name)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run `go tool task fixtures` to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the current output; if the change is intended, run `go tool task fixtures`\n--- got ---\n%s", path, got)
				}
			}
		})
	}
}
