package minidump

import (
	"os"
	"path/filepath"
	"testing"
)

// peersDir returns ../shared/fixtures/peers relative to the repository root, skipping the test
// (or failing it when CAIRN_REQUIRE_PEERS=1) when the directory is absent.
func peersDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "fixtures", "peers"))
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
