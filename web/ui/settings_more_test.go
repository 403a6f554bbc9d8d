package ui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
)

var inviteRE = regexp.MustCompile(`id="invite-link" class="mono" readonly value="http://cairn\.example(/invite/[^"]+)"`)

// invite creates an invitation link as the signed-in browser.
func (b *browser) invite(role, email string) string {
	b.t.Helper()
	_, page, _ := b.get("/orgs/acme/members")
	code, body, _ := b.post("/orgs/acme/invitations", url.Values{"csrf": {csrfOf(b.t, page)}, "role": {role}, "email": {email}})
	m := inviteRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		b.t.Fatalf("create invitation: %d\n%s", code, body)
	}
	return m[1]
}

// accept follows an invitation link in a fresh browser.
func (s *stack) accept(t *testing.T, link, email, password string) (int, string, http.Header) {
	t.Helper()
	b := s.browser(t)
	code, page, _ := b.get(link)
	if code != http.StatusOK {
		return code, page, nil
	}
	return b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "email": {email}, "password": {password}, "password2": {password}})
}

func TestInvitations(t *testing.T) {
	s := newStack(t, time.Second)
	acme, _, _ := s.access(t)
	owner := s.browser(t)
	owner.login("owner@acme.test")
	ctx := context.Background()

	link := owner.invite("manager", "")
	if code, body, _ := s.accept(t, link, "new@acme.test", "short"); code != http.StatusBadRequest || !strings.Contains(body, "too short") {
		t.Fatalf("short password: %d", code)
	}
	code, _, h := s.accept(t, link, "new@acme.test", "a good password")
	if code != http.StatusSeeOther || h.Get("Location") != "/" || !strings.Contains(h.Get("Set-Cookie"), "cairn_session=") {
		t.Fatalf("accept: %d %v", code, h)
	}
	u, err := s.meta.UserByEmail(ctx, "new@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.meta.MemberRole(ctx, acme.ID, u.ID); err != nil || r != meta.RoleManager {
		t.Errorf("role after accepting = %q, %v", r, err)
	}
	if code, body, _ := s.accept(t, link, "other@acme.test", "a good password"); code != http.StatusGone || !strings.Contains(body, "already used") {
		t.Errorf("reused link: %d", code)
	}

	// A signature that does not match, or an expiry changed by hand.
	fresh := owner.invite("member", "fixed@acme.test")
	parts := strings.Split(strings.TrimPrefix(fresh, "/invite/"), ".")
	for _, bad := range []string{
		"/invite/" + parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:],
		"/invite/" + parts[0] + "." + fmt.Sprint(time.Now().Add(365*24*time.Hour).Unix()) + "." + parts[2],
		"/invite/" + parts[0],
	} {
		if code, body, _ := s.browser(t).get(bad); code != http.StatusNotFound || !strings.Contains(body, "not valid") {
			t.Errorf("GET %s = %d", bad, code)
		}
	}
	// The email of an invitation for one address cannot be replaced.
	if code, _, _ := s.accept(t, fresh, "intruder@evil.test", "a good password"); code != http.StatusSeeOther {
		t.Fatalf("accept fixed-address invitation: %d", code)
	}
	if _, err := s.meta.UserByEmail(ctx, "intruder@evil.test"); err == nil {
		t.Error("the invited address was replaced by the form's")
	}
	if _, err := s.meta.UserByEmail(ctx, "fixed@acme.test"); err != nil {
		t.Error(err)
	}

	// Expired: the clock moves past the 7-day lifetime.
	late := owner.invite("member", "")
	s.advance(8 * 24 * time.Hour)
	if code, body, _ := s.browser(t).get(late); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Errorf("expired link: %d", code)
	}
	// Members may not invite.
	m := s.browser(t)
	m.login("blue@acme.test")
	_, page, _ := m.get("/orgs/acme/members")
	if code, _, _ := m.post("/orgs/acme/invitations", url.Values{"csrf": {csrfOf(t, page)}, "role": {"owner"}}); code != http.StatusForbidden {
		t.Errorf("member invites: %d", code)
	}
	// Managers may not make owners.
	mg := s.browser(t)
	mg.login("manager@acme.test")
	_, page, _ = mg.get("/orgs/acme/members")
	if code, _, _ := mg.post("/orgs/acme/invitations", url.Values{"csrf": {csrfOf(t, page)}, "role": {"owner"}}); code != http.StatusBadRequest {
		t.Errorf("manager invites an owner: %d", code)
	}
}

func TestMembersRolesAndLastOwner(t *testing.T) {
	s := newStack(t, time.Second)
	acme, _, _ := s.access(t)
	ctx := context.Background()
	ownerU, _ := s.meta.UserByEmail(ctx, "owner@acme.test")
	blueU, _ := s.meta.UserByEmail(ctx, "blue@acme.test")
	b := s.browser(t)
	b.login("owner@acme.test")
	_, page, _ := b.get("/orgs/acme/members")
	csrf := csrfOf(t, page)
	for _, want := range []string{"owner@acme.test", "manager@acme.test", "blue@acme.test", "Blue", "Red", "role-owner"} {
		if !strings.Contains(page, want) {
			t.Errorf("members page lacks %q", want)
		}
	}
	self := fmt.Sprintf("/orgs/acme/members/%d", ownerU.ID)
	if code, body, _ := b.post(self+"/remove", url.Values{"csrf": {csrf}}); code != http.StatusBadRequest || !strings.Contains(body, "last owner") {
		t.Errorf("removing the last owner: %d", code)
	}
	if code, body, _ := b.post(self+"/role", url.Values{"csrf": {csrf}, "role": {"member"}}); code != http.StatusBadRequest || !strings.Contains(body, "at least one owner") {
		t.Errorf("demoting the last owner: %d", code)
	}
	if code, _, _ := b.post(self+"/remove", url.Values{}); code != http.StatusForbidden {
		t.Errorf("remove without CSRF: %d", code)
	}
	// Adding an existing account by email, then changing and removing it.
	s.user(t, "late@acme.test")
	if code, _, _ := b.post("/orgs/acme/members", url.Values{"csrf": {csrf}, "email": {"late@acme.test"}, "role": {"manager"}}); code != http.StatusSeeOther {
		t.Fatalf("add member: %d", code)
	}
	if code, body, _ := b.post("/orgs/acme/members", url.Values{"csrf": {csrf}, "email": {"nobody@acme.test"}, "role": {"member"}}); code != http.StatusBadRequest || !strings.Contains(body, "invitation link") {
		t.Errorf("add unknown account: %d", code)
	}
	late, _ := s.meta.UserByEmail(ctx, "late@acme.test")
	if r, _ := s.meta.MemberRole(ctx, acme.ID, late.ID); r != meta.RoleManager {
		t.Errorf("added member's role = %q", r)
	}
	if code, _, _ := b.post(fmt.Sprintf("/orgs/acme/members/%d/role", blueU.ID), url.Values{"csrf": {csrf}, "role": {"owner"}}); code != http.StatusSeeOther {
		t.Fatalf("promote: %d", code)
	}
	// With a second owner, the first may leave.
	if code, _, h := b.post(self+"/remove", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Errorf("leaving with another owner: %d", code)
	}
	if code, _, _ := b.get("/orgs/acme/members"); code != http.StatusNotFound {
		t.Errorf("former member reads members: %d", code)
	}
}

func TestDisabledKeyIsRefusedAfterTheCacheWindow(t *testing.T) {
	const window = 300 * time.Millisecond
	s := newStack(t, window)
	_, game, _ := s.access(t)
	ctx := context.Background()
	b := s.browser(t)
	b.login("manager@acme.test")
	_, page, _ := b.get("/o/acme/acme-app/settings/keys")
	if code, _, _ := b.post("/o/acme/acme-app/settings/keys", url.Values{"csrf": {csrfOf(t, page)}, "action": {"create"}, "label": {"Windows builds"}}); code != http.StatusSeeOther {
		t.Fatalf("create key: %d", code)
	}
	keys, _ := s.meta.ListKeys(ctx, game.ID)
	if len(keys) != 1 || keys[0].Label != "Windows builds" {
		t.Fatalf("keys %+v", keys)
	}
	k := keys[0]
	_, page, _ = b.get("/o/acme/acme-app/settings/keys")
	dsn := fmt.Sprintf("http://%s@cairn.example/%d", k.Public, game.ID)
	if !strings.Contains(page, dsn) || !strings.Contains(page, "30 seconds") {
		t.Errorf("keys page lacks the DSN %s or the cache note", dsn)
	}
	if code := s.send(t, game.ID, k.Public); code != http.StatusOK {
		t.Fatalf("event with an active key: %d", code)
	}
	form := url.Values{"csrf": {csrfOf(t, page)}, "id": {fmt.Sprint(k.ID)}}
	form.Set("action", "disable")
	if code, _, _ := b.post("/o/acme/acme-app/settings/keys", form); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	time.Sleep(window + 100*time.Millisecond)
	if code := s.send(t, game.ID, k.Public); code != http.StatusUnauthorized {
		t.Errorf("event with a disabled key after the cache window: %d, want 401", code)
	}
	form.Set("action", "enable")
	b.post("/o/acme/acme-app/settings/keys", form)
	time.Sleep(window + 100*time.Millisecond)
	if code := s.send(t, game.ID, k.Public); code != http.StatusOK {
		t.Errorf("event with a re-enabled key: %d", code)
	}
	form.Set("action", "rename")
	form.Set("label", "Linux builds")
	b.post("/o/acme/acme-app/settings/keys", form)
	if got, _ := s.meta.KeyByPublic(ctx, k.Public); got.Label != "Linux builds" {
		t.Errorf("label after rename = %q", got.Label)
	}
	form.Set("action", "delete")
	b.post("/o/acme/acme-app/settings/keys", form)
	time.Sleep(window + 100*time.Millisecond)
	if code := s.send(t, game.ID, k.Public); code != http.StatusUnauthorized {
		t.Errorf("event with a deleted key: %d, want 401", code)
	}
}

func TestSymbolSources(t *testing.T) {
	s := newStack(t, time.Second)
	_, game, _ := s.access(t)
	ctx := context.Background()
	var mu sync.Mutex
	var asked []string
	symbols := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/private/") {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer symbols.Close()
	b := s.browser(t)
	b.login("manager@acme.test")
	const path = "/o/acme/acme-app/settings/sources"
	_, page, _ := b.get(path)
	csrf := csrfOf(t, page)
	save := func(config string) (int, string) {
		t.Helper()
		code, body, _ := b.post(path, url.Values{"csrf": {csrf}, "action": {"save"}, "config": {config}})
		return code, body
	}
	for config, want := range map[string]string{
		`{"id": "x", "type": "http"`:                                                         "not a JSON object",
		`{"id": "x", "type": "ftp", "url": "ftp://x/"}`:                                      "want one of",
		`{"type": "http", "url": "https://x.test/"}`:                                         "id is required",
		`{"id": "x", "type": "http"}`:                                                        "url is required",
		`{"id": "x", "type": "http", "url": "https://x.test/", "layout": {"type": "weird"}}`: "weird",
		`{"id": "disk", "type": "filesystem", "path": "/etc"}`:                               "not allowed",
	} {
		code, body := save(config)
		if code != http.StatusBadRequest || !strings.Contains(body, "The source was not saved") || !strings.Contains(body, want) {
			t.Errorf("save %s: %d, want 400 with %q", config, code, want)
		}
		if !strings.Contains(body, escaped(config)) {
			t.Errorf("save %s: the form lost the text", config)
		}
	}
	public := fmt.Sprintf(`{"id": "symsrv", "type": "http", "url": %q, "layout": {"type": "symstore"}}`, symbols.URL+"/public/")
	private := fmt.Sprintf(`{"id": "locked", "type": "http", "url": %q, "layout": {"type": "native"}}`, symbols.URL+"/private/")
	for _, c := range []string{public, private} {
		if code, body := save(c); code != http.StatusSeeOther {
			t.Fatalf("save %s: %d\n%s", c, code, body)
		}
	}
	if code, body := save(public); code != http.StatusBadRequest || !strings.Contains(body, "ids must be unique") {
		t.Errorf("duplicate id: %d", code)
	}
	raw, _ := s.meta.ProjectSources(ctx, game.ID)
	if !strings.Contains(string(raw), `"id":"symsrv"`) || !strings.Contains(string(raw), `"id":"locked"`) {
		t.Fatalf("stored sources %s", raw)
	}
	test := func(id string) string {
		t.Helper()
		code, body, _ := b.post(path, url.Values{"csrf": {csrf}, "action": {"test"}, "id": {id}})
		if code != http.StatusOK {
			t.Fatalf("test %s: %d", id, code)
		}
		return body
	}
	if body := test("symsrv"); !strings.Contains(body, "test-ok") || !strings.Contains(body, "Reachable") {
		t.Errorf("test of a reachable source:\n%s", body)
	}
	if body := test("locked"); !strings.Contains(body, "test-denied") || !strings.Contains(body, "403") {
		t.Errorf("test of a 403 source:\n%s", body)
	}
	mu.Lock()
	if len(asked) != 2 || !strings.HasPrefix(asked[0], "/public/") {
		t.Errorf("the symbol server was asked %v", asked)
	}
	mu.Unlock()
	// Unreachable: nothing listens there any more.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	code, body, _ := b.post(path, url.Values{"csrf": {csrf}, "action": {"test"},
		"config": {fmt.Sprintf(`{"id": "gone", "type": "http", "url": %q}`, closed.URL+"/")}})
	if code != http.StatusOK || !strings.Contains(body, "test-error") || !strings.Contains(body, "could not be reached") {
		t.Errorf("test of a closed server: %d", code)
	}
	// Edit keeps the order and replaces in place; remove drops.
	code, _, _ = b.post(path, url.Values{"csrf": {csrf}, "action": {"save"}, "orig": {"symsrv"},
		"config": {strings.Replace(public, "symstore", "ssqp", 1)}})
	if code != http.StatusSeeOther {
		t.Fatalf("edit: %d", code)
	}
	if code, _, _ := b.post(path, url.Values{"csrf": {csrf}, "action": {"remove"}, "id": {"locked"}}); code != http.StatusSeeOther {
		t.Fatalf("remove: %d", code)
	}
	raw, _ = s.meta.ProjectSources(ctx, game.ID)
	if !strings.Contains(string(raw), `"ssqp"`) || strings.Contains(string(raw), "locked") {
		t.Errorf("sources after edit and remove: %s", raw)
	}
	// Owners may add filesystem sources.
	o := s.browser(t)
	o.login("owner@acme.test")
	_, page, _ = o.get(path)
	if code, body, _ := o.post(path, url.Values{"csrf": {csrfOf(t, page)}, "action": {"save"},
		"config": {`{"id": "disk", "type": "filesystem", "path": "/srv/symbols"}`}}); code != http.StatusSeeOther {
		t.Errorf("owner adds a filesystem source: %d\n%s", code, body)
	}
}

// escaped is how html/template writes the text back into the form.
func escaped(s string) string {
	return strings.NewReplacer(`"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestDebugFileSearchAndDelete(t *testing.T) {
	s := newStack(t, time.Second)
	_, game, tools := s.access(t)
	ctx := context.Background()
	add := func(p meta.Project, name, debugID, sum string) meta.DebugFile {
		t.Helper()
		key := "difs/" + sum
		if err := s.blobs.Put(ctx, key, strings.NewReader("bytes of "+name)); err != nil {
			t.Fatal(err)
		}
		f, err := s.meta.AddDebugFile(ctx, meta.DebugFile{ProjectID: p.ID, Checksum: sum, BlobKey: key, Name: name, DebugID: debugID,
			CodeID: "5f3c2a1b2000", Arch: "x86_64", Format: "pe", Kind: "dbg", Features: []string{"debug", "unwind"}, Size: 123456})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := add(game, "renderer.pdb", "3249d99d-0c40-4931-8610-f4e4fb0b6936-1", strings.Repeat("a", 40))
	add(game, "physics.pdb", "11111111-2222-3333-4444-555555555555-1", strings.Repeat("b", 40))
	other := add(tools, "tool.pdb", "99999999-2222-3333-4444-555555555555-1", strings.Repeat("c", 40))
	b := s.browser(t)
	b.login("manager@acme.test")
	const path = "/o/acme/acme-app/settings/debug-files"
	for q, want := range map[string][]string{
		"":                                       {"renderer.pdb", "physics.pdb", "120.6 KiB"},
		"3249d99d-0c40-4931-8610-f4e4fb0b6936-1": {"renderer.pdb"},
		"3249D99D0C4049318610F4E4FB0B69361":      {"renderer.pdb"},
		"RENDER":                                 {"renderer.pdb"},
		"nothing-like-this":                      {"No debug file matches"},
	} {
		_, body, _ := b.get(path + "?query=" + url.QueryEscape(q))
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("query %q: page lacks %q", q, w)
			}
		}
		if q != "" && strings.Contains(body, "physics.pdb") {
			t.Errorf("query %q lists physics.pdb", q)
		}
		if strings.Contains(body, "tool.pdb") {
			t.Errorf("query %q lists another project's file", q)
		}
	}
	_, page, _ := b.get(path)
	del := fmt.Sprintf("%s/%d/delete", path, f.ID)
	if code, _, _ := b.post(del, url.Values{}); code != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", code)
	}
	if code, _, _ := b.post(fmt.Sprintf("%s/%d/delete", path, other.ID), url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusNotFound {
		t.Errorf("delete another project's file: %d", code)
	}
	if code, _, _ := b.post(del, url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if files, _ := s.meta.ListDebugFiles(ctx, game.ID, meta.DebugFileQuery{}); len(files) != 1 || files[0].Name != "physics.pdb" {
		t.Errorf("files after delete: %+v", files)
	}
	if _, err := s.blobs.Open(ctx, f.BlobKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("blob after delete: %v", err)
	}
	// A member reads the list but gets no delete buttons and may not delete.
	m := s.browser(t)
	m.login("red@acme.test")
	_, body, _ := m.get(path)
	if !strings.Contains(body, "physics.pdb") || strings.Contains(body, "/delete") {
		t.Errorf("member's view of debug files")
	}
}

func TestTokensAndPassword(t *testing.T) {
	s := newStack(t, time.Second)
	acme, _, _ := s.access(t)
	ctx := context.Background()
	b := s.browser(t)
	b.login("red@acme.test")
	tok := b.token(acme.ID, "event:read", "project:read")
	if code := s.apiGet(t, tok, "/api/0/projects/acme/tools/issues/"); code != http.StatusOK {
		t.Fatalf("API with a new token: %d", code)
	}
	_, page, _ := b.get("/account")
	if strings.Contains(page, tok) || !strings.Contains(page, "…"+tok[60:]) {
		t.Errorf("account page shows the secret, or not its last four characters")
	}
	if code, body, _ := b.post("/account/tokens", url.Values{"csrf": {csrfOf(t, page)}, "name": {"x"}, "org": {fmt.Sprint(acme.ID)}, "scope": {"root:all"}}); code != http.StatusBadRequest || !strings.Contains(body, "Unknown scope") {
		t.Errorf("unknown scope: %d", code)
	}
	red, _ := s.meta.UserByEmail(ctx, "red@acme.test")
	toks, _ := s.meta.ListUserTokens(ctx, red.ID)
	if len(toks) != 1 {
		t.Fatalf("tokens %+v", toks)
	}
	// Another user cannot revoke it.
	o := s.browser(t)
	o.login("owner@acme.test")
	_, opage, _ := o.get("/account")
	if code, _, _ := o.post(fmt.Sprintf("/account/tokens/%d/revoke", toks[0].ID), url.Values{"csrf": {csrfOf(t, opage)}}); code != http.StatusNotFound {
		t.Errorf("revoke another user's token: %d", code)
	}
	if code, _, _ := b.post(fmt.Sprintf("/account/tokens/%d/revoke", toks[0].ID), url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", code)
	}
	if code := s.apiGet(t, tok, "/api/0/projects/acme/tools/issues/"); code != http.StatusUnauthorized {
		t.Errorf("API with a revoked token: %d, want 401", code)
	}
	// A member's token stops working when the member leaves.
	tok2 := b.token(acme.ID, "event:read")
	if err := s.meta.RemoveMember(ctx, acme.ID, red.ID); err != nil {
		t.Fatal(err)
	}
	if code := s.apiGet(t, tok2, "/api/0/projects/acme/tools/issues/"); code != http.StatusUnauthorized {
		t.Errorf("API with a former member's token: %d, want 401", code)
	}

	// Password change.
	other := s.browser(t)
	other.login("owner@acme.test")
	_, page, _ = o.get("/account")
	csrf := csrfOf(t, page)
	for form, want := range map[*url.Values]string{
		{"current": {"wrong"}, "password": {"new password 1"}, "password2": {"new password 1"}}:         "current password is wrong",
		{"current": {"correct horse"}, "password": {"new password 1"}, "password2": {"new password 2"}}: "differ",
		{"current": {"correct horse"}, "password": {"short"}, "password2": {"short"}}:                   "too short",
	} {
		form.Set("csrf", csrf)
		if code, body, _ := o.post("/account/password", *form); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("password form %v: %d, want 400 with %q", form, code, want)
		}
	}
	if code, _, _ := o.post("/account/password", url.Values{"csrf": {csrf}, "current": {"correct horse"}, "password": {"new password 1"}, "password2": {"new password 1"}}); code != http.StatusSeeOther {
		t.Fatalf("change password: %d", code)
	}
	if code, _, _ := o.get("/account"); code != http.StatusOK {
		t.Errorf("the browser that changed the password was signed out: %d", code)
	}
	if code, _, _ := other.get("/account"); code != http.StatusSeeOther {
		t.Errorf("another browser stayed signed in: %d", code)
	}
	fresh := s.browser(t)
	_, lp, _ := fresh.get("/login")
	if code, _, _ := fresh.post("/login", url.Values{"csrf": {csrfOf(t, lp)}, "email": {"owner@acme.test"}, "password": {"correct horse"}, "next": {"/"}}); code != http.StatusUnauthorized {
		t.Errorf("old password still works: %d", code)
	}
	if code, _, _ := fresh.post("/login", url.Values{"csrf": {csrfOf(t, lp)}, "email": {"owner@acme.test"}, "password": {"new password 1"}, "next": {"/"}}); code != http.StatusSeeOther {
		t.Errorf("new password refused: %d", code)
	}
}

func TestCreateProject(t *testing.T) {
	s := newStack(t, time.Second)
	s.access(t)
	b := s.browser(t)
	b.login("manager@acme.test")
	_, page, _ := b.get("/orgs/acme/projects/new")
	csrf := csrfOf(t, page)
	for slug, want := range map[string]int{"Bad Slug": http.StatusBadRequest, "-dash": http.StatusBadRequest, "tools": http.StatusBadRequest, "new-game_2": http.StatusSeeOther} {
		code, body, h := b.post("/orgs/acme/projects", url.Values{"csrf": {csrf}, "name": {"New game"}, "slug": {slug}, "platform": {"native"}})
		if code != want {
			t.Errorf("slug %q: %d, want %d\n%s", slug, code, want, body)
		}
		if code == http.StatusSeeOther && h.Get("Location") != "/o/acme/new-game_2/settings/keys?done=project" {
			t.Errorf("after creating: %s", h.Get("Location"))
		}
	}
	_, body, _ := b.get("/o/acme/new-game_2/settings/keys")
	if !strings.Contains(body, "@cairn.example/") {
		t.Error("the new project has no DSN")
	}
	m := s.browser(t)
	m.login("blue@acme.test")
	if code, _, _ := m.get("/orgs/acme/projects/new"); code != http.StatusForbidden {
		t.Errorf("member opens the new-project form: %d", code)
	}
	if code, _, _ := m.get("/o/acme/new-game_2/"); code != http.StatusOK {
		t.Errorf("member reads a project without teams: %d", code)
	}
}
