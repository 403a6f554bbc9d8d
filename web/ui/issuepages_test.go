package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web/ui"
)

// richEvent is a native crash with everything the issue page shows: an
// image with candidates, processing errors, registers, inline frames, a
// long C++ name and a stored minidump.
const richEvent = `{"event_id":"%[1]s","platform":"native","level":"fatal","release":"demo@2.0","environment":"production",
 "exception":{"values":[{"type":"EXCEPTION_ACCESS_VIOLATION_WRITE","value":"Fatal Error: EXCEPTION_ACCESS_VIOLATION_WRITE / 0x0","thread_id":7,
   "stacktrace":{"frames":[
     {"instruction_addr":"0x7ffb10001234","package":"C:\\Windows\\System32\\kernel32.dll","trust":"scan"},
     {"instruction_addr":"0x7ff6a0001000","symbol_addr":"0x7ff6a0000f80","function":"main","filename":"C:\\src\\demo\\main.cpp","lineno":41,"trust":"cfi"},
     {"instruction_addr":"0x7ffb10003000","package":"C:\\Windows\\System32\\ntdll.dll","trust":"cfi"},
     {"instruction_addr":"0x7ff6a0002010","symbol_addr":"0x7ff6a0002000","function":"std::_Func_impl_no_alloc<demo::Renderer::submit(std::vector<demo::DrawCommand,std::allocator<demo::DrawCommand> > const &)::<lambda_1>,void>::_Do_call","filename":"C:\\src\\demo\\renderer.cpp","lineno":212,"trust":"cfi"},
     {"instruction_addr":"0x7ff6a0002010","function":"demo::Buffer::write","filename":"C:\\src\\demo\\buffer.h","lineno":17,"trust":"inline"},
     {"instruction_addr":"0x7ff6a0003000","symbol_addr":"0x7ff6a0002ff0","function":"demo::crash_now","filename":"C:\\src\\demo\\crash.cpp","lineno":9,"trust":"context"}],
   "registers":{"rip":"0x7ff6a0003000","rsp":"0xbb1e4ff6d0","rbp":"0xbb1e4ff700","rax":"0x0","rbx":"0x1","rcx":"0xdeadbeef","rdx":"0x2a","r8":"0x0","r9":"0x0","eflags":"0x10246"}}}]},
 "threads":{"values":[{"id":7,"name":"main","crashed":true},
   {"id":8,"name":"render worker","stacktrace":{"frames":[{"instruction_addr":"0x7ffb10003000","trust":"context"}]}}]},
 "debug_meta":{"images":[
   {"type":"pe","code_file":"C:\\src\\demo\\build\\demo.exe","debug_file":"C:\\src\\demo\\build\\demo.pdb","debug_id":"3249d99d-0c40-4931-8610-f4e4fb0b6936-1","image_addr":"0x7ff6a0000000","image_size":65536,"arch":"x86_64","debug_status":"found","unwind_status":"found"},
   {"type":"pe","code_file":"C:\\Windows\\System32\\ntdll.dll","debug_file":"ntdll.pdb","debug_id":"b3a2c1d0-0000-4000-8000-000000000001-1","image_addr":"0x7ffb10000000","image_size":65536,"arch":"x86_64","debug_status":"missing","unwind_status":"missing",
    "candidates":[{"source":"sentry:project","location":"debugfiles/b3a2c1d0000040008000000000000001","download":{"status":"notfound"}},
                  {"source":"microsoft","location":"https://msdl.microsoft.com/download/symbols/ntdll.pdb/B3A2C1D0000040008000000000000001/ntdll.pd_","download":{"status":"error","details":"connection refused"}}]},
   {"type":"pe","code_file":"C:\\Windows\\System32\\gdi32.dll","debug_file":"gdi32.pdb","debug_id":"c0ffee00-0000-4000-8000-000000000002-1","image_addr":"0x7ffb20000000","image_size":65536,"arch":"x86_64","debug_status":"malformed","unwind_status":"found"},
   {"type":"pe","code_file":"C:\\Windows\\System32\\user32.dll","debug_id":"aaaaaaaa-0000-4000-8000-000000000003-1","image_addr":"0x7ffb30000000","image_size":65536,"arch":"x86_64","debug_status":"unused","unwind_status":"unused"}]},
 "errors":[{"type":"native_missing_dsym","image_path":"C:\\Windows\\System32\\ntdll.dll","image_uuid":"b3a2c1d0-0000-4000-8000-000000000001-1","image_arch":"x86_64"},
           {"type":"native_bad_dsym","image_path":"C:\\Windows\\System32\\gdi32.dll","image_uuid":"c0ffee00-0000-4000-8000-000000000002-1"}],
 "attachments":[{"name":"upload_file_minidump.dmp","type":"event.minidump","size":5,"key":"events/%[2]d/%[1]s/0"},
                {"name":"../../etc/passwd","type":"event.attachment","size":4,"key":"events/999/%[1]s/0"}],
 "tags":[["os","windows"],["gpu","GeForce RTX 3080"]],
 "contexts":{"os":{"name":"Windows","version":"10.0.19045"}}}`

// fill stores n events of one issue spread over the last hours, with
// tags os=windows for the first third and os=linux for the rest.
func (e *env) fill(t testing.TB, p meta.Project, is meta.Issue, n int, data func(i int, id string) string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var evs []*events.Event
	var occ []meta.Occurrence
	for i := range n {
		id := fmt.Sprintf("%016x%016x", is.ID, i+1)
		ts := now.Add(-time.Duration(i) * 37 * time.Minute)
		evs = append(evs, &events.Event{ProjectID: p.ID, EventID: id, IssueID: is.ID, Timestamp: ts, ReceivedAt: ts, Level: "fatal",
			Release: "demo@2.0", Environment: "production", UserKey: fmt.Sprint("u", i%5), Data: []byte(data(i, id))})
		occ = append(occ, meta.Occurrence{IssueID: is.ID, ProjectID: p.ID, EventID: id, Time: ts, Level: "fatal", Release: "demo@2.0", Environment: "production"})
	}
	if _, err := e.events.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.RecordOccurrences(ctx, occ); err != nil {
		t.Fatal(err)
	}
}

func osTags(i int, id string) string {
	os := "linux"
	if i%4 == 0 {
		os = "windows"
	}
	return fmt.Sprintf(`{"event_id":%q,"platform":"native","tags":[["os",%q]]}`, id, os)
}

var rectRE = regexp.MustCompile(`<rect class="spark-bar`)

func TestIssueListSparklinesAndFilters(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	a := e.issue(t, p, "crash in renderer", "fatal", "")
	e.fill(t, p, a, 8, osTags)
	bIssue := e.issue(t, p, "crash in audio", "error", fmt.Sprintf(`{"event_id":"%032x","tags":{"os":"macos","gpu":"M1 Max"}}`, 77777))
	ctx := context.Background()
	ev := &events.Event{ProjectID: p.ID, EventID: fmt.Sprintf("%032x", 88888), IssueID: bIssue.ID, Timestamp: time.Now(), Release: "demo@3.0", Environment: "staging",
		Data: []byte(`{"tags":[["os","macos"],["gpu","M1 Max"]]}`)}
	if _, err := e.events.Put(ctx, []*events.Event{ev}); err != nil {
		t.Fatal(err)
	}
	br := e.browser(t)
	br.login("dev@acme.test")

	_, body, _ := br.get("/o/acme/acme-app/")
	if n := strings.Count(body, `<svg class="spark"`); n != 2 {
		t.Errorf("%d sparklines, want 2", n)
	}
	if n := len(rectRE.FindAllString(body, -1)); n != 48 {
		t.Errorf("%d sparkline bars, want 24 per issue", n)
	}
	if !strings.Contains(body, "events in the last 24 hours") {
		t.Error("sparkline has no label")
	}

	count := func(query string) (int, string) {
		_, body, _ := br.get("/o/acme/acme-app/?query=" + url.QueryEscape(query))
		return strings.Count(body, `class="title" href=`), body
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"release:demo@2.0", 1},
		{"release:demo@3.0", 1},
		{"release:nope", 0},
		{"environment:staging", 1},
		{"os:windows", 1},
		{"os:macos", 1},
		{`gpu:"M1 Max"`, 1},
		{`gpu:"M1 Max" os:windows`, 0},
		{"os:linux renderer", 1},
		{"os:linux audio", 0},
		{"std::vector", 0}, // text, not a tag
	} {
		if n, body := count(c.q); n != c.want {
			t.Errorf("query %q: %d issues, want %d\n%s", c.q, n, c.want, body)
		}
	}
}

func TestIssueDetailHistogramViewsAndDetails(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	blobs, err := fsblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ui.New(ui.Config{Meta: e.meta, Events: e.events, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	ctx := context.Background()

	is := e.issue(t, p, "EXCEPTION_ACCESS_VIOLATION_WRITE", "fatal", "")
	e.fill(t, p, is, 40, osTags)
	id := fmt.Sprintf("%032x", 123456)
	now := time.Now().UTC()
	data := fmt.Sprintf(richEvent, id, p.ID)
	if _, err := e.events.Put(ctx, []*events.Event{{ProjectID: p.ID, EventID: id, IssueID: is.ID, Timestamp: now, ReceivedAt: now, Level: "fatal", Data: []byte(data)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is.ID, ProjectID: p.ID, EventID: id, Time: now}}); err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(ctx, fmt.Sprintf("events/%d/%s/0", p.ID, id), bytes.NewReader([]byte("MDMP!"))); err != nil {
		t.Fatal(err)
	}
	br := e.browser(t)
	br.login("dev@acme.test")
	page := fmt.Sprintf("/o/acme/acme-app/issues/%d/", is.ID)

	_, body, _ := br.get(page)
	// 24 hourly bars; the 41 events span 40×37 min ≈ 24.7 h, so the chart
	// counts those of the last 24 hours only.
	if n := strings.Count(body, `<rect class="bar`); n != 24 {
		t.Errorf("24h histogram has %d bars", n)
	}
	if !strings.Contains(body, "events, ") || !strings.Contains(body, " UTC: ") {
		t.Error("histogram bars lack hover titles")
	}
	_, body14, _ := br.get(page + "?range=14d")
	if n := strings.Count(body14, `<rect class="bar`); n != 14 {
		t.Errorf("14d histogram has %d bars", n)
	}
	if !strings.Contains(body14, "42 events from") {
		t.Errorf("14d histogram does not count all 42 events")
	}

	// The newest event is the rich one: in-app view by default.
	mustContain := func(body string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("page lacks %q", w)
			}
		}
	}
	mustContain(body,
		`aria-current="true">In-app</a>`,
		"demo::crash_now", `C:\src\demo\crash.cpp:9`, `<span class="badge inl">inlined</span> demo::Buffer::write`,
		"std::_Func_impl_no_alloc&lt;demo::Renderer::submit", "frame not in the app hidden (ntdll.dll)",
		"0x00007ff6a0003000", "demo.exe",
		// Registers of the crashing thread.
		"<dt>rip</dt><dd>0x00007ff6a0003000</dd>", "<dt>rcx</dt><dd>0x00000000deadbeef</dd>",
		// Errors in plain words.
		"There were problems processing this crash", "No debug file was found for ntdll.dll (debug id b3a2c1d0-0000-4000-8000-000000000001-1)",
		"The debug file of gdi32.dll", "native_missing_dsym",
		// Candidates and the fix.
		"Why, and how to fix it", "sentry:project", "https://msdl.microsoft.com/download/symbols/ntdll.pdb/", "connection refused",
		"Upload ntdll.pdb (debug id b3a2c1d0-0000-4000-8000-000000000001-1) with either command:", "cairn upload --org acme --project acme-app path/to/ntdll.pdb", "sentry-cli debug-files upload --org acme",
		`<span class="st st-found">found</span>`, `<span class="st st-missing">missing</span>`, `<span class="st st-malformed">malformed</span>`,
		// Tag distribution over 42 events, 41 of them with an os tag: windows on
		// i%4==0 of 40 (10) + the rich event (1) = 11 → 27%; linux 30 → 73%.
		"over the newest 42 events", ">windows</td><td class=\"num pct\">27%", ">linux</td><td class=\"num pct\">73%",
		// The minidump, and not the forged attachment pointing elsewhere.
		"upload_file_minidump.dmp", fmt.Sprintf("events/%s/attachments/0", id),
	)
	if strings.Contains(body, "crash_now</td>") && strings.Index(body, "demo::crash_now") > strings.Index(body, "demo::Buffer::write") {
		t.Error("frames not innermost first")
	}

	_, full, _ := br.get(page + "?view=full")
	mustContain(full, `aria-current="true">Full</a>`, "ntdll.dll", "kernel32.dll", "stack scan")
	if strings.Contains(full, "not in the app hidden") {
		t.Error("full view hides frames")
	}
	_, raw, _ := br.get(page + "?view=raw")
	raw = html.UnescapeString(raw)
	mustContain(raw, `<pre class="raw">`,
		" 0  demo.exe!demo::crash_now [crash.cpp : 9 + 0x10]",
		" 1  demo.exe!demo::Buffer::write [buffer.h : 17] (inlined)",
		" 3  ntdll.dll + 0x3000",
		"Found by: given as instruction pointer in context",
		"  rip = 0x00007ff6a0003000")
	_, unsym, _ := br.get(page + "?view=unsymbolicated")
	unsym = html.UnescapeString(unsym)
	unsym = unsym[strings.Index(unsym, "<h2>Stack trace"):strings.Index(unsym, "<h2>Registers")]
	mustContain(unsym, "<code>demo.exe+0x3000</code>", "<code>ntdll.dll+0x3000</code>", "<code>kernel32.dll+0x1234</code>")
	if strings.Contains(unsym, "demo::crash_now") {
		t.Error("unsymbolicated view shows function names")
	}
	// A view keeps the chosen range, and the other way round.
	if !strings.Contains(raw, "range=14d&amp;view=raw") && !strings.Contains(raw, "view=raw&amp;range=14d") {
		_, r14, _ := br.get(page + "?view=raw&range=14d")
		if !strings.Contains(r14, "range=14d&amp;view=full") {
			t.Error("view links drop the range")
		}
	}

	// Download: the member gets the bytes with a safe name.
	res, err := br.c.Get(br.url + page + "events/" + id + "/attachments/0")
	if err != nil {
		t.Fatal(err)
	}
	buf := new(bytes.Buffer)
	buf.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || buf.String() != "MDMP!" || res.Header.Get("Content-Disposition") != `attachment; filename="upload_file_minidump.dmp"` ||
		res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download: %d %q %v", res.StatusCode, buf.String(), res.Header)
	}
	// A key of another project stored in the event is refused.
	if code, _, _ := br.get(page + "events/" + id + "/attachments/1"); code != http.StatusNotFound {
		t.Errorf("forged key: %d", code)
	}
	if code, _, _ := br.get(page + "events/" + id + "/attachments/7"); code != http.StatusNotFound {
		t.Errorf("missing attachment: %d", code)
	}
	// Another organization's member gets 404, also through their own project.
	g, gp := e.org(t, "globex")
	_ = gp
	e.user(t, "dev@globex.test", g.ID)
	other := e.browser(t)
	other.login("dev@globex.test")
	for _, path := range []string{
		page + "events/" + id + "/attachments/0",
		fmt.Sprintf("/o/globex/globex-app/issues/%d/events/%s/attachments/0", is.ID, id),
	} {
		if code, body, _ := other.get(path); code != http.StatusNotFound || strings.Contains(body, "MDMP") {
			t.Errorf("GET %s as another organization: %d", path, code)
		}
	}
}

func TestBulkDelete(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	g, gp := e.org(t, "globex")
	_ = g
	blobs, err := fsblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ui.New(ui.Config{Meta: e.meta, Events: e.events, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	// Each issue's event carries richEvent's attachments: its own
	// minidump, and a key naming another project's blob, which deleting
	// must leave alone.
	withDump := func(title string) (meta.Issue, string) {
		id := fmt.Sprintf("%032x", evSeq+1)
		return e.issue(t, p, title, "error", fmt.Sprintf(richEvent, id, p.ID)), id
	}
	keep, keepEvent := withDump("keep me")
	gone, goneEvent := withDump("delete me")
	e.fill(t, p, gone, 5, osTags)
	foreign := e.issue(t, gp, "globex crash", "error", "")
	dump := func(eventID string, project int64) string { return fmt.Sprintf("events/%d/%s/0", project, eventID) }
	blobKeys := []string{dump(keepEvent, p.ID), dump(goneEvent, p.ID), dump(goneEvent, 999)}
	for _, k := range blobKeys {
		if err := blobs.Put(context.Background(), k, strings.NewReader("MDMP")); err != nil {
			t.Fatal(err)
		}
	}
	br := e.browser(t)
	br.login("dev@acme.test")
	_, body, _ := br.get("/o/acme/acme-app/")
	if !strings.Contains(body, `value="delete"`) {
		t.Fatal("no delete button")
	}
	token := csrfOf(t, body)
	form := url.Values{"action": {"delete"}, "issue": {fmt.Sprint(gone.ID), fmt.Sprint(foreign.ID)}, "back": {"/o/acme/acme-app/"}}
	if code, _, _ := br.post("/o/acme/acme-app/bulk", form); code != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", code)
	}
	form.Set("csrf", token)
	code, body, _ := br.post("/o/acme/acme-app/bulk", form)
	if code != http.StatusOK || !strings.Contains(body, "Delete 1 issue?") || !strings.Contains(body, "delete me") || strings.Contains(body, "globex crash") {
		t.Fatalf("confirmation page: %d\n%s", code, body)
	}
	if _, err := e.meta.Issue(context.Background(), gone.ID); err != nil {
		t.Fatal("deleted before confirmation")
	}
	form.Set("confirm", "yes")
	if code, _, h := br.post("/o/acme/acme-app/bulk", form); code != http.StatusSeeOther || h.Get("Location") != "/o/acme/acme-app/" {
		t.Fatalf("delete: %d %q", code, h.Get("Location"))
	}
	ctx := context.Background()
	if _, err := e.meta.Issue(ctx, gone.ID); err == nil {
		t.Error("issue not deleted")
	}
	if evs, _, _ := e.events.ListByIssue(ctx, gone.ID, 0, 10); len(evs) != 0 {
		t.Errorf("%d events of the deleted issue left", len(evs))
	}
	for _, id := range []int64{keep.ID, foreign.ID} {
		if _, err := e.meta.Issue(ctx, id); err != nil {
			t.Errorf("issue %d deleted: %v", id, err)
		}
	}
	if code, _, _ := br.get(fmt.Sprintf("/o/acme/acme-app/issues/%d/", gone.ID)); code != http.StatusNotFound {
		t.Errorf("deleted issue page: %d", code)
	}
	for _, c := range []struct {
		key  string
		kept bool
	}{{blobKeys[0], true}, {blobKeys[1], false}, {blobKeys[2], true}} {
		if _, err := blobs.Size(ctx, c.key); (err == nil) != c.kept {
			t.Errorf("blob %s: kept = %v, want %v", c.key, err == nil, c.kept)
		}
	}
}

// The sqlite stores implement every optional interface the pages use.
var (
	_ events.Histogrammer       = (*sqlite.Events)(nil)
	_ events.IssueMatcher       = (*sqlite.Events)(nil)
	_ events.IssueEventsDeleter = (*sqlite.Events)(nil)
	_ meta.IssueDeleter         = (*sqlite.Meta)(nil)
)
