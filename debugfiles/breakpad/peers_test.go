package breakpad

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// peersDir returns ../shared/fixtures/peers relative to the repository root,
// skipping the test (or failing it when CAIRN_REQUIRE_PEERS=1) when the
// directory is absent.
func peersDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "fixtures", "peers"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if os.Getenv("CAIRN_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer fixtures missing at %s (CAIRN_REQUIRE_PEERS=1): clone the shared directory beside the repository", dir)
		}
		t.Skipf("peer fixtures not present at %s; place ../shared beside the repository to run this test", dir)
	}
	return dir
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
