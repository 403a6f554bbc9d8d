// Package testtools finds the reference data and oracle programs tests
// compare Cairn with, and decides what happens when one is missing: on a
// developer's machine the test skips and names the command that installs
// it; under CI (CI=true) it fails, so nothing goes silently untested.
package testtools

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the repository root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// PeersDir returns ../shared/fixtures/peers relative to the repository root,
// skipping the test (or failing it when CAIRN_REQUIRE_PEERS=1) when the
// directory is absent.
func PeersDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), "..", "shared", "fixtures", "peers")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if os.Getenv("CAIRN_REQUIRE_PEERS") == "1" {
			t.Fatalf("peer fixtures missing at %s (CAIRN_REQUIRE_PEERS=1): clone the shared directory beside the repository", dir)
		}
		t.Skipf("peer fixtures not present at %s; place ../shared beside the repository to run this test", dir)
	}
	return dir
}

// Missing skips the test naming how to install what is absent, or fails it
// under CI.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	msg := what + " not found; install it with: " + install
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ToolsDir is where `go tool task tools` and .ci/run install oracle tools.
func ToolsDir() string {
	if d := os.Getenv("CAIRN_TOOLS_DIR"); d != "" {
		return d
	}
	return "/opt/cairn-tools"
}

// BreakpadTool finds one of Breakpad's programs (minidump_dump,
// minidump_stackwalk, dump_syms) from the npm package minidump@0.26.0:
// $CAIRN_BREAKPAD_BIN first, then the default install.
func BreakpadTool(t testing.TB, name string) string {
	t.Helper()
	for _, d := range []string{os.Getenv("CAIRN_BREAKPAD_BIN"), filepath.Join(ToolsDir(), "node_modules", "minidump", "bin", "linux-x64")} {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Missing(t, "Breakpad's "+name, "go tool task tools (npm install --ignore-scripts minidump@0.26.0 in "+ToolsDir()+"), or set CAIRN_BREAKPAD_BIN")
	return ""
}

// SentryCLI finds the real sentry-cli binary: $CAIRN_SENTRY_CLI first, then
// the npm install in the tools directory.
func SentryCLI(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CAIRN_SENTRY_CLI"), filepath.Join(ToolsDir(), "node_modules", "@sentry", "cli-linux-x64", "bin", "sentry-cli")} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Missing(t, "sentry-cli", "go tool task tools (npm install @sentry/cli@3.8.0 in "+ToolsDir()+"), or set CAIRN_SENTRY_CLI")
	return ""
}
