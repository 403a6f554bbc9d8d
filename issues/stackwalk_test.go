package issues_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// TestWorkerStackwalksMinidump stores a minidump event whose symbols were
// uploaded to the project, and checks the stored event carries the walked,
// symbolicated stack of the crashing thread.
func TestWorkerStackwalksMinidump(t *testing.T) {
	peers := testtools.PeersDir(t)
	ctx := context.Background()
	e := newEnv(t, nil)
	blobDir := filepath.Join(t.TempDir(), "blobs")
	// The env's blob store lives in a temporary directory of its own; debug
	// files go to a second file-system store whose directory is known.
	st := &store.Store{Index: e.meta}
	var err error
	if st.Blobs, err = fsblob.Open(blobDir); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(peers, "breakpad", "symbols", "test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", "test_app.sym")
	b, err := os.ReadFile(sym)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := store.Identify(sym)
	if err != nil || len(objs) == 0 {
		t.Fatalf("identify: %v %v", objs, err)
	}
	sum := sha1.Sum(b)
	if _, err := st.Add(ctx, e.project.ID, "test_app.sym", sym, hex.EncodeToString(sum[:]), int64(len(b)), objs, false); err != nil {
		t.Fatal(err)
	}
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: &issues.Stackwalker{Lookup: issues.StoreLookup(st, blobDir, e.project.ID)}}
	e.worker = issues.NewWorker(e.q, e.meta, e.events, proc, issues.WorkerOptions{BatchSize: 64})

	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	e.accept(t, `{}`, ingest.Attachment{Name: "crash.dmp", Type: "event.minidump", Data: dump})
	e.drain(t)
	l := e.issues(t)
	if len(l) != 1 {
		t.Fatalf("%d issues, want 1", len(l))
	}
	evs, _, _ := e.events.ListByIssue(ctx, l[0].ID, 0, 1)
	ev, err := issues.DecodeEvent(evs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var crashed *issues.Thread
	for _, th := range ev.Threads.Values {
		if th.Crashed {
			crashed = th
		}
	}
	if crashed == nil || crashed.Stacktrace == nil {
		t.Fatalf("no crashed thread with a stack: %+v", ev.Threads)
	}
	var got []string
	for _, f := range crashed.Stacktrace.Frames {
		got = append(got, f.Function)
	}
	// Sentry's order: the oldest call first, the crashing frame last.
	want := ",__tmainCRTStartup,main,`anonymous namespace'::CrashFunction"
	if g := strings.Join(got, ","); g != want {
		t.Errorf("crashed thread functions %q, want %q", g, want)
	}
	fr := crashed.Stacktrace.Frames
	if last := fr[len(fr)-1]; last.Trust != "context" || last.Filename == "" || last.Lineno != 58 || last.Package == "" {
		t.Errorf("crashing frame %+v", last)
	}
	if fr[len(fr)-2].Trust != "cfi" {
		t.Errorf("caller frame trust %q, want cfi", fr[len(fr)-2].Trust)
	}
	var app *issues.DebugImage
	for _, im := range ev.DebugMeta.Images {
		if strings.HasSuffix(im.CodeFile, "test_app.exe") {
			app = im
		}
	}
	if app == nil || app.DebugStatus != "found" || app.UnwindStatus != "found" {
		t.Errorf("test_app.exe image %+v", app)
	}
	if ev.Exception == nil || len(ev.Exception.Values) != 1 || ev.Exception.Values[0].Stacktrace == nil ||
		len(ev.Exception.Values[0].Stacktrace.Frames) != len(fr) {
		t.Errorf("exception %+v", ev.Exception)
	}
}

// Symbol directories serve too, and inlined calls become frames of their
// own with trust "inline".
func TestStackwalkerSymbolPathsInlines(t *testing.T) {
	peers := testtools.PeersDir(t)
	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "linux_inline.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	sw := &issues.Stackwalker{Paths: []string{filepath.Join(peers, "breakpad", "symbols")}}
	crash, err := sw.Minidump(context.Background(), bytes.NewReader(dump), int64(len(dump)))
	if err != nil {
		t.Fatal(err)
	}
	if crash.Exception == nil || crash.Exception.Stacktrace == nil {
		t.Fatalf("no crash stack: %+v", crash.Exception)
	}
	fr := crash.Exception.Stacktrace.Frames
	inline := 0
	for _, f := range fr {
		if f.Trust == "inline" && f.Function != "" {
			inline++
		}
	}
	if inline == 0 || fr[len(fr)-1].Function == "" {
		for _, f := range fr {
			t.Logf("%s %s:%d %s", f.Function, f.Filename, f.Lineno, f.Trust)
		}
		t.Errorf("%d named inline frames among %d; crashing frame %+v", inline, len(fr), fr[len(fr)-1])
	}
	if len(crash.Threads) != 1 || crash.Threads[0].Stacktrace != crash.Exception.Stacktrace {
		t.Errorf("threads %+v", crash.Threads)
	}
}
