package breakpad

import (
	"github.com/cairn-dev/cairn/internal/testtools"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// peersDir returns ../shared/fixtures/peers (see testtools.PeersDir).
func peersDir(t testing.TB) string {
	t.Helper()
	return testtools.PeersDir(t)
}

// peerSymFiles lists every .sym file of the peers' symbol stores, relative
// to peersDir.
func peerSymFiles(t testing.TB) (string, []string) {
	t.Helper()
	root := peersDir(t)
	var out []string
	for _, sub := range []string{"breakpad/symbols", "rust-minidump/symbols"} {
		err := filepath.WalkDir(filepath.Join(root, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".sym") {
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("no .sym files under %s", root)
	}
	return root, out
}

// largestPeerSym is the biggest peer symbol file (crash-client.sym, 4 MB).
func largestPeerSym(t testing.TB) string {
	t.Helper()
	root, files := peerSymFiles(t)
	best, bestSize := "", int64(-1)
	for _, f := range files {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > bestSize {
			best, bestSize = filepath.Join(root, f), st.Size()
		}
	}
	return best
}
