package minidump

import (
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// peersDir returns ../shared/fixtures/peers (see testtools.PeersDir).
func peersDir(t testing.TB) string {
	t.Helper()
	return testtools.PeersDir(t)
}
