//go:build !cairncli

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// postEnvelope sends an envelope to the server's ingest endpoint the way
// SDKs do and returns the status.
func postEnvelope(t *testing.T, dsn, body string) int {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s://%s/api%s/envelope/", u.Scheme, u.Host, u.Path), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("X-Sentry-Auth", "Sentry sentry_key="+u.User.Username()+", sentry_version=7, sentry_client=test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// envelope lays out an envelope of items, each a type and a payload.
func envelope(header string, items ...[2]string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, it := range items {
		fmt.Fprintf(&b, "{\"type\":%q,\"length\":%d}\n%s\n", it[0], len(it[1]), it[1])
	}
	return b.String()
}

// poll retries check until it returns nil or the deadline passes.
func poll(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

type sessionsAnswer struct {
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Intervals []string `json:"intervals"`
	Groups    []struct {
		By     map[string]string    `json:"by"`
		Totals map[string]any       `json:"totals"`
		Series map[string][]float64 `json:"series"`
	} `json:"groups"`
}

// Release health, user feedback and client reports sent the way Sentry
// SDKs send them come back through the API, the issue page and the
// releases page, counted once each.
func TestServeReleaseHealth(t *testing.T) {
	s, dir := startTestServer(t)
	tok := createToken(t, dir)
	now := time.Now().UTC()
	ts := now.Format(time.RFC3339)
	const sentAt = `{"sent_at":"%s","sdk":{"name":"sentry.native","version":"0.7.0"}}`
	header := fmt.Sprintf(sentAt, ts)
	session := func(sid, did string, init bool, status string, errs int) [2]string {
		return [2]string{"session", fmt.Sprintf(`{"sid":%q,"did":%q,"init":%t,"started":%q,"timestamp":%q,"status":%q,"errors":%d,"duration":1.5,"attrs":{"release":"game@1.2.3","environment":"production"}}`,
			sid, did, init, ts, ts, status, errs)}
	}
	sid := func(i int) string { return fmt.Sprintf("8333339f-5675-4f89-a9a0-1c935255ab5%d", i) }
	// Release game@1.2.3: five sessions by four users. One exits cleanly,
	// one errors (reported twice) and exits, one crashes after starting,
	// one starts crashed (same user), one ends abnormally: crash-free
	// sessions 3/5, users 3/4.
	crash := envelope(header, session(sid(3), "u3", false, "crashed", 1))
	for _, env := range []string{
		envelope(header, session(sid(1), "u1", true, "ok", 0)),
		envelope(header, session(sid(1), "u1", false, "exited", 0), session(sid(2), "u2", true, "ok", 1)),
		envelope(header, session(sid(2), "u2", false, "ok", 2)),
		envelope(header, session(sid(2), "u2", false, "exited", 2)),
		envelope(header, session(sid(3), "u3", true, "ok", 0)),
		crash, crash, // the SDK retried: counted once
		envelope(header, session(sid(4), "u3", true, "crashed", 1)),
		envelope(header, session(sid(5), "u4", true, "ok", 0), session(sid(5), "u4", false, "abnormal", 0)),
		// Release game@2.0.0, aggregated by a server-mode SDK: 5 sessions,
		// one crashed.
		envelope(header, [2]string{"sessions", fmt.Sprintf(`{"aggregates":[{"started":%q,"exited":3},{"started":%q,"did":"u1","errored":1,"crashed":1}],"attrs":{"release":"game@2.0.0","environment":"production"}}`, ts, ts)}),
	} {
		if code := postEnvelope(t, s.DSN, env); code != http.StatusOK {
			t.Fatalf("session envelope: HTTP %d", code)
		}
	}
	// Malformed session items are dropped, as Relay drops them, without
	// failing the envelope or what else it carries.
	if code := postEnvelope(t, s.DSN, envelope(header, [2]string{"session", `{"sid":`}, [2]string{"session", `{"sid":"x","status":"exploded","started":"` + ts + `","attrs":{"release":"game@1.2.3"}}`},
		[2]string{"session", `{"sid":"y","started":"` + ts + `","attrs":{}}`})); code != http.StatusOK {
		t.Fatalf("malformed session envelope: HTTP %d, want 200", code)
	}

	// User feedback sent before its event, then the event from the real SDK.
	eventID := "c0ffee00c0ffee00c0ffee00c0ffee00"
	feedback := [2]string{"user_report", fmt.Sprintf(`{"event_id":%q,"name":"Ann Player","email":"ann@example.com","comments":"The game froze when I opened the map."}`, eventID)}
	if code := postEnvelope(t, s.DSN, envelope(fmt.Sprintf(`{"event_id":%q}`, eventID), feedback)); code != http.StatusOK {
		t.Fatalf("user report: HTTP %d", code)
	}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: s.DSN, Release: "game@1.2.3", Environment: "production",
		BeforeSend: func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			if ev.Message == "noise" {
				return nil // recorded by the SDK as a client_discard outcome
			}
			return ev
		}})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	hub.CaptureMessage("noise")
	hub.CaptureMessage("noise")
	ev := sentry.NewEvent()
	ev.EventID = sentry.EventID(eventID)
	ev.Level = sentry.LevelError
	ev.Exception = []sentry.Exception{{Type: "MapError", Value: "map texture failed to load"}}
	if id := hub.CaptureEvent(ev); id == nil || string(*id) != eventID {
		t.Fatalf("captured %v", id)
	}
	hub.CaptureException(errors.New("save file is corrupt"))
	if !hub.Flush(10 * time.Second) {
		t.Fatal("the SDK did not flush")
	}
	// The user report's envelope named the event in its header: that
	// must not have made an empty event that the real one is taken as a
	// retry of.
	for _, is := range waitIssues(t, s.URL, tok, func(l []apiIssue) bool { return totalCount(l) == 2 }) {
		if is.Title != "MapError: map texture failed to load" && is.Title != "*errors.errorString: save file is corrupt" {
			t.Errorf("unexpected issue %q", is.Title)
		}
	}

	// Sessions API: exact crash-free rates for the known mix.
	q := "/api/0/organizations/default/sessions/?field=sum(session)&field=count_unique(user)&field=crash_free_rate(session)&field=crash_free_rate(user)&groupBy=release&statsPeriod=24h&interval=1h"
	var ans sessionsAnswer
	poll(t, "sessions", func() error {
		ans = sessionsAnswer{}
		if code := apiGet(t, s.URL, tok, q, &ans); code != 200 {
			return fmt.Errorf("HTTP %d", code)
		}
		if len(ans.Groups) != 2 || ans.Groups[0].Totals["sum(session)"] != 5.0 || ans.Groups[1].Totals["sum(session)"] != 5.0 {
			return fmt.Errorf("groups %+v", ans.Groups)
		}
		return nil
	})
	if len(ans.Intervals) != 25 || ans.Intervals[0] != ans.Start {
		t.Errorf("intervals %d from %s (start %s)", len(ans.Intervals), ans.Intervals[0], ans.Start)
	}
	g1, g2 := ans.Groups[0], ans.Groups[1]
	if g1.By["release"] != "game@1.2.3" || g1.Totals["crash_free_rate(session)"] != 0.6 || g1.Totals["crash_free_rate(user)"] != 0.75 || g1.Totals["count_unique(user)"] != 4.0 {
		t.Errorf("game@1.2.3 %+v", g1)
	}
	if g2.By["release"] != "game@2.0.0" || g2.Totals["crash_free_rate(session)"] != 0.8 || g2.Totals["count_unique(user)"] != 1.0 || g2.Totals["crash_free_rate(user)"] != 0.0 {
		t.Errorf("game@2.0.0 %+v", g2)
	}
	// The sessions fall on the interval of the hour they started in: the
	// last one, unless the hour turned between sending and asking.
	if s, at := g1.Series["sum(session)"], slices.Index(ans.Intervals, now.Truncate(time.Hour).Format(time.RFC3339)); len(s) != 25 || at < 0 || s[at] != 5 {
		t.Errorf("series %v, the sessions' hour at %d of intervals %v", s, at, ans.Intervals)
	}
	var byStatus sessionsAnswer
	if code := apiGet(t, s.URL, tok, "/api/0/organizations/default/sessions/?field=sum(session)&groupBy=session.status&query=release:game@1.2.3&statsPeriod=1d", &byStatus); code != 200 {
		t.Fatalf("by status: HTTP %d", code)
	}
	statuses := map[string]any{}
	for _, g := range byStatus.Groups {
		statuses[g.By["session.status"]] = g.Totals["sum(session)"]
	}
	if fmt.Sprint(statuses) != "map[abnormal:1 crashed:2 errored:1 healthy:1]" {
		t.Errorf("by status %v", statuses)
	}
	if code := apiGet(t, s.URL, tok, "/api/0/organizations/default/sessions/?field=sum(nope)", nil); code != http.StatusBadRequest {
		t.Errorf("unknown field: HTTP %d, want 400", code)
	}

	// User feedback: attached to the event's issue although it came first.
	var fb []struct {
		EventID, Name, Email, Comments string
		Issue                          *struct{ ID string }
	}
	poll(t, "user feedback", func() error {
		fb = nil
		if code := apiGet(t, s.URL, tok, "/api/0/projects/default/default/user-feedback/", &fb); code != 200 {
			return fmt.Errorf("HTTP %d", code)
		}
		if len(fb) != 1 || fb[0].Issue == nil {
			return fmt.Errorf("feedback %+v", fb)
		}
		return nil
	})
	if fb[0].EventID != eventID || fb[0].Name != "Ann Player" || fb[0].Email != "ann@example.com" {
		t.Errorf("feedback %+v", fb[0])
	}
	var ev2 struct{ GroupID string }
	if code := apiGet(t, s.URL, tok, "/api/0/projects/default/default/events/"+eventID+"/", &ev2); code != 200 || ev2.GroupID != fb[0].Issue.ID {
		t.Errorf("event %d %+v, feedback issue %s", code, ev2, fb[0].Issue.ID)
	}

	// Client reports from the SDK: two events dropped by BeforeSend.
	var stats struct {
		Groups []struct {
			By     map[string]any
			Totals map[string]float64
		}
	}
	poll(t, "outcomes", func() error {
		if code := apiGet(t, s.URL, tok, "/api/0/organizations/default/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=reason&groupBy=category&statsPeriod=24h", &stats); code != 200 {
			return fmt.Errorf("HTTP %d", code)
		}
		if len(stats.Groups) != 1 {
			return fmt.Errorf("groups %+v", stats.Groups)
		}
		return nil
	})
	if g := stats.Groups[0]; g.By["outcome"] != "client_discard" || g.By["reason"] != "before_send" || g.By["category"] != "error" || g.Totals["sum(quantity)"] != 2 {
		t.Errorf("outcome %+v", g)
	}

	// The web interface: the issue page lists the feedback, the releases
	// page the rates.
	if out, err := runWithStdin(t, "correct horse\n", "user", "create", "--data-dir", dir, "--email", "admin@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	get := signIn(t, s.URL, "admin@example.com", "correct horse")
	code, page := get(fmt.Sprintf("/o/default/default/issues/%s/", fb[0].Issue.ID))
	if code != 200 || !strings.Contains(page, "User feedback") || !strings.Contains(page, "The game froze when I opened the map.") ||
		!strings.Contains(page, "ann@example.com") || !strings.Contains(page, "?event="+eventID) {
		t.Errorf("issue page: %d\n%s", code, page)
	}
	code, page = get("/o/default/default/releases/")
	if code != 200 || !regexp.MustCompile(`game@1\.2\.3</code></a></td>\s*<td class="num">5</td><td class="num">4</td>\s*<td class="num crash-free">60\.00%</td>\s*<td class="num crash-free-users">75\.00%</td>\s*<td class="num">2</td>`).MatchString(page) ||
		!strings.Contains(page, "80.00%") {
		t.Errorf("releases page: %d\n%s", code, page)
	}
	if code, page = get("/o/default/default/releases/?range=14d"); code != 200 || !strings.Contains(page, "60.00%") {
		t.Errorf("releases page, 14 days: %d", code)
	}
}

// runWithStdin runs the command line with input.
func runWithStdin(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// signIn signs in to the web interface and returns a page getter.
func signIn(t *testing.T, base, email, password string) func(path string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, page := get("/login")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form:\n%s", page)
	}
	res, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: HTTP %d", res.StatusCode)
	}
	return get
}
