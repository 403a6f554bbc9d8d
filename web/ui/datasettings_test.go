package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
	"github.com/cairn-dev/cairn/web/ui"
)

// TestDataSettings edits a project's Data page and sends events through
// HTTP ingest, the sink and the worker before and after. Ingest caches
// projects for an hour here, so the scrubbed event after the save shows
// that saving made this node's ingest forget the project.
func TestDataSettings(t *testing.T) {
	ctx := context.Background()
	e := &env{dir: t.TempDir()}
	var err error
	if e.meta, err = sqlite.OpenMeta(ctx, filepath.Join(e.dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if e.events, err = sqlite.OpenEvents(ctx, filepath.Join(e.dir, "events.db")); err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqlite.OpenQueue(ctx, filepath.Join(e.dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := web.NewKeyStore(e.meta, memcache.New(100), time.Hour)
	h, err := ui.New(ui.Config{Meta: e.meta, Events: e.events, Blobs: blobs, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	sink := issues.NewSink(blobs, q, issues.SinkOptions{})
	ing := httptest.NewServer(ingest.NewHandler(ingest.DefaultConfig(), keys, sink, nil))
	worker := issues.NewWorker(q, e.meta, e.events, &issues.Processor{Blobs: blobs, Symbolicator: issues.Unsymbolicated{}}, issues.WorkerOptions{})
	t.Cleanup(func() {
		ing.Close()
		sink.Close()
		e.srv.Close()
		q.Close()
		e.events.Close()
		e.meta.Close()
	})

	e.user(t, "root@cairn.test")
	acme, p := e.org(t, "acme")
	// The owner joins first: an organization's first member becomes its
	// owner, and the last owner cannot be demoted.
	for _, m := range []struct {
		email string
		role  meta.Role
	}{{"owner@acme.test", meta.RoleOwner}, {"manager@acme.test", meta.RoleManager}, {"dev@acme.test", meta.RoleMember}} {
		email, role := m.email, m.role
		e.user(t, email, acme.ID)
		u, err := e.meta.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.meta.SetMemberRole(ctx, acme.ID, u.ID, role); err != nil {
			t.Fatal(err)
		}
	}
	e.user(t, "stranger@other.test")
	key, err := web.CreateKey(ctx, e.meta, p.ID, "Default")
	if err != nil {
		t.Fatal(err)
	}

	// send stores an event through ingest and the worker and returns it.
	send := func(payload string) *issues.Event {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/%d/store/", ing.URL, p.ID), strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+key.Public)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ack struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&ack)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("ingest: %d, %v", res.StatusCode, err)
		}
		if _, err := worker.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		row, err := e.events.Get(ctx, p.ID, ack.ID)
		if err != nil {
			t.Fatalf("stored event %s: %v", ack.ID, err)
		}
		ev, err := issues.DecodeEvent(row.Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	const event = `{"message":"licence check failed","level":"error","extra":{"license_key":"ABCD-1234","seat":"7"}}`
	if ev := send(event); ev.Extra["license_key"] != "ABCD-1234" {
		t.Fatalf("before the setting, extra = %v; want it stored as sent", ev.Extra)
	}

	const path = "/o/acme/acme-app/settings/data"
	save := url.Values{"scrub": {"1"}, "fields": {"license_key\r\n\r\n  Employee-ID \nlicense_KEY\n"}, "drop_minidumps": {"1"}}
	withCSRF := func(b *browser) url.Values {
		_, page, _ := b.get(path)
		form := url.Values{"csrf": {csrfOf(t, page)}}
		for k, v := range save {
			form[k] = v
		}
		return form
	}
	unchanged := func() {
		t.Helper()
		if got, _ := e.meta.Project(ctx, p.ID); got.Scrub || got.DropMinidumps || len(got.ScrubFields) != 0 {
			t.Fatalf("settings changed: %+v", got)
		}
	}

	stranger := e.browser(t)
	stranger.login("stranger@other.test")
	if code, _, _ := stranger.get(path); code != http.StatusNotFound {
		t.Errorf("non-member GET: %d, want 404", code)
	}

	dev := e.browser(t)
	dev.login("dev@acme.test")
	code, page, _ := dev.get(path)
	if code != http.StatusOK || !strings.Contains(page, `name="drop_minidumps" value="1" disabled`) || strings.Contains(page, `<button class="primary">Save</button>`) {
		t.Errorf("member GET: %d, want the settings read-only\n%s", code, page)
	}
	if !strings.Contains(page, `href="/o/acme/acme-app/settings/data" class="active" aria-current="page">Data</a>`) {
		t.Error("the Data tab is missing from the project settings navigation")
	}
	if code, _, _ := dev.post(path, withCSRF(dev)); code != http.StatusForbidden {
		t.Errorf("member POST: %d, want 403", code)
	}
	unchanged()

	mgr := e.browser(t)
	mgr.login("manager@acme.test")
	noCSRF := withCSRF(mgr)
	noCSRF.Del("csrf")
	if code, _, _ := mgr.post(path, noCSRF); code != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", code)
	}
	for _, bad := range []string{"license key", `"token"`, strings.Repeat("x", 65), manyFields(51)} {
		form := withCSRF(mgr)
		form.Set("fields", bad)
		code, body, _ := mgr.post(path, form)
		if code != http.StatusBadRequest || !strings.Contains(body, "The settings were not saved.") {
			t.Errorf("fields %.20q: %d, want 400 with the error shown", bad, code)
		}
		if !strings.Contains(body, `name="drop_minidumps" value="1" checked`) {
			t.Errorf("fields %.20q: the refused form lost its input", bad)
		}
	}
	unchanged()

	owner := e.browser(t)
	owner.login("owner@acme.test")
	code, _, hdr := owner.post(path, withCSRF(owner))
	if code != http.StatusSeeOther || hdr.Get("Location") != path+"?done=data-saved" {
		t.Fatalf("owner POST: %d %q", code, hdr.Get("Location"))
	}
	got, err := e.meta.Project(ctx, p.ID)
	if err != nil || !got.Scrub || !got.DropMinidumps || !slices.Equal(got.ScrubFields, []string{"license_key", "Employee-ID"}) {
		t.Fatalf("project after saving = %+v, %v", got, err)
	}
	_, page, _ = owner.get(path + "?done=data-saved")
	if !strings.Contains(page, "The settings were saved.") || !strings.Contains(page, "license_key\nEmployee-ID</textarea>") ||
		!strings.Contains(page, `name="scrub" value="1" checked`) {
		t.Errorf("page after saving:\n%s", page)
	}

	ev := send(event)
	if ev.Extra["license_key"] != "[Filtered]" || ev.Extra["seat"] != "7" {
		t.Errorf("after the setting, extra = %v; want license_key filtered and seat kept", ev.Extra)
	}

	// Turning scrubbing off again stores events as sent.
	form := withCSRF(mgr)
	form.Del("scrub")
	if code, _, _ := mgr.post(path, form); code != http.StatusSeeOther {
		t.Fatalf("manager POST: %d", code)
	}
	if ev := send(event); ev.Extra["license_key"] != "ABCD-1234" {
		t.Errorf("with scrubbing off, extra = %v", ev.Extra)
	}
}

func manyFields(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "field_%d\n", i)
	}
	return b.String()
}
