package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/internal/testtools"
	_ "modernc.org/sqlite"
)

// serverProcess is `cairn serve` running as a child process.
type serverProcess struct {
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	done   chan error
}

func startProcess(t *testing.T, bin, dir, addr string, logf io.Writer) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--addr", addr)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A failing test must not leave its server running; killing one that
	// has already exited does nothing.
	t.Cleanup(func() { cmd.Process.Kill() })
	p := &serverProcess{cmd: cmd, stdout: bufio.NewScanner(out), done: make(chan error, 1)}
	go func() {
		// Keep reading so a full pipe never blocks the server.
		lines := p.stdout
		for lines.Scan() {
			fmt.Fprintln(logf, "stdout:", lines.Text())
		}
		p.done <- cmd.Wait()
	}()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("the server did not become healthy")
	return nil
}

// Events acknowledged with a 200 survive the server being killed with
// SIGKILL mid-load, twice, and end up stored exactly once and counted
// exactly once.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("long: sends 10,000 events through two SIGKILLs")
	}
	const (
		total   = 10_000
		senders = 8
	)
	work := t.TempDir()
	bin := filepath.Join(work, "cairn")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "data")
	addr := testtools.FreeAddr(t)
	logf, err := os.Create(filepath.Join(work, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", b)
		}
	}()

	proc := startProcess(t, bin, dir, addr, logf)
	// The DSN key is in the metadata database the first start created.
	cfg := config.Config{DataDir: dir}
	key, projectID := readDefaultKey(t, cfg)
	url := fmt.Sprintf("http://%s/api/%d/store/?sentry_key=%s&sentry_version=7", addr, projectID, key)

	var (
		next    atomic.Int64
		acked   sync.Map // event id → true
		nAcked  atomic.Int64
		retries atomic.Int64
		procMu  sync.Mutex
	)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(id string, n int64) error {
		// 40 messages that differ by a word (numbers would be
		// parameterized into one group) and 7 users.
		word := string(rune('a'+n%40/8)) + string(rune('a'+n%8))
		body := fmt.Sprintf(`{"event_id":%q,"message":"durability check %s","user":{"id":"user-%c"}}`, id, word, rune('a'+n%7))
		deadline := time.Now().Add(2 * time.Minute)
		for {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return nil
				}
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("event %s: %w", id, err)
			}
			// The server is being killed or restarted: retry the same
			// event, as an SDK would.
			retries.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Generous bounds: they only stop a hung run; a loaded CI machine
	// needs minutes, not the seconds an idle one takes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > total {
					return
				}
				id := fmt.Sprintf("%032x", 0xd0000000+n)
				if err := send(id, n); err != nil {
					errs <- err
					return
				}
				acked.Store(id, true)
				nAcked.Add(1)
			}
		})
	}
	// The killer: SIGKILL at 30% and 65% of the load, restart at once.
	kills := 0
	for _, at := range []int64{total * 30 / 100, total * 65 / 100} {
		for nAcked.Load() < at && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		procMu.Lock()
		proc.cmd.Process.Signal(syscall.SIGKILL)
		<-proc.done
		kills++
		t.Logf("SIGKILL after %d acknowledged events", nAcked.Load())
		proc = startProcess(t, bin, dir, addr, logf)
		procMu.Unlock()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if nAcked.Load() != total || kills != 2 {
		t.Fatalf("%d events acknowledged after %d kills, want %d after 2", nAcked.Load(), kills, total)
	}
	t.Logf("%d events acknowledged, %d requests retried across restarts", total, retries.Load())

	// Wait until the worker has stored every event, then stop gracefully.
	evs := openEventsDB(t, cfg)
	deadline := time.Now().Add(3 * time.Minute)
	var stored int
	for time.Now().Before(deadline) {
		if err := evs.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored >= total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-proc.done:
		if err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	case <-time.After(2 * time.Minute):
		proc.cmd.Process.Kill()
		t.Fatal("the server did not stop on SIGTERM")
	}

	// Every acknowledged event exists exactly once.
	if err := evs.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != total {
		t.Errorf("%d events stored, want %d", stored, total)
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		var n int
		if err := evs.QueryRow(`SELECT COUNT(*) FROM events WHERE project_id = ? AND event_id = ?`, projectID, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			missing++
			if missing < 10 {
				t.Errorf("event %s stored %d times", k, n)
			}
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged events not stored exactly once", missing)
	}
	// And every event was counted exactly once in its issue.
	m := openMetaDB(t, cfg)
	var counted, issues, users int
	if err := m.QueryRow(`SELECT COALESCE(SUM(times_seen), 0), COUNT(*), COALESCE(SUM(user_count), 0) FROM issues`).Scan(&counted, &issues, &users); err != nil {
		t.Fatal(err)
	}
	if counted != total || issues != 40 {
		t.Errorf("issues count %d events in %d issues, want %d in 40", counted, issues, total)
	}
	if users != 40*7 {
		t.Logf("user counts add up to %d (each of 40 issues saw 7 users); a kill between storing and counting can lose a new-user mark", users)
	}
}

func readDefaultKey(t *testing.T, cfg config.Config) (string, int64) {
	t.Helper()
	db := openMetaDB(t, cfg)
	var key string
	var pid int64
	err := db.QueryRow(`SELECT k.public_key, p.id FROM project_keys k JOIN projects p ON p.id = k.project_id
		JOIN organizations o ON o.id = p.org_id WHERE o.slug = 'default' AND p.slug = 'default' ORDER BY k.id LIMIT 1`).Scan(&key, &pid)
	if err != nil {
		t.Fatal(err)
	}
	return key, pid
}

func openMetaDB(t *testing.T, cfg config.Config) *sql.DB   { return openRO(t, cfg.MetaPath()) }
func openEventsDB(t *testing.T, cfg config.Config) *sql.DB { return openRO(t, cfg.EventsPath()) }

// openRO opens a database of a (possibly running) server read-only, as an
// independent observer of what the server committed.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
