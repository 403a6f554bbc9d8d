package pdb_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/fixtures"
)

var update = flag.Bool("update", false, "rewrite testdata/symcache.sha256")

// symcacheDigests is where TestSymcacheStable keeps the digests.
const symcacheDigests = "testdata/symcache.sha256"

// TestSymcacheStable builds the symcache of the PDB of every PE fixture
// and compares its SHA-256 with the one recorded in
// testdata/symcache.sha256. How the reader hands functions over and how
// the writer holds its tables may change; the bytes they produce may not
// by accident: a new symcache.Version, or a writer that lays the same
// format out otherwise (shares more string bytes, say), rewrites the
// digests with -update.
// A fixture build without a recorded digest is reported, not failed.
func TestSymcacheStable(t *testing.T) {
	want := readDigests(t)
	got := map[string]string{}
	for _, name := range fixtureImages() {
		t.Run(name, func(t *testing.T) {
			img := fixtureImage(t, name)
			// The PDB names its sources by the fixture's absolute path,
			// so the bytes depend on where the fixture cache is: the
			// digests are recorded by that path.
			key := fixtures.GetDir(t, name)
			o, err := pdb.Open(img.pdb)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			var buf bytes.Buffer
			if err := symcache.Write(&buf, o, symcache.Options{}); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(buf.Bytes())
			got[key] = hex.EncodeToString(sum[:])
			switch w, ok := want[key]; {
			case *update:
			case !ok:
				t.Logf("%s: no digest recorded for this build (%s)", key, got[key])
			case w != got[key]:
				t.Errorf("%s: symcache digest %s, want %s", key, got[key], w)
			}
		})
	}
	if *update {
		writeDigests(t, got)
	}
}

func readDigests(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(symcacheDigests)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, sum, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: malformed line %q", symcacheDigests, line)
		}
		out[key] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeDigests(t *testing.T, sums map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# SHA-256 of the symcache (symcache.Write) of the PDB of each PE fixture,\n" +
		"# by the fixture's directory, which names its build and its place (the PDB\n" +
		"# records source paths under it). Rewritten with\n" +
		"# go test -run TestSymcacheStable -update.\n")
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, sums[k])
	}
	if err := os.WriteFile(symcacheDigests, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
