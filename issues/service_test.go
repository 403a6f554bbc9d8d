package issues_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// newServiceSymbolicator returns a ServiceSymbolicator whose cache lives
// in cacheDir, looking files up among those uploaded to the event's
// project in st (when st is not nil), then in extra.
func newServiceSymbolicator(t testing.TB, st *store.Store, cacheDir string, extra ...sources.Source) *issues.ServiceSymbolicator {
	t.Helper()
	c, err := cache.New(cache.Config{Dir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &issues.ServiceSymbolicator{Service: svc, Sources: func(ctx context.Context) []sources.Source {
		var srcs []sources.Source
		if id, ok := issues.ProjectOf(ctx); ok && st != nil {
			srcs = append(srcs, sources.NewUploaded("sentry:project", st.Source(id), sources.Filters{}))
		}
		return append(srcs, extra...)
	}}
}

// upload adds a debug file to a project through the store, as the upload
// endpoints do.
func upload(t testing.TB, st *store.Store, projectID int64, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := identify.File(path)
	if err != nil || len(objs) == 0 {
		t.Fatalf("identify %s: %v %v", path, objs, err)
	}
	sum := sha1.Sum(b)
	if _, err := st.Add(context.Background(), projectID, filepath.Base(path), path, hex.EncodeToString(sum[:]), int64(len(b)), objs, false); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerStackwalksMinidump stores a minidump event whose symbols were
// uploaded to the project, and checks the stored event carries the walked,
// symbolicated stack of the crashing thread.
func TestWorkerStackwalksMinidump(t *testing.T) {
	peers := testtools.PeersDir(t)
	ctx := context.Background()
	e := newEnv(t, nil)
	st := &store.Store{Blobs: e.blobs, Index: e.meta}
	upload(t, st, e.project.ID, filepath.Join(peers, "breakpad", "symbols", "test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", "test_app.sym"))
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: newServiceSymbolicator(t, st, t.TempDir())}
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

// Configured symbol directories serve too, and inlined calls become frames
// of their own with trust "inline".
func TestServiceSymbolicatorSymbolPathsInlines(t *testing.T) {
	peers := testtools.PeersDir(t)
	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "linux_inline.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	// The peers keep this module's symbols under other names
	// (linux_inline.new.sym); a Breakpad store names them after the module.
	root := t.TempDir()
	id := "BBA6FA10B8AAB33D00000000000000000"
	if err := os.MkdirAll(filepath.Join(root, "linux_inline", id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(peers, "breakpad", "symbols", "linux_inline", id, "linux_inline.new.sym"), filepath.Join(root, "linux_inline", id, "linux_inline.sym")); err != nil {
		t.Fatal(err)
	}
	src := sources.NewFilesystem("local", root, sources.DirectoryLayout{Type: sources.LayoutBreakpad}, sources.Filters{})
	sw := newServiceSymbolicator(t, nil, t.TempDir(), src)
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

// A dump the stack walker rejects keeps the fallback's reading, with a
// processing error.
func TestServiceSymbolicatorUnwalkableDump(t *testing.T) {
	peers := testtools.PeersDir(t)
	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	sw := newServiceSymbolicator(t, nil, t.TempDir())
	sw.Fallback = fixedCrash{}
	crash, err := sw.Minidump(context.Background(), bytes.NewReader(dump[:64]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(crash.Errors) != 1 || crash.Errors[0].Type != "native_stackwalk_failed" || len(crash.Threads) != 1 {
		t.Errorf("crash %+v errors %+v", crash, crash.Errors)
	}
}

// fixedCrash reads every dump as one thread with one frame.
type fixedCrash struct{ issues.Unsymbolicated }

func (fixedCrash) Minidump(context.Context, io.ReaderAt, int64) (*issues.NativeCrash, error) {
	return &issues.NativeCrash{Threads: []*issues.Thread{{ID: uint32(1), Stacktrace: &issues.Stacktrace{Frames: []*issues.Frame{{InstructionAddr: issues.A(0x1000)}}}}}}, nil
}

// elfImage is an ELF fixture as an event's debug_meta describes it once
// loaded at base, with the addresses of its functions there.
type elfImage struct {
	json   string
	base   uint64
	load   uint64
	funcs  []fixtures.Symbol
	binary string
}

func loadELFImage(t *testing.T, name string, base uint64) elfImage {
	t.Helper()
	bin := fixtures.Get(t, name)
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	o := a.Objects[0]
	ranges, err := fixtures.TextRanges(bin)
	if err != nil || len(ranges) == 0 {
		t.Fatalf("code range of %s: %v", bin, err)
	}
	syms, err := fixtures.FunctionSymbols(bin)
	if err != nil {
		t.Fatal(err)
	}
	var funcs []fixtures.Symbol
	for _, s := range syms {
		// Plain C names of real functions, so that the function name the
		// service reports is the symbol's name.
		if s.Size >= 16 && !strings.HasPrefix(s.Name, "_") && !strings.Contains(s.Name, ".") {
			funcs = append(funcs, s)
		}
	}
	if len(funcs) < 3 {
		t.Fatalf("%s: only %d functions to use", bin, len(funcs))
	}
	img := fmt.Sprintf(`{"type":"elf","code_file":"/opt/app/demo","debug_file":"/opt/app/demo","code_id":%q,"debug_id":%q,"arch":%q,"image_addr":"0x%x","image_size":%d}`,
		o.CodeID(), o.DebugID().String(), o.Arch(), base, ranges[0].End-o.LoadAddress()+0x1000)
	return elfImage{json: img, base: base, load: o.LoadAddress(), funcs: funcs, binary: bin}
}

// frames is an event's frames, oldest first, calling the given functions:
// the innermost at a function's first instruction, the callers just past
// it (return addresses, moved back into the function by the service).
func (im elfImage) frames(funcs []fixtures.Symbol) string {
	var b strings.Builder
	for i, f := range funcs {
		addr := im.base + f.Addr - im.load + 1
		if i == len(funcs)-1 {
			addr--
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"instruction_addr":"0x%x","in_app":true}`, addr)
	}
	return b.String()
}

// A native event without a minidump — frames with instruction addresses
// and debug_meta images — is symbolicated from the files uploaded to its
// project, and groups by function.
func TestWorkerSymbolicatesNativeFrames(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	st := &store.Store{Blobs: e.blobs, Index: e.meta}
	im := loadELFImage(t, "elf-x86_64-gcc-O2", 0x7f3400000000)
	upload(t, st, e.project.ID, im.binary)
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: newServiceSymbolicator(t, st, t.TempDir())}
	e.worker = issues.NewWorker(e.q, e.meta, e.events, proc, issues.WorkerOptions{BatchSize: 64})

	called := im.funcs[:3]
	event := fmt.Sprintf(`{"platform":"native","exception":{"values":[{"type":"SIGSEGV","value":"crash","stacktrace":{"frames":[%s]}}]},
		"debug_meta":{"images":[%s]}}`, im.frames(called), im.json)
	e.accept(t, event)
	e.accept(t, event)
	e.drain(t)
	l := e.issues(t)
	if len(l) != 1 || l[0].TimesSeen != 2 {
		t.Fatalf("issues %+v, want one seen twice", l)
	}
	evs, _, _ := e.events.ListByIssue(ctx, l[0].ID, 0, 1)
	ev, err := issues.DecodeEvent(evs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	fr := ev.Exception.Values[0].Stacktrace.Frames
	if len(fr) != len(called) {
		t.Fatalf("%d frames, want %d: %+v", len(fr), len(called), fr)
	}
	for i, f := range fr {
		if f.Function != called[i].Name || f.Filename == "" || f.AbsPath == "" || f.Lineno == 0 || f.Package != "/opt/app/demo" ||
			f.SymbolAddr.N != im.base+called[i].Addr-im.load || f.InApp == nil || !*f.InApp {
			t.Errorf("frame %d: %+v, want function %s at 0x%x", i, f, called[i].Name, im.base+called[i].Addr-im.load)
		}
	}
	img := ev.DebugMeta.Images[0]
	if img.DebugStatus != "found" || img.UnwindStatus != "unused" {
		t.Errorf("image statuses %s, %s; want found, unused", img.DebugStatus, img.UnwindStatus)
	}
	if len(ev.Errors) != 0 {
		t.Errorf("processing errors %+v", ev.Errors)
	}
	if ev.Grouping == nil || ev.Grouping.Method != "stacktrace" {
		t.Fatalf("grouping %+v", ev.Grouping)
	}
	for i, c := range ev.Grouping.Components {
		if !strings.HasPrefix(c, called[i].Name+" ") {
			t.Errorf("grouping component %d %q, want function %s", i, c, called[i].Name)
		}
	}
}

// Without the debug file the frames stay as they were, the image is
// reported missing, and the event groups by module and offset.
func TestWorkerNativeFramesMissingDebugFile(t *testing.T) {
	e := newEnv(t, nil)
	st := &store.Store{Blobs: e.blobs, Index: e.meta}
	im := loadELFImage(t, "elf-x86_64-gcc-O2", 0x7f3400000000)
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: newServiceSymbolicator(t, st, t.TempDir())}
	e.worker = issues.NewWorker(e.q, e.meta, e.events, proc, issues.WorkerOptions{BatchSize: 64})
	e.accept(t, fmt.Sprintf(`{"platform":"native","exception":{"values":[{"type":"SIGSEGV","stacktrace":{"frames":[%s]}}]},"debug_meta":{"images":[%s]}}`,
		im.frames(im.funcs[:2]), im.json))
	e.drain(t)
	l := e.issues(t)
	if len(l) != 1 {
		t.Fatalf("%d issues", len(l))
	}
	evs, _, _ := e.events.ListByIssue(context.Background(), l[0].ID, 0, 1)
	ev, err := issues.DecodeEvent(evs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ev.Exception.Values[0].Stacktrace.Frames {
		if f.Function != "" || f.Filename != "" {
			t.Errorf("frame %+v symbolicated without a debug file", f)
		}
	}
	img := ev.DebugMeta.Images[0]
	if img.DebugStatus != "missing" {
		t.Errorf("image status %s, want missing", img.DebugStatus)
	}
	// Nothing was uploaded, so the project's source lists no location;
	// any candidate stored must be a named, failed lookup.
	for _, c := range img.Candidates {
		if c.Source == "" || c.Download.Status != "notfound" {
			t.Errorf("candidate %+v, want a notfound location of a named source", c)
		}
	}
	if len(ev.Errors) != 1 || ev.Errors[0].Type != "native_missing_dsym" || ev.Errors[0].ImagePath != "/opt/app/demo" {
		t.Errorf("errors %+v", ev.Errors)
	}
	if c := ev.Grouping.Components; len(c) != 2 || !strings.HasPrefix(c[0], "demo+0x") {
		t.Errorf("grouping %+v", ev.Grouping)
	}
}

// derivedFiles counts the derived caches (symcaches and cficaches) built
// under a cache directory.
func derivedFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, kind := range []string{"symcache", "cficache"} {
		filepath.WalkDir(filepath.Join(dir, kind), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".json") {
				n++
			}
			return nil
		})
	}
	return n
}

// Derived-cache reuse between events: the second event of the same
// modules builds no symcache or cficache, whether it is a native event or
// a minidump.
func TestServiceSymbolicatorReusesDerivedCaches(t *testing.T) {
	e := newEnv(t, nil)
	st := &store.Store{Blobs: e.blobs, Index: e.meta}
	c := fixtures.GetCrash(t, "crash-x86_64-gcc-O2-thread")
	upload(t, st, e.project.ID, c.Binary)
	for _, lib := range c.Libs {
		upload(t, st, e.project.ID, lib)
	}
	dir := t.TempDir()
	sym := newServiceSymbolicator(t, st, dir)
	dump, err := os.ReadFile(c.Dump)
	if err != nil {
		t.Fatal(err)
	}
	ctx := issues.WithProject(context.Background(), e.project.ID)
	var built []int
	for range 3 {
		crash, err := sym.Minidump(ctx, bytes.NewReader(dump), int64(len(dump)))
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, im := range crash.Images {
			if im.DebugStatus == "found" {
				found++
			}
		}
		if found == 0 || crash.Exception == nil || crash.Exception.Stacktrace.Frames[len(crash.Exception.Stacktrace.Frames)-1].Function == "" {
			t.Fatalf("dump not symbolicated: %d images found, exception %+v", found, crash.Exception)
		}
		built = append(built, derivedFiles(t, dir))
	}
	if built[0] == 0 || built[1] != built[0] || built[2] != built[0] {
		t.Errorf("derived caches after each event %v, want the first event's count, unchanged", built)
	}
}

// A frame whose address is in an inlined call becomes one event frame per
// function of the inline chain, the outer function first, all at the
// frame's address; frames of other images stay as they were.
func TestServiceSymbolicatorInlinedFrames(t *testing.T) {
	e := newEnv(t, nil)
	st := &store.Store{Blobs: e.blobs, Index: e.meta}
	im := loadELFImage(t, "elf-x86_64-gcc-O2", 0x7f3400000000)
	upload(t, st, e.project.ID, im.binary)
	sym := newServiceSymbolicator(t, st, t.TempDir())
	ctx := issues.WithProject(context.Background(), e.project.ID)
	addrs, err := fixtures.RandomTextAddrs(im.binary, 500, 3)
	if err != nil {
		t.Fatal(err)
	}
	var image issues.DebugImage
	if err := json.Unmarshal([]byte(im.json), &image); err != nil {
		t.Fatal(err)
	}
	// Find an address inside an inlined call.
	for _, a := range addrs {
		img := image
		foreign := &issues.Frame{InstructionAddr: issues.A(0x1000), Function: "kept"}
		st := &issues.Stacktrace{Frames: []*issues.Frame{foreign, {InstructionAddr: issues.A(im.base + a - im.load)}}}
		if _, err := sym.Symbolicate(ctx, []*issues.Stacktrace{st}, []*issues.DebugImage{&img}); err != nil {
			t.Fatal(err)
		}
		if len(st.Frames) < 3 {
			continue
		}
		if st.Frames[0] != foreign || foreign.Function != "kept" {
			t.Errorf("frame outside the image changed: %+v", st.Frames[0])
		}
		inlined := st.Frames[1:]
		for _, f := range inlined {
			if f.Function == "" || f.InstructionAddr.N != im.base+a-im.load {
				t.Errorf("inline chain frame %+v", f)
			}
		}
		if img.DebugStatus != "found" {
			t.Errorf("image status %s", img.DebugStatus)
		}
		if n := len(img.Candidates); n == 0 || img.Candidates[n-1].Download.Status != "ok" || img.Candidates[n-1].Debug == nil || img.Candidates[n-1].Debug.Status != "ok" {
			t.Errorf("candidates %+v, want the uploaded file last, downloaded and used", img.Candidates)
		}
		// The service answers innermost first; the event reads outer first.
		no := false
		resp, err := sym.Service.Symbolicate(ctx, &service.SymbolicateRequest{
			Modules:     []service.ModuleInfo{{Type: "elf", CodeID: image.CodeID, DebugID: image.DebugID, CodeFile: image.CodeFile, ImageAddr: service.Addr(image.ImageAddr.N), ImageSize: image.ImageSize}},
			Stacktraces: []service.StacktraceIn{{Frames: []service.FrameIn{{InstructionAddr: service.Addr(im.base + a - im.load), AdjustInstructionAddr: &no}}}},
		}, sym.Sources(ctx))
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, f := range resp.Stacktraces[0].Frames {
			want = append([]string{f.Function}, want...)
		}
		for _, f := range inlined {
			got = append(got, f.Function)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("inline chain %q, want %q", got, want)
		}
		return
	}
	t.Fatalf("no inlined call at %d random addresses", len(addrs))
}
