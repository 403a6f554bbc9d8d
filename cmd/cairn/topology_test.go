package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/internal/testtools/chtest"
)

// topoPostgres is the PostgreSQL server the topology test creates its
// database on; CAIRN_TEST_POSTGRES overrides it.
func topoPostgres() string {
	if v := os.Getenv("CAIRN_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// topoDatabase creates a database of the test's own (the roles' DSN names
// no schema, so a schema per test would not isolate them) and drops it
// when the test ends; it returns the roles' DSN.
func topoDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin := topoPostgres()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		testtools.Missing(t, "PostgreSQL at "+admin+" ("+err.Error()+")", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
	}
	defer c.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "topo_" + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u := strings.Replace(admin, "/test?", "/"+name+"?", 1)
	if u == admin {
		t.Fatalf("cannot derive a database URL from %s", admin)
	}
	return u
}

// roleProcess is one `cairn serve --role` child process.
type roleProcess struct {
	name, role, addr string
	args             []string
	cmd              *exec.Cmd
	done             chan error
	killed           atomic.Bool
}

type topology struct {
	t    *testing.T
	bin  string
	cfg  string
	work string
	logs io.Writer
	mu   sync.Mutex
}

func (tp *topology) start(name, role string) *roleProcess {
	t := tp.t
	t.Helper()
	p := &roleProcess{name: name, role: role, addr: testtools.FreeAddr(t)}
	p.args = []string{"serve", "--config", tp.cfg, "--role", role, "--addr", p.addr,
		"--data-dir", filepath.Join(tp.work, name), "--workers", "4"}
	tp.launch(p)
	return p
}

func (tp *topology) launch(p *roleProcess) {
	t := tp.t
	t.Helper()
	cmd := exec.Command(tp.bin, p.args...)
	pw := &prefixWriter{prefix: p.name + ": ", w: tp.logs, mu: &tp.mu}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	p.cmd, p.done = cmd, make(chan error, 1)
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			t.Fatalf("%s exited at start: %v", p.name, err)
		default:
		}
		if resp, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not become ready", p.name)
}

// kill stops p with SIGKILL and starts it again.
func (tp *topology) restartKilled(p *roleProcess) {
	p.killed.Store(true)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	tp.launch(p)
}

type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(w.w, "%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

var dsnPattern = regexp.MustCompile(`DSN (https?)://([0-9a-f]+)@[^/]+/(\d+)`)

// buildTopology builds the cairn binary and the kfake broker into dir.
func buildTopology(t testing.TB, dir string) (bin, kfakeBin string) {
	t.Helper()
	bin, kfakeBin = filepath.Join(dir, "cairn"), filepath.Join(dir, "kfake")
	for _, b := range [][]string{{"-o", bin, "."}, {"-o", kfakeBin, "../../internal/cmd/kfake"}} {
		if out, err := exec.Command("go", append([]string{"build"}, b...)...).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[len(b)-1], err, out)
		}
	}
	return bin, kfakeBin
}

// processLog creates the file the role processes log to; its tail is
// logged when the test fails, after the processes are gone.
func processLog(t testing.TB, path string) *os.File {
	t.Helper()
	logf, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(path)
			if len(b) > 200_000 {
				b = b[len(b)-200_000:]
			}
			t.Logf("process logs (tail):\n%s", b)
		}
	})
	return logf
}

// startKfake runs the kfake broker for the test and returns the address
// it printed.
func startKfake(t testing.TB, kfakeBin string) string {
	t.Helper()
	kaddr := testtools.FreeAddr(t)
	_, kport, _ := strings.Cut(kaddr, ":")
	kf := exec.Command(kfakeBin, "-port", kport)
	kout, _ := kf.StdoutPipe()
	if err := kf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kf.Process.Kill(); kf.Wait() })
	line, err := bufio.NewReader(kout).ReadString('\n')
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	return strings.TrimSpace(line)
}

// migrateTopology runs `cairn migrate` on the config and returns the
// default project's DSN key and id; a second run must change nothing and
// keep the key.
func migrateTopology(t testing.TB, bin, cfgPath string) (key, projectID string) {
	t.Helper()
	out, err := exec.Command(bin, "migrate", "--config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("cairn migrate: %v\n%s", err, out)
	}
	m := dsnPattern.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("cairn migrate printed no DSN:\n%s", out)
	}
	key, projectID = m[2], m[3]
	if again, err := exec.Command(bin, "migrate", "--config", cfgPath).CombinedOutput(); err != nil || !strings.Contains(string(again), key) {
		t.Fatalf("second cairn migrate: %v\n%s", err, again)
	}
	return key, projectID
}

// TestTopology runs the production topology as separate processes — two
// ingest, two workers, snuba and web on PostgreSQL, a Kafka broker
// (kfake), ClickHouse and MinIO — sends JSON events and minidumps spread
// over both ingest processes, SIGKILLs a worker and the snuba process
// mid-load and restarts them, stops ClickHouse for a while, and checks
// that every acknowledged event is stored exactly once in PostgreSQL and
// in ClickHouse and counted exactly once on its issue.
//
// It sends 20,000 events, 1,000 of them minidumps (about a minute on two
// cores: the processes' start-up and the checks cost as much as the
// load); CAIRN_TOPOLOGY_EVENTS sets another count, and the logged events/s
// is the throughput of the topology.
func TestTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("long: runs the production topology as processes")
	}
	total := 20000
	if v := os.Getenv("CAIRN_TOPOLOGY_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("CAIRN_TOPOLOGY_EVENTS=%q: want a count of at least 100", v)
		}
		total = n
	}
	minidumps := total / 20
	const (
		senders = 16
		groups  = 20
	)
	pgURL := topoDatabase(t)
	chs := chtest.Start(t)
	minio := testtools.StartMinIO(t, "cairn", "cairn-secret")
	crash := fixtures.GetCrash(t, "crash-x86_64-gcc-O2-null")
	dump, err := os.ReadFile(crash.Dump)
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	bin, kfakeBin := buildTopology(t, work)
	logf := processLog(t, filepath.Join(work, "topology.log"))
	kaddr := startKfake(t, kfakeBin)

	cfgPath := filepath.Join(work, "cairn.yaml")
	cfgText := fmt.Sprintf(`shutdown_timeout: 10s
storage:
  postgres: %q
  kafka: [%q]
  clickhouse: %q
  s3:
    endpoint: %q
    bucket: cairn-topology
    access_key: cairn
    secret_key: cairn-secret
    insecure: true
  redis: 127.0.0.1:6379
  memcached: [%q]
`, pgURL, kaddr, chs.Addr+"/topology", minio, testtools.StartMemcached(t))
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	key, projectID := migrateTopology(t, bin, cfgPath)

	tp := &topology{t: t, bin: bin, cfg: cfgPath, work: work, logs: logf}
	procs := []*roleProcess{
		tp.start("ingest-1", "ingest"), tp.start("ingest-2", "ingest"),
		tp.start("worker-1", "worker"), tp.start("worker-2", "worker"),
		tp.start("snuba", "snuba"), tp.start("web", "web"),
	}
	ingests, worker1, snubaProc := procs[:2], procs[2], procs[4]

	var (
		next     atomic.Int64
		mu       sync.Mutex
		accepted = map[string]string{} // event id → group ("minidump" or the message word)
		failures atomic.Int64
	)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(n int64) {
		in := ingests[n%2]
		var (
			url, ctype, group string
			body              []byte
		)
		if n%20 == 7 && n/20 < int64(minidumps) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			fw, _ := mw.CreateFormFile("upload_file_minidump", "crash.dmp")
			fw.Write(dump)
			mw.Close()
			url = fmt.Sprintf("http://%s/api/%s/minidump/?sentry_key=%s", in.addr, projectID, key)
			ctype, body, group = mw.FormDataContentType(), b.Bytes(), "minidump"
		} else {
			id := make([]byte, 16)
			rand.Read(id)
			// Words, not numbers: numbers are parameterized into one group.
			group = string(rune('a'+n%groups/5)) + string(rune('a'+n%5))
			body = fmt.Appendf(nil, `{"event_id":%q,"message":"topology check %s"}`, hex.EncodeToString(id), group)
			url = fmt.Sprintf("http://%s/api/%s/store/?sentry_key=%s&sentry_version=7", in.addr, projectID, key)
			ctype = "application/json"
		}
		resp, err := client.Post(url, ctype, bytes.NewReader(body))
		if err != nil {
			failures.Add(1)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failures.Add(1)
			return
		}
		id := strings.TrimSpace(string(b))
		var js struct{ ID string }
		if json.Unmarshal(b, &js) == nil && js.ID != "" {
			id = js.ID
		}
		id = strings.ToLower(strings.ReplaceAll(id, "-", ""))
		mu.Lock()
		accepted[id] = group
		mu.Unlock()
	}

	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= int64(total) {
					return
				}
				send(n)
			}
		})
	}
	// Mid-load: a worker and the snuba writer die without warning and come
	// back; later ClickHouse goes away for a while.
	waitSent := func(frac float64) {
		for next.Load() < int64(float64(total)*frac) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSent(0.3)
	tp.restartKilled(worker1)
	tp.restartKilled(snubaProc)
	waitSent(0.6)
	chs.Stop()
	time.Sleep(3 * time.Second)
	if err := chs.Start(); err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	wg.Wait()
	sent := time.Since(start)
	if len(accepted) == 0 {
		t.Fatal("no event was accepted")
	}

	ctx := context.Background()
	pg, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	chConn, err := ch.Open(&ch.Options{Addr: []string{chs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer chConn.Close()
	want := len(accepted)
	var pgTotal, pgDistinct, chTotal, chDistinct uint64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := pg.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM events`).Scan(&pgTotal, &pgDistinct); err != nil {
			t.Fatal(err)
		}
		// FINAL collapses rows a redelivered batch inserted again; the raw
		// count is checked separately below for what a reader sees.
		err := chConn.QueryRow(ctx, `SELECT count(), uniqExact(event_id) FROM topology.events FINAL`).Scan(&chTotal, &chDistinct)
		if err == nil && pgTotal >= uint64(want) && chTotal >= uint64(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues did not drain: postgres %d, clickhouse %d (%v) of %d accepted", pgTotal, chTotal, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Since(start)
	t.Logf("%d events accepted (%d refused or failed) in %v over 2 ingest processes; stored everywhere after %v: %.0f events/s end to end",
		want, failures.Load(), sent.Round(time.Millisecond), drained.Round(time.Millisecond), float64(want)/drained.Seconds())

	if pgTotal != uint64(want) || pgDistinct != uint64(want) {
		t.Errorf("postgres events: %d rows, %d distinct; want %d", pgTotal, pgDistinct, want)
	}
	if chTotal != uint64(want) || chDistinct != uint64(want) {
		t.Errorf("clickhouse events: %d rows, %d distinct; want %d", chTotal, chDistinct, want)
	}
	// Every accepted id is there, and nothing else is.
	rows, err := pg.Query(ctx, `SELECT e.event_id, e.issue_id, e.platform FROM events e`)
	if err != nil {
		t.Fatal(err)
	}
	issueGroup := map[int64]string{}
	perIssue := map[int64]int64{}
	nativeDumps := 0
	for rows.Next() {
		var (
			id       string
			issue    int64
			platform string
		)
		if err := rows.Scan(&id, &issue, &platform); err != nil {
			t.Fatal(err)
		}
		g, ok := accepted[id]
		if !ok {
			t.Errorf("event %s stored but never acknowledged", id)
			continue
		}
		if prev, ok := issueGroup[issue]; ok && prev != g {
			t.Errorf("issue %d holds events of %q and %q", issue, prev, g)
		}
		issueGroup[issue] = g
		perIssue[issue]++
		if g == "minidump" && platform == "native" {
			nativeDumps++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantGroups := checkIssueCounts(t, ctx, pg, accepted, issueGroup, perIssue)
	if nativeDumps != int(wantGroups["minidump"]) {
		t.Errorf("%d of %d minidump events processed as native crashes", nativeDumps, wantGroups["minidump"])
	}
	// Only the processes the test killed died.
	for _, p := range procs {
		select {
		case err := <-p.done:
			t.Errorf("%s exited: %v", p.name, err)
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			t.Errorf("%s metrics: %v", p.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if p.role == "worker" && !bytes.Contains(b, []byte("cairn_worker_events_processed_total")) ||
			p.role == "snuba" && !bytes.Contains(b, []byte("cairn_snuba_batch_events_count")) ||
			p.role == "web" && !bytes.Contains(b, []byte("cairn_view_cache_hits_total")) {
			t.Errorf("%s metrics lack its role's series", p.name)
		}
	}
}

// checkIssueCounts compares the issues PostgreSQL holds with what was
// accepted: one issue per group, and each issue's times seen equal to its
// stored events and to the events of its group that got a 200. It returns
// the accepted events per group.
func checkIssueCounts(t *testing.T, ctx context.Context, pg *pgx.Conn, accepted map[string]string, issueGroup map[int64]string, perIssue map[int64]int64) map[string]int64 {
	t.Helper()
	wantGroups := map[string]int64{}
	for _, g := range accepted {
		wantGroups[g]++
	}
	if len(issueGroup) != len(wantGroups) {
		t.Errorf("%d issues, want %d (one per group)", len(issueGroup), len(wantGroups))
	}
	rows, err := pg.Query(ctx, `SELECT id, times_seen FROM issues`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, seen int64
		if err := rows.Scan(&id, &seen); err != nil {
			t.Fatal(err)
		}
		if g := issueGroup[id]; seen != wantGroups[g] || seen != perIssue[id] {
			t.Errorf("issue %d (%s): times seen %d, events %d, accepted %d", id, g, seen, perIssue[id], wantGroups[g])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return wantGroups
}
