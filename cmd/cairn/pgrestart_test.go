package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/internal/testtools/pgtest"
)

// TestPGRestart restarts PostgreSQL under load (a fast shutdown, some
// time down, a start) with ingest and two workers running as processes
// on a private cluster, once with the queue on Kafka (kfake) and once
// with the queue in PostgreSQL itself, where ingest loses its queue too.
// The load generator retries refused events as an SDK would. Every event
// ends up accepted, stored exactly once and counted exactly once on its
// issue, and no process exits: the roles ride out the outage on pgx's
// pools, which reconnect by themselves, and the workers' loop, which
// retries.
//
// With Kafka the database stays down for 18 s, longer than a message's
// retry backoffs add up to (1+2+4+8 s with the default five attempts): a
// worker that kept leasing through the outage would dead-letter
// acknowledged events (see gatedQueue). With the PostgreSQL queue a
// lease fails without costing an attempt, and 3 s is an ordinary restart.
func TestPGRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("long: restarts PostgreSQL under a topology of processes")
	}
	work := t.TempDir()
	bin, kfakeBin := buildTopology(t, work)
	t.Run("KafkaQueue", func(t *testing.T) {
		t.Parallel()
		testPGRestart(t, bin, kfakeBin, 18*time.Second)
	})
	t.Run("PostgresQueue", func(t *testing.T) {
		t.Parallel()
		testPGRestart(t, bin, "", 3*time.Second)
	})
}

// testPGRestart runs the topology of TestPGRestart with PostgreSQL down
// for down; without kfakeBin the queue is PostgreSQL's.
func testPGRestart(t *testing.T, bin, kfakeBin string, down time.Duration) {
	const (
		total   = 2000
		senders = 8
		groups  = 10
		// pace spreads the load over about 8 s, so that the outage falls
		// in its middle whatever the queue and the machine's speed.
		pace = 4 * time.Millisecond
	)
	pg := pgtest.Start(t)
	work := t.TempDir()
	logf := processLog(t, filepath.Join(work, "roles.log"))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(pg.LogFile())
			t.Logf("postgres log:\n%s", b)
		}
	})

	cfgText := fmt.Sprintf("shutdown_timeout: 10s\nstorage:\n  postgres: %q\n", pg.DSN(""))
	if kfakeBin != "" {
		cfgText += fmt.Sprintf("  kafka: [%q]\n", startKfake(t, kfakeBin))
	}
	cfgPath := filepath.Join(work, "cairn.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	key, projectID := migrateTopology(t, bin, cfgPath)
	tp := &topology{t: t, bin: bin, cfg: cfgPath, work: work, logs: logf}
	procs := []*roleProcess{tp.start("ingest", "ingest"), tp.start("worker-1", "worker"), tp.start("worker-2", "worker")}
	url := fmt.Sprintf("http://%s/api/%s/store/?sentry_key=%s&sentry_version=7", procs[0].addr, projectID, key)

	var (
		mu       sync.Mutex
		accepted = map[string]string{} // event id → group (the message's word)
		refused  atomic.Int64          // 5xx answers, each retried
		errs     []string              // anything an SDK would not retry, or gave up on
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	// send retries one event until it is accepted, as an SDK's transport
	// does; it does not wait the Retry-After ingest sends (10 s), which
	// would only slow the test.
	send := func(n int) {
		b := make([]byte, 16)
		rand.Read(b)
		id := hex.EncodeToString(b)
		// Words, not numbers: numbers are parameterized into one group.
		group := string(rune('a'+n%groups/5)) + string(rune('a'+n%5))
		body := fmt.Sprintf(`{"event_id":%q,"message":"restart check %s"}`, id, group)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				// The ingest process never goes away in this test.
				fail("event %s: %v", id, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				mu.Lock()
				accepted[id] = group
				mu.Unlock()
				return
			case resp.StatusCode >= 500:
				refused.Add(1)
			default:
				fail("event %s: HTTP %d", id, resp.StatusCode)
				return
			}
			if time.Now().After(deadline) {
				fail("event %s: still refused after 30 s", id)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	start := time.Now()
	jobs := make(chan int)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for n := range jobs {
				send(n)
				sent.Add(1)
			}
		})
	}
	// Events are handed out at a steady pace: retries do not slow the
	// offered load, as many clients would not slow down either.
	go func() {
		defer close(jobs)
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for n := range total {
			<-tick.C
			jobs <- n
		}
	}()
	loadDone := make(chan time.Duration, 1)
	go func() { wg.Wait(); loadDone <- time.Since(start) }()
	for sent.Load() < total*3/10 {
		time.Sleep(10 * time.Millisecond)
	}
	atRestart := sent.Load()
	if err := pg.Restart(down); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	restarted := time.Since(start)
	loaded := <-loadDone
	for _, e := range errs {
		t.Error(e)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	want := len(accepted)
	var rows, distinct, seen int
	// A batch leased as the database went away could not be given back;
	// it is delivered again when its lease (a minute) runs out.
	deadline := time.Now().Add(90 * time.Second)
	for {
		// Events are stored before their occurrences are counted: wait
		// for both, or the last batch's counts may still be on their way.
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(DISTINCT event_id) FROM events),
			(SELECT coalesce(sum(times_seen), 0) FROM issues)`).Scan(&rows, &distinct, &seen)
		if err != nil {
			t.Fatal(err)
		}
		if rows >= want && seen >= want {
			break
		}
		if time.Now().After(deadline) {
			var queued string
			// Only the PostgreSQL queue has the table; without it the
			// message says so.
			conn.QueryRow(ctx, `SELECT string_agg(format('state %s leased %s attempts %s: %s', state, leased, attempts, n), '; ')
				FROM (SELECT state, leased, attempts, count(*) AS n FROM messages GROUP BY 1, 2, 3) s`).Scan(&queued)
			t.Fatalf("the workers did not catch up: %d events stored and %d counted of %d accepted; queue: %s", rows, seen, want, queued)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d events accepted, %d refusals retried; PostgreSQL restarted after %d events, up again at %v; load done at %v, stored at %v",
		want, refused.Load(), atRestart, restarted.Round(time.Millisecond), loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if want != total {
		t.Errorf("%d of %d events accepted", want, total)
	}
	if kfakeBin == "" && refused.Load() == 0 {
		t.Error("no event was refused while the queue's database was down")
	}
	if rows != want || distinct != want {
		t.Errorf("events: %d rows, %d distinct; want %d", rows, distinct, want)
	}

	stored, err := conn.Query(ctx, `SELECT event_id, issue_id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	issueGroup := map[int64]string{}
	perIssue := map[int64]int64{}
	for stored.Next() {
		var (
			id    string
			issue int64
		)
		if err := stored.Scan(&id, &issue); err != nil {
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
	}
	if err := stored.Err(); err != nil {
		t.Fatal(err)
	}
	checkIssueCounts(t, ctx, conn, accepted, issueGroup, perIssue)

	// Every role is still running and ready again.
	for _, p := range procs {
		select {
		case err := <-p.done:
			t.Errorf("%s exited: %v", p.name, err)
			continue
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			t.Errorf("%s readyz: %v", p.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s not ready after the restart: %d %s", p.name, resp.StatusCode, b)
		}
	}
}
