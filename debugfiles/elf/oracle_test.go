package elf

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const sentryCLIInstall = "mkdir -p /opt/cairn-tools && cd /opt/cairn-tools && npm install --no-audit --no-fund @sentry/cli@3.8.0"

// sentryCLI finds the real sentry-cli ($CAIRN_SENTRY_CLI or the copy under
// /opt/cairn-tools). Without it the test is skipped, or fails when CI=true.
func sentryCLI(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CAIRN_SENTRY_CLI"), "/opt/cairn-tools/node_modules/@sentry/cli-linux-x64/bin/sentry-cli"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "sentry-cli not found; set CAIRN_SENTRY_CLI or install it with: " + sentryCLIInstall
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// sentryCheck is what `sentry-cli debug-files check` reports for a file.
type sentryCheck struct {
	Type     string
	DebugID  string
	CodeID   string
	Arch     string
	Features string
	// Kind is the long kind name of the text output ("executable", ...).
	Kind string
}

func runSentryCheck(t *testing.T, cli, path string) sentryCheck {
	t.Helper()
	// sentry-cli exits 1 for files it deems unusable (a nil debug id) but
	// still prints its findings.
	out, err := exec.Command(cli, "debug-files", "check", "--json", path).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("sentry-cli debug-files check --json %s: %v", path, err)
	}
	var j struct {
		Type     string `json:"type"`
		Variants []struct {
			DebugID string  `json:"debug_id"`
			CodeID  *string `json:"code_id"`
			Arch    string  `json:"arch"`
		} `json:"variants"`
		Features string `json:"features"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatalf("sentry-cli output: %v\n%s", err, out)
	}
	if len(j.Variants) != 1 {
		t.Fatalf("sentry-cli reports %d variants for %s", len(j.Variants), path)
	}
	c := sentryCheck{Type: j.Type, DebugID: j.Variants[0].DebugID, Arch: j.Variants[0].Arch, Features: j.Features}
	if j.Variants[0].CodeID != nil {
		c.CodeID = *j.Variants[0].CodeID
	}
	text, err := exec.Command(cli, "debug-files", "check", path).Output()
	if err != nil && len(text) == 0 {
		t.Fatalf("sentry-cli debug-files check %s: %v", path, err)
	}
	m := regexp.MustCompile(`(?m)^\s*Type: (\S+) (.+)$`).FindStringSubmatch(string(text))
	if m == nil {
		t.Fatalf("no Type line in sentry-cli output:\n%s", text)
	}
	c.Kind = strings.TrimSpace(m[2])
	return c
}

// tool returns the path of a command or skips the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not available: %v", name, err)
	}
	return p
}

func readelf(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, "readelf"), args...).Output()
	if err != nil {
		t.Fatalf("readelf %v: %v", args, err)
	}
	return string(out)
}

// readelfBuildID is the build id `readelf -n` prints, or "".
func readelfBuildID(t *testing.T, path string) string {
	m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindStringSubmatch(readelf(t, "-nW", path))
	if m == nil {
		return ""
	}
	return m[1]
}

// readelfSection is one row of `readelf -SW`.
type readelfSection struct {
	index     int
	name, typ string
	addr      uint64
	size      uint64
	flags     string
}

func readelfSections(t *testing.T, path string) []readelfSection {
	var out []readelfSection
	re := regexp.MustCompile(`^\s*\[\s*(\d+)\]\s+(.*)$`)
	for _, line := range strings.Split(readelf(t, "-SW", path), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		idx, _ := strconv.Atoi(m[1])
		f := strings.Fields(m[2])
		// name type addr off size es [flags] lk inf al
		if idx == 0 || len(f) < 9 {
			continue
		}
		s := readelfSection{index: idx, name: f[0], typ: f[1]}
		s.addr, _ = strconv.ParseUint(f[2], 16, 64)
		s.size, _ = strconv.ParseUint(f[4], 16, 64)
		if len(f) == 10 {
			s.flags = f[6]
		}
		out = append(out, s)
	}
	return out
}

// readelfLoadAddress is the VirtAddr of the first LOAD in `readelf -lW`.
func readelfLoadAddress(t *testing.T, path string) uint64 {
	for _, line := range strings.Split(readelf(t, "-lW", path), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[0] == "LOAD" {
			v, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
			if err != nil {
				t.Fatalf("readelf -lW: %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// readelfFuncs returns, for the table Symbols reads (.symtab, else
// .dynsym), the names of function symbols by address: STT_FUNC and
// STT_GNU_IFUNC, defined in an executable section, non-zero, at or above
// load. thumb clears bit 0 of addresses.
func readelfFuncs(t *testing.T, path string, load uint64, thumb bool) map[uint64][]string {
	exe := map[int]bool{}
	for _, s := range readelfSections(t, path) {
		exe[s.index] = strings.Contains(s.flags, "X")
	}
	tables := map[string]map[uint64][]string{}
	var cur map[uint64][]string
	head := regexp.MustCompile(`^Symbol table '([^']+)'`)
	for _, line := range strings.Split(readelf(t, "-sW", path), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			cur = map[uint64][]string{}
			tables[m[1]] = cur
			continue
		}
		f := strings.Fields(line)
		// Num: Value Size Type Bind Vis Ndx Name
		if cur == nil || len(f) < 8 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		if f[3] != "FUNC" && f[3] != "IFUNC" {
			continue
		}
		ndx, err := strconv.Atoi(f[6])
		if err != nil || !exe[ndx] {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 16, 64)
		if thumb {
			v &^= 1
		}
		if v == 0 || v < load {
			continue
		}
		name, _, _ := strings.Cut(f[7], "@")
		cur[v-load] = append(cur[v-load], name)
	}
	if s, ok := tables[".symtab"]; ok {
		return s
	}
	return tables[".dynsym"]
}
