//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/notify/smtptest"
)

// playwrightVersion is the playwright-core release .ci/run installs; newer
// ones may need a newer Node.js than the machine's 20.
const playwrightVersion = "1.64.1"

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
	ruleName      = "new issue → email"
	ruleEmail     = "oncall@example.com"
	// crashName is a crash whose executable's symbols are uploaded and
	// whose C library's are not, so both a symbolicated stack and a
	// missing debug file show.
	crashName = "crash-x86_64-gcc-O2-null"
)

// TestBrowser walks the product as a user does: sign in, create an alert
// rule on the Alerts page, watch a crash arrive in the issue list, read
// its symbolicated stack in every view, open the candidate list of an
// image without debug file, resolve the issue, and get the rule's email
// with the issue's link.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cairn and runs a browser")
	}
	tools := findBrowserTools(t)
	crash := fixtures.GetCrash(t, crashName)
	artifacts := artifactsDir(t)
	work := t.TempDir()
	start := time.Now()
	phase := func(name string) {
		t.Logf("%-22s %6.1fs", name, time.Since(start).Seconds())
		start = time.Now()
	}

	bin := filepath.Join(work, "cairn")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/cairn")
	build.Dir = testtools.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cairn: %v\n%s", err, out)
	}
	phase("build cairn")

	smtpd, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(smtpd.Close)

	data := filepath.Join(work, "data")
	runCairn(t, bin, adminPassword+"\n", "user", "create", "--data-dir", data, "--email", adminEmail, "--password-stdin")
	token := strings.TrimSpace(runCairn(t, bin, "", "token", "create", "--data-dir", data, "--org", "default", "--name", "e2e"))
	srv := startServe(t, bin, data, smtpd.Addr)
	phase("start server")

	uploads := []string{crash.Binary}
	for _, lib := range crash.Libs {
		// The fixture's own libraries only: the C library stays without
		// debug file, so the page has a missing image to explain.
		if strings.HasPrefix(lib, crash.Dir+string(filepath.Separator)) {
			uploads = append(uploads, lib)
		}
	}
	args := append([]string{"upload", "--url", srv.base, "--token", token, "--config", "", "--wait"}, uploads...)
	runCairn(t, bin, "", args...)
	phase("upload debug files")

	expected, _ := json.Marshal(crash.Expected)
	script, err := filepath.Abs(filepath.Join("testdata", "ui.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	browserTmp := t.TempDir()
	browser := startNode(t, tools, script, []string{
		"CAIRN_URL=" + srv.base,
		"CAIRN_EMAIL=" + adminEmail,
		"CAIRN_PASSWORD=" + adminPassword,
		"CAIRN_RULE=" + ruleName,
		"CAIRN_RULE_EMAIL=" + ruleEmail,
		"CAIRN_EXPECTED=" + string(expected),
		"CAIRN_ARTIFACTS=" + artifacts,
		"CAIRN_WAIT_MS=45000",
		// Playwright makes its Chromium profile under TMPDIR; the test's
		// own directory goes away with it even when the browser is killed.
		"TMPDIR=" + browserTmp,
	})

	select {
	case <-browser.ruleCreated:
	case <-browser.done:
		t.Fatalf("the browser script ended before creating the alert rule: %v (its output follows)", browser.err)
	}
	phase("browser: rule created")
	sendMinidump(t, srv, crash.Dump)

	<-browser.done
	if browser.err != nil {
		t.Fatalf("browser script: %v (its output follows)", browser.err)
	}
	for _, l := range browser.steps() {
		t.Log("  browser " + l)
	}
	for _, e := range browser.errors {
		t.Errorf("browser: %s", e)
	}
	phase("browser: walk-through")
	if browser.issueID == "" {
		t.Fatal("the browser script named no issue")
	}

	link := srv.base + "/o/default/default/issues/" + browser.issueID + "/"
	select {
	case msg := <-smtpd.Messages:
		pm, err := mail.ReadMessage(bytes.NewReader(msg.Data))
		if err != nil {
			t.Fatalf("the alert email does not parse: %v\n%s", err, msg.Data)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		if len(msg.To) != 1 || msg.To[0] != ruleEmail || !strings.Contains(subj, "New issue") {
			t.Errorf("alert email %q to %v, want a new-issue email to %s", subj, msg.To, ruleEmail)
		}
		if !strings.Contains(string(msg.Data), link) {
			t.Errorf("the alert email lacks the issue's link %s:\n%s", link, msg.Data)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no alert email reached the SMTP server within 30s (rule %q, issue %s)", ruleName, link)
	}
	phase("email")
}

// browserTools are the programs the browser tests run.
type browserTools struct {
	node, chromium string
	// playwright is the node_modules directory holding playwright-core.
	playwright string
}

// findBrowserTools finds node, Chromium and playwright-core, the way
// .ci/run installs them, or reports the missing one with its install
// command.
func findBrowserTools(t *testing.T) browserTools {
	t.Helper()
	var bt browserTools
	var err error
	if bt.node, err = exec.LookPath("node"); err != nil {
		testtools.Missing(t, "node", "apt-get install -y nodejs npm")
	}
	for _, c := range []string{os.Getenv("CAIRN_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			bt.chromium = p
			break
		}
	}
	if bt.chromium == "" {
		testtools.Missing(t, "Chromium", "apt-get install -y chromium")
	}
	dirs := []string{os.Getenv("CAIRN_PLAYWRIGHT")}
	dirs = append(dirs, filepath.SplitList(os.Getenv("NODE_PATH"))...)
	dirs = append(dirs, filepath.Join(testtools.ToolsDir(), "node_modules"))
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "playwright-core", "package.json")); err == nil {
			bt.playwright = d
			return bt
		}
	}
	testtools.Missing(t, "playwright-core", fmt.Sprintf("mkdir -p %[1]s && cd %[1]s && npm install --no-audit --no-fund playwright-core@%[2]s",
		testtools.ToolsDir(), playwrightVersion))
	return bt
}

// artifactsDir is $CAIRN_E2E_ARTIFACTS, kept after the test for people to
// look at, or a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("CAIRN_E2E_ARTIFACTS")
	if d == "" {
		d = t.TempDir()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the screenshots in %s go with the test; set CAIRN_E2E_ARTIFACTS=DIR to keep them", d)
			}
		})
		return d
	}
	d, err := filepath.Abs(d)
	if err == nil {
		err = os.MkdirAll(d, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", d)
	return d
}

// runCairn runs one cairn subcommand to completion and returns its
// standard output.
func runCairn(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cairn %s: %v\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// server is `cairn serve` running as a child process.
type server struct {
	base      string
	key       string
	projectID string
}

// startServe runs `cairn serve` on data with the mail relay at smtpAddr,
// waits until it answers, and stops it with the test; its log is printed
// when the test fails.
func startServe(t *testing.T, bin, data, smtpAddr string) server {
	t.Helper()
	host, port, _ := net.SplitHostPort(smtpAddr)
	addr := testtools.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--data-dir", data, "--addr", addr)
	cmd.Env = append(os.Environ(), "CAIRN_SMTP_HOST="+host, "CAIRN_SMTP_PORT="+port, "CAIRN_SMTP_FROM=cairn@example.com",
		// Deliveries that fail retry quickly, within the test's wait.
		"CAIRN_NOTIFY_BACKOFF=100ms")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("cairn serve log:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("cairn serve exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn serve did not answer %s/healthz within 30s: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The server prints its DSN once it listens; wait for the line.
	var dsn string
	for dsn == "" {
		for l := range strings.Lines(logs.String()) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "DSN:"); ok {
				dsn = strings.TrimSpace(v)
			}
		}
		if dsn == "" && time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	u, err := url.Parse(dsn)
	if dsn == "" || err != nil || u.User == nil {
		t.Fatalf("no DSN in the output of cairn serve (%q, %v)", dsn, err)
	}
	return server{base: base, key: u.User.Username(), projectID: strings.Trim(u.Path, "/")}
}

// sendMinidump posts a minidump to the ingest endpoint as a crash
// reporter does.
func sendMinidump(t *testing.T, s server, dump string) {
	t.Helper()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("upload_file_minidump", filepath.Base(dump))
	fw.Write(data)
	mw.Close()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Post(fmt.Sprintf("%s/api/%s/minidump/?sentry_key=%s", s.base, s.projectID, s.key), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("minidump upload: HTTP %d %s", resp.StatusCode, b)
	}
}

// nodeScript is the browser script running under node. Its standard
// output speaks the line protocol described in testdata/ui.mjs.
type nodeScript struct {
	ruleCreated chan struct{}
	// done is closed when the script has exited; err and issueID are
	// final then.
	done    chan struct{}
	err     error
	issueID string
	// errors are the problems the script reported and went on past.
	errors []string

	out *syncBuffer
}

func (n *nodeScript) output() string { return n.out.String() }

// steps are the script's "step" lines, for the timings.
func (n *nodeScript) steps() []string {
	var s []string
	for l := range strings.Lines(n.out.String()) {
		if v, ok := strings.CutPrefix(l, "step "); ok {
			name, ms, _ := strings.Cut(strings.TrimSpace(v), " ")
			s = append(s, fmt.Sprintf("%-20s %6s ms", name, ms))
		}
	}
	return s
}

// startNode runs script with node, the tools' locations and extra in its
// environment. The script is bounded by a deadline; on it, or when the
// test ends early, the script and the Chromium it started are killed as
// one process group.
func startNode(t *testing.T, bt browserTools, script string, extra []string) *nodeScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	cmd := exec.CommandContext(ctx, bt.node, script)
	cmd.Env = append(os.Environ(), "CAIRN_PLAYWRIGHT="+bt.playwright, "CAIRN_CHROMIUM="+bt.chromium)
	cmd.Env = append(cmd.Env, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	n := &nodeScript{ruleCreated: make(chan struct{}), done: make(chan struct{}), out: &syncBuffer{}}
	cmd.Stderr = n.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(n.done)
		defer cancel()
		sc := bufio.NewScanner(stdout)
		created := false
		for sc.Scan() {
			l := sc.Text()
			fmt.Fprintln(n.out, l)
			switch {
			case l == "rule-created" && !created:
				created = true
				close(n.ruleCreated)
			case strings.HasPrefix(l, "issue "):
				n.issueID, _, _ = strings.Cut(strings.TrimPrefix(l, "issue "), " ")
			case strings.HasPrefix(l, "error "):
				n.errors = append(n.errors, strings.TrimPrefix(l, "error "))
			}
		}
		n.err = cmd.Wait()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			n.err = fmt.Errorf("killed after 100s: %w", n.err)
		}
		// A browser the script left behind dies with its group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	t.Cleanup(func() {
		cancel()
		<-n.done
		if t.Failed() {
			t.Logf("browser script output:\n%s", n.output())
		}
	})
	return n
}

// syncBuffer is a bytes.Buffer that a child's output goroutines and the
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
