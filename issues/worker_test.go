package issues_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/sqlite"
)

// env is a worker pipeline on real embedded storage in a temporary
// directory.
type env struct {
	q       *sqlite.Queue
	meta    *sqlite.Meta
	events  *sqlite.Events
	blobs   *fsblob.Store
	sink    *issues.Sink
	worker  *issues.Worker
	project meta.Project
	commits atomic.Int64
}

func newEnv(t testing.TB, issuesStore meta.Issues) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{}
	var err error
	if e.q, err = sqlite.OpenQueue(ctx, filepath.Join(dir, "queue.db"), queue.Options{Backoff: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if e.meta, err = sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if e.events, err = sqlite.OpenEvents(ctx, filepath.Join(dir, "events.db")); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = fsblob.Open(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	org, err := e.meta.CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	if err != nil {
		t.Fatal(err)
	}
	if e.project, err = e.meta.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "p", Name: "P"}); err != nil {
		t.Fatal(err)
	}
	if issuesStore == nil {
		issuesStore = e.meta
	}
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: issues.Unsymbolicated{}}
	e.worker = issues.NewWorker(e.q, issuesStore, e.events, proc, issues.WorkerOptions{BatchSize: 64})
	e.sink = issues.NewSink(e.blobs, e.q, issues.SinkOptions{OnCommit: func() { e.commits.Add(1) }})
	t.Cleanup(func() {
		e.sink.Close()
		e.q.Close()
		e.events.Close()
		e.meta.Close()
	})
	return e
}

var idSeq atomic.Int64

func newID() string { return fmt.Sprintf("%032x", idSeq.Add(1)) }

func (e *env) accept(t testing.TB, event string, atts ...ingest.Attachment) string {
	t.Helper()
	id := newID()
	err := e.sink.Accept(context.Background(), &ingest.Accepted{ProjectID: e.project.ID, EventID: id, ReceivedAt: time.Now(),
		Event: []byte(event), Attachments: atts, RemoteAddr: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// drain runs the worker until the queue has nothing ready.
func (e *env) drain(t testing.TB) {
	t.Helper()
	for range 1000 {
		n, err := e.worker.RunOnce(context.Background())
		if err != nil {
			t.Logf("batch: %v", err)
		}
		if n == 0 {
			st, _ := e.q.Stats(context.Background())
			if st.Ready == 0 && st.Leased == 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Fatal("the queue did not drain")
}

func (e *env) issues(t testing.TB) []meta.Issue {
	t.Helper()
	l, _, err := e.meta.ListIssues(context.Background(), meta.IssueQuery{ProjectID: e.project.ID, Sort: "freq"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestWorkerCounts(t *testing.T) {
	e := newEnv(t, nil)
	ids := []string{
		e.accept(t, `{"message":"disk full on /dev/sda1","user":{"id":"u1"},"release":"app@1","environment":"prod","level":"warning"}`),
		e.accept(t, `{"message":"disk full on /dev/sda1","user":{"id":"u2"},"release":"app@2","environment":"staging"}`),
		e.accept(t, `{"message":"disk full on /dev/sda1","user":{"id":"u1"},"release":"app@2","environment":"prod"}`),
		e.accept(t, `{"message":"network down","user":{"ip_address":"{{auto}}"}}`),
	}
	e.drain(t)
	l := e.issues(t)
	if len(l) != 2 {
		t.Fatalf("%d issues, want 2", len(l))
	}
	disk, net := l[0], l[1]
	if disk.TimesSeen != 3 || disk.UserCount != 2 || disk.Title != "disk full on /dev/sda1" || disk.FirstRelease != "app@1" ||
		disk.LastRelease != "app@2" || strings.Join(disk.Environments, ",") != "prod,staging" || disk.Type != "default" {
		t.Errorf("disk issue %+v", disk)
	}
	if net.TimesSeen != 1 || net.UserCount != 1 {
		t.Errorf("network issue %+v", net)
	}
	for _, id := range ids {
		ev, err := e.events.Get(context.Background(), e.project.ID, id)
		if err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
		if (ev.IssueID == disk.ID) == (id == ids[3]) {
			t.Errorf("event %s in issue %d", id, ev.IssueID)
		}
	}
	ev, _ := e.events.Get(context.Background(), e.project.ID, ids[3])
	if !strings.Contains(string(ev.Data), `"ip_address":"192.0.2.7"`) {
		t.Errorf("{{auto}} IP not filled: %s", ev.Data)
	}
}

func TestWorkerRegression(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.accept(t, `{"exception":{"values":[{"type":"Boom","value":"x"}]}}`)
	e.drain(t)
	is := e.issues(t)[0]
	if _, err := e.meta.SetIssueStatus(ctx, is.ID, meta.StatusResolved); err != nil {
		t.Fatal(err)
	}
	e.accept(t, `{"exception":{"values":[{"type":"Boom","value":"x"}]}}`)
	e.drain(t)
	got, _ := e.meta.Issue(ctx, is.ID)
	if got.Status != meta.StatusUnresolved || got.Substatus != meta.SubstatusRegressed || got.TimesSeen != 2 {
		t.Fatalf("after a new event on a resolved issue: %+v", got)
	}
}

func TestWorkerIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := &ingest.Accepted{ProjectID: e.project.ID, EventID: newID(), ReceivedAt: time.Now(), Event: []byte(`{"message":"once"}`)}
	for range 3 {
		if err := e.sink.Accept(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	// Another server (or this one before a restart) accepted it too: the
	// same event is delivered once more.
	body, _ := issues.EncodeMessage(&issues.Message{ProjectID: a.ProjectID, EventID: a.EventID, ReceivedAt: time.Now(), Event: a.Event})
	if err := e.q.Enqueue(ctx, []queue.Message{{Key: issues.QueueKey(a.ProjectID, a.EventID), Body: body}}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	l := e.issues(t)
	if len(l) != 1 || l[0].TimesSeen != 1 {
		t.Fatalf("issues %+v, want one seen once", l)
	}
	evs, _, _ := e.events.ListByIssue(ctx, l[0].ID, 0, 10)
	if len(evs) != 1 {
		t.Fatalf("%d events stored, want 1", len(evs))
	}
}

// flakyIssues is the real issue store with one injected failure: the first
// RecordOccurrences fails after the events were stored, as a crash there
// would leave things.
type flakyIssues struct {
	meta.Issues
	failed atomic.Bool
}

func (f *flakyIssues) RecordOccurrences(ctx context.Context, occs []meta.Occurrence) ([]meta.Recorded, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("injected failure")
	}
	return f.Issues.RecordOccurrences(ctx, occs)
}

func TestWorkerCountsEventsStoredBeforeAFailure(t *testing.T) {
	fi := &flakyIssues{}
	e := newEnv(t, fi)
	fi.Issues = e.meta
	for range 5 {
		e.accept(t, `{"message":"counted once","user":{"id":"u"}}`)
	}
	e.drain(t)
	if !fi.failed.Load() {
		t.Fatal("the failure was not injected")
	}
	l := e.issues(t)
	if len(l) != 1 || l[0].TimesSeen != 5 {
		t.Fatalf("issues %+v, want one seen 5 times", l)
	}
}

func TestWorkerMinidump(t *testing.T) {
	peers := testtools.PeersDir(t)
	e := newEnv(t, nil)
	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "linux_null_dereference.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		e.accept(t, `{"release":"driver@1"}`, ingest.Attachment{Name: "crash.dmp", Type: "event.minidump", Data: dump})
	}
	e.drain(t)
	l := e.issues(t)
	if len(l) != 1 {
		t.Fatalf("%d issues, want 1", len(l))
	}
	is := l[0]
	if is.TimesSeen != 2 || is.Level != "fatal" || is.Platform != "native" || is.Culprit != "driver@0x1f26" ||
		is.Metadata["signature"] != "driver@0x1f26" || is.Title != "SIGSEGV /0x00000000: Fatal Error: SIGSEGV /0x00000000" {
		t.Errorf("issue %+v", is)
	}
	evs, _, _ := e.events.ListByIssue(context.Background(), is.ID, 0, 1)
	ev, err := issues.DecodeEvent(evs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Grouping.Method != "stacktrace" || strings.Join(ev.Grouping.Components, ",") != "driver+0x1f26" {
		t.Errorf("grouping %+v", ev.Grouping)
	}
	if len(ev.Attachments) != 1 || ev.Attachments[0].Size != int64(len(dump)) {
		t.Errorf("attachments %+v", ev.Attachments)
	}
	if b, err := blob.ReadAll(context.Background(), e.blobs, ev.Attachments[0].Key); err != nil || len(b) != len(dump) {
		t.Errorf("stored minidump: %d bytes, %v", len(b), err)
	}
	if ev.DebugMeta == nil || len(ev.DebugMeta.Images) == 0 || ev.DebugMeta.Images[0].DebugStatus != "missing" {
		t.Errorf("debug meta %+v", ev.DebugMeta)
	}
}

func TestWorkerRunDrainsOnShutdown(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.worker.Run(ctx)
		close(done)
	}()
	for range 50 {
		e.accept(t, `{"message":"m"}`)
	}
	e.worker.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if l := e.issues(t); len(l) == 1 && l[0].TimesSeen == 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if l := e.issues(t); len(l) != 1 || l[0].TimesSeen != 50 {
		t.Fatalf("issues %+v", l)
	}
}

func TestSink(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: e.project.ID, EventID: newID(), Event: []byte(`{}`)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, _ := e.q.Stats(ctx)
	if st.Ready != n {
		t.Fatalf("%d messages queued, want %d", st.Ready, n)
	}
	// How well commits group depends on the disk; BenchmarkSinkAccept
	// reports it.
	if st := e.sink.Stats(); st.Events != n || st.Commits > n {
		t.Errorf("sink stats %+v for %d events", st, n)
	}
	t.Logf("%d events in %d commits", n, e.commits.Load())
	if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: 1, EventID: "not-hex"}); err == nil {
		t.Error("an invalid event id was accepted")
	}
	if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: 1, Items: []ingest.Item{{Type: "session"}}}); err != nil {
		t.Errorf("items-only request: %v", err)
	}
	e.sink.Close()
	if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: 1, EventID: newID()}); !errors.Is(err, issues.ErrSinkClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}

var _ events.Store = (*sqlite.Events)(nil)
