package issues_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

// TestWorkerDropsMinidumps runs events with minidumps of a project that
// drops them and of one that keeps them through the sink and the worker,
// both with the dump inline in the message and written to the blob store
// before the 200.
func TestWorkerDropsMinidumps(t *testing.T) {
	ctx := context.Background()
	dump, err := os.ReadFile(filepath.Join(testtools.PeersDir(t), "breakpad", "linux_null_dereference.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	drop := e.project
	drop.DropMinidumps = true
	if err := e.meta.UpdateProjectSettings(ctx, drop); err != nil {
		t.Fatal(err)
	}
	keep, err := e.meta.CreateProject(ctx, meta.Project{OrgID: drop.OrgID, Slug: "keep", Name: "Keep"})
	if err != nil {
		t.Fatal(err)
	}
	blobFirst := issues.NewSink(e.blobs, e.q, issues.SinkOptions{InlineMax: -1})
	t.Cleanup(func() { blobFirst.Close() })

	accept := func(s *issues.Sink, projectID int64, id string) {
		t.Helper()
		err := s.Accept(ctx, &ingest.Accepted{ProjectID: projectID, EventID: id, ReceivedAt: time.Now(), Event: []byte(`{"release":"driver@1"}`),
			Attachments: []ingest.Attachment{
				{Name: "crash.dmp", Type: "event.minidump", Data: dump},
				{Name: "app.log", Type: "event.attachment", Data: []byte("started\n")},
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	inlineDrop, fileDrop, kept := newID(), newID(), newID()
	accept(e.sink, drop.ID, inlineDrop)
	accept(blobFirst, drop.ID, fileDrop)
	accept(e.sink, keep.ID, kept)
	e.drain(t)

	key := func(projectID int64, id string, n int) string {
		return fmt.Sprintf("events/%d/%s/%d", projectID, id, n)
	}
	exists := func(k string) bool {
		t.Helper()
		rc, err := e.blobs.Open(ctx, k)
		if errors.Is(err, blob.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		return true
	}
	stored := func(projectID int64, id string) *issues.Event {
		t.Helper()
		row, err := e.events.Get(ctx, projectID, id)
		if err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
		ev, err := issues.DecodeEvent(row.Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	for _, id := range []string{inlineDrop, fileDrop} {
		ev := stored(drop.ID, id)
		if ev.Platform != "native" || ev.Level != "fatal" || ev.Exception == nil || ev.Threads == nil || ev.DebugMeta == nil {
			t.Errorf("event %s was not read from its dump: platform %q, level %q", id, ev.Platform, ev.Level)
		}
		if len(ev.Attachments) != 2 {
			t.Fatalf("event %s attachments %+v", id, ev.Attachments)
		}
		if a := ev.Attachments[0]; !a.Dropped || a.Key != "" || a.Name != "crash.dmp" || a.Size != int64(len(dump)) || a.Type != "event.minidump" {
			t.Errorf("event %s minidump entry %+v, want it dropped with its name, type and size", id, a)
		}
		if a := ev.Attachments[1]; a.Dropped || a.Key != key(drop.ID, id, 1) {
			t.Errorf("event %s log entry %+v", id, a)
		}
		if exists(key(drop.ID, id, 0)) {
			t.Errorf("event %s: the minidump is still stored", id)
		}
		if !exists(key(drop.ID, id, 1)) {
			t.Errorf("event %s: the other attachment was deleted", id)
		}
	}
	ev := stored(keep.ID, kept)
	if a := ev.Attachments[0]; a.Dropped || a.Key != key(keep.ID, kept, 0) || !exists(a.Key) {
		t.Errorf("the other project's minidump %+v was not kept", a)
	}

	// A client retrying after a restart writes its dump again (the sink
	// no longer remembers the event); the redelivery finds the event
	// stored and drops the dump without counting the event twice.
	retry := issues.NewSink(e.blobs, e.q, issues.SinkOptions{InlineMax: -1})
	t.Cleanup(func() { retry.Close() })
	accept(retry, drop.ID, fileDrop)
	if !exists(key(drop.ID, fileDrop, 0)) {
		t.Fatal("the retry did not rewrite the dump; the test proves nothing")
	}
	e.drain(t)
	if exists(key(drop.ID, fileDrop, 0)) {
		t.Error("the redelivered event's minidump is still stored")
	}
	if l := e.issues(t); len(l) != 1 || l[0].TimesSeen != 2 {
		t.Errorf("issues after the redelivery %+v, want one seen twice", l)
	}

	// Turning the setting on does not reach events stored before.
	keep.DropMinidumps = true
	if err := e.meta.UpdateProjectSettings(ctx, keep); err != nil {
		t.Fatal(err)
	}
	again := issues.NewSink(e.blobs, e.q, issues.SinkOptions{})
	t.Cleanup(func() { again.Close() })
	accept(again, keep.ID, kept)
	e.drain(t)
	if !exists(key(keep.ID, kept, 0)) {
		t.Error("a redelivery deleted the dump of an event stored while the project kept dumps")
	}
}
