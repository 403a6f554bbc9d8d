package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const storePath = "/api/1/store/"

var simpleEvent = []byte(`{"message":"boom","level":"error","extra":{"password":"hunter2"}}`)

func TestStore(t *testing.T) {
	dashed := `{"event_id":"0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9","message":"x"}`
	big := append(append([]byte(`{"message":"`), bytes.Repeat([]byte("a"), 2<<20)...), `"}`...)
	tests := []struct {
		name    string
		req     req
		status  int
		wantID  string // exact id expected, when known
		errLike string // substring of detail
	}{
		{name: "X-Sentry-Auth", req: req{path: storePath, header: authHeader(keyMain), body: simpleEvent}, status: 200},
		{name: "sentry_key query", req: req{path: storePath + "?sentry_key=" + keyMain + "&sentry_version=7", body: simpleEvent}, status: 200},
		{name: "Authorization Sentry", req: req{path: storePath, header: map[string]string{"Authorization": "Sentry sentry_key=" + keyMain}, body: simpleEvent}, status: 200},
		{name: "Authorization DSN", req: req{path: storePath, header: map[string]string{"Authorization": "DSN http://" + keyMain + "@cairn.local/1"}, body: simpleEvent}, status: 200},
		{name: "quoted auth values", req: req{path: storePath, header: map[string]string{"X-Sentry-Auth": `Sentry sentry_version=7,sentry_key="` + keyMain + `"`}, body: simpleEvent}, status: 200},
		{name: "path without slash", req: req{path: "/api/1/store", header: authHeader(keyMain), body: simpleEvent}, status: 200},
		{name: "dashed uppercase id normalized", req: req{path: storePath, header: authHeader(keyMain), body: []byte(dashed)}, status: 200, wantID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
		{name: "canonical id kept", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"event_id":"fa1b2c3d4e5f60718293a4b5c6d7e8f9"}`)}, status: 200, wantID: "fa1b2c3d4e5f60718293a4b5c6d7e8f9"},
		{name: "null id replaced", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"event_id":null,"message":"x"}`)}, status: 200},
		{name: "empty object", req: req{path: storePath, header: authHeader(keyMain), body: []byte(` { } `)}, status: 200},
		{name: "gzip", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "gzip"), body: gzipped(simpleEvent)}, status: 200},
		{name: "deflate zlib", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "deflate"), body: zlibbed(simpleEvent)}, status: 200},
		{name: "deflate raw", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "deflate"), body: deflated(simpleEvent)}, status: 200},
		{name: "br", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "br"), body: brotlied(simpleEvent)}, status: 200},
		{name: "zstd", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "zstd"), body: zstded(simpleEvent)}, status: 200},
		{name: "stacked gzip then br", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "gzip, br"), body: brotlied(gzipped(simpleEvent))}, status: 200},
		{name: "legacy base64 zlib", req: req{path: storePath, header: authHeader(keyMain), body: []byte(base64.StdEncoding.EncodeToString(zlibbed(simpleEvent)))}, status: 200},

		{name: "malformed JSON", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"message": "x",`)}, status: 400, errLike: "invalid event JSON"},
		{name: "trailing garbage", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"message":"x"} {}`)}, status: 400, errLike: "invalid event JSON"},
		{name: "JSON array", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`[1,2]`)}, status: 400, errLike: "JSON object"},
		{name: "empty body", req: req{path: storePath, header: authHeader(keyMain)}, status: 400, errLike: "empty"},
		{name: "not JSON not base64", req: req{path: storePath, header: authHeader(keyMain), body: []byte("hello world")}, status: 400, errLike: "neither JSON nor base64"},
		{name: "bad event_id", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"event_id":"xyz"}`)}, status: 400, errLike: "invalid event_id"},
		{name: "numeric event_id", req: req{path: storePath, header: authHeader(keyMain), body: []byte(`{"event_id":42}`)}, status: 400, errLike: "invalid event_id"},
		{name: "no key", req: req{path: storePath, body: simpleEvent}, status: 401, errLike: "missing DSN key"},
		{name: "unknown key", req: req{path: storePath, header: authHeader("ffffffffffffffffffffffffffffffff"), body: simpleEvent}, status: 401, errLike: "unknown DSN key"},
		{name: "malformed key", req: req{path: storePath, header: authHeader("abc\x01def"), body: simpleEvent}, status: 401, errLike: "malformed"},
		{name: "disabled key", req: req{path: storePath, header: authHeader(keyDisabled), body: simpleEvent}, status: 401, errLike: "disabled"},
		{name: "key of another project", req: req{path: storePath, header: authHeader(keyOtherProj), body: simpleEvent}, status: 401, errLike: "does not belong to project 1"},
		{name: "disabled project", req: req{path: "/api/3/store/", header: authHeader(keyOffProj), body: simpleEvent}, status: 403, errLike: "disabled"},
		{name: "key store down", req: req{path: storePath, header: authHeader(keyBroken), body: simpleEvent}, status: 503, errLike: "retry later"},
		{name: "bad project id", req: req{path: "/api/abc/store/", header: authHeader(keyMain), body: simpleEvent}, status: 400, errLike: "invalid project id"},
		{name: "oversized by length", req: req{path: storePath, header: authHeader(keyMain), body: big}, status: 413, errLike: "exceeds"},
		{name: "oversized chunked", req: req{path: storePath, header: authHeader(keyMain), body: big, chunked: true}, status: 413, errLike: "exceeds"},
		{name: "gzip bomb", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "gzip"), body: gzipped(bomb(8 << 20))}, status: 413, errLike: "after gzip decompression"},
		{name: "deflate bomb", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "deflate"), body: zlibbed(bomb(8 << 20))}, status: 413, errLike: "decompression"},
		{name: "br bomb", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "br"), body: brotlied(bomb(8 << 20))}, status: 413, errLike: "decompression"},
		{name: "zstd bomb", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "zstd"), body: zstded(bomb(8 << 20))}, status: 413, errLike: "decompression"},
		{name: "corrupt gzip", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "gzip"), body: []byte("\x1f\x8bnot really gzip")}, status: 400, errLike: "gzip"},
		{name: "truncated gzip", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "gzip"), body: gzipped(simpleEvent)[:20]}, status: 400, errLike: "gzip"},
		{name: "corrupt zstd", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "zstd"), body: []byte("\x28\xb5\x2f\xfdgarbage")}, status: 400, errLike: "zstd"},
		{name: "unknown encoding", req: req{path: storePath, header: with(authHeader(keyMain), "Content-Encoding", "compress"), body: simpleEvent}, status: 415, errLike: "unsupported Content-Encoding"},
		{name: "GET", req: req{method: http.MethodGet, path: storePath, header: authHeader(keyMain)}, status: 405, errLike: "not allowed"},
		{name: "unknown path", req: req{path: "/api/1/nothing/", header: authHeader(keyMain)}, status: 404, errLike: "no ingest endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.do(tt.req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			if tt.status != 200 {
				d := detail(t, w)
				if tt.errLike != "" {
					mustContain(t, d, tt.errLike)
				}
				if w.Header().Get("X-Sentry-Error") == "" {
					t.Error("no X-Sentry-Error header")
				}
				if n := len(e.sink.all()); n != 0 {
					t.Fatalf("sink got %d events from a refused request", n)
				}
				return
			}
			var resp struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.ID) != 32 {
				t.Fatalf("response %q: want {\"id\": <32 hex>}", w.Body.String())
			}
			if tt.wantID != "" && resp.ID != tt.wantID {
				t.Fatalf("id %s, want %s", resp.ID, tt.wantID)
			}
			a := e.sink.last(t)
			if a.EventID != resp.ID || a.ProjectID != 1 {
				t.Fatalf("sink got event %s project %d, response id %s", a.EventID, a.ProjectID, resp.ID)
			}
			ev := decodeEvent(t, a.Event)
			if ev["event_id"] != resp.ID {
				t.Fatalf("event_id in payload %v, want %s", ev["event_id"], resp.ID)
			}
			if !a.ReceivedAt.Equal(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) {
				t.Fatalf("received at %v", a.ReceivedAt)
			}
			if strings.Contains(tt.req.header["X-Sentry-Auth"], "sentry_client=cairn-test/1.0") && a.UserAgent != "cairn-test/1.0" {
				t.Fatalf("user agent %q, want the auth header's sentry_client", a.UserAgent)
			}
		})
	}
}

func TestStoreScrubbing(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte(`{"message":"card 4111 1111 1111 1111","extra":{"password":"hunter2","user_ssn":"1","note":"ok"}}`)
	if w := e.do(req{path: "/api/2/store/", header: authHeader(keyScrub), body: body}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	ev := decodeEvent(t, e.sink.last(t).Event)
	if dig(ev, "extra", "password") != "[Filtered]" || dig(ev, "extra", "user_ssn") != "[Filtered]" || dig(ev, "extra", "note") != "ok" {
		t.Fatalf("extra not scrubbed: %v", ev["extra"])
	}
	if ev["message"] != "card [Filtered]" {
		t.Fatalf("message %q", ev["message"])
	}
	// Project 1 does not scrub.
	if w := e.do(req{path: storePath, header: authHeader(keyMain), body: body}); w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	if dig(decodeEvent(t, e.sink.last(t).Event), "extra", "password") != "hunter2" {
		t.Fatal("unscrubbed project was scrubbed")
	}
}

func TestStoreRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	send := func() *req { return &req{path: storePath, header: authHeader(keyLimited), body: simpleEvent} }
	for i := 0; i < 2; i++ {
		if w := e.do(*send()); w.Code != 200 {
			t.Fatalf("event %d: %d", i, w.Code)
		}
	}
	w := e.do(*send())
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("third event: %d, want 429", w.Code)
	}
	if w.Header().Get("Retry-After") != "30" {
		t.Errorf("Retry-After %q, want 30 (2 per minute)", w.Header().Get("Retry-After"))
	}
	if got := w.Header().Get("X-Sentry-Rate-Limits"); got != "30:default;error;attachment:key" {
		t.Errorf("X-Sentry-Rate-Limits %q", got)
	}
	mustContain(t, detail(t, w), "rate limit")
	// Another key is not affected.
	if w := e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent}); w.Code != 200 {
		t.Fatalf("other key: %d", w.Code)
	}
	e.clock.advance(31 * time.Second)
	if w := e.do(*send()); w.Code != 200 {
		t.Fatalf("after the wait: %d", w.Code)
	}
	if n := len(e.sink.all()); n != 4 {
		t.Fatalf("sink has %d events, want 4", n)
	}
}

func TestSinkFailureIs503(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.fail = errors.New("queue full")
	w := e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	mustContain(t, detail(t, w), "retry later")
	mustContain(t, e.logs.String(), "queue full")
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.panic = true
	w := e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent})
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	mustContain(t, e.logs.String(), "sink exploded")
	e.sink.panic = false
	if w := e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent}); w.Code != 200 {
		t.Fatalf("after a panic: %d", w.Code)
	}
}

func TestMemoryBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MemoryBudget = 16 })
	w := e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q), want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// The lease was returned: a small event still fits.
	if w := e.do(req{path: storePath, header: authHeader(keyMain), body: []byte(`{}`)}); w.Code != 200 {
		t.Fatalf("small event after refusal: %d %s", w.Code, w.Body.String())
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(req{method: http.MethodOptions, path: "/api/1/envelope/", header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "X-Sentry-Auth") {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	w = e.do(req{path: storePath, header: with(authHeader(keyMain), "Origin", "https://app.example"), body: simpleEvent})
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "X-Sentry-Rate-Limits") {
		t.Fatalf("CORS headers missing on POST: %v", w.Header())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Metrics = reg })
	e.do(req{path: storePath, header: authHeader(keyMain), body: simpleEvent})
	e.do(req{path: storePath, body: simpleEvent})
	// A second handler on the same registry shares the collectors.
	NewHandler(Config{Metrics: reg}, fakeKeys{}, &fakeSink{}, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"cairn_ingest_requests_total", "cairn_ingest_accepted_total", "cairn_ingest_rejected_total", "cairn_ingest_request_duration_seconds"} {
		if !seen[name] {
			t.Errorf("metric %s not exported (have %v)", name, seen)
		}
	}
}

func TestEventIDs(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdef", true},
		{"01234567-89ab-cdef-0123-456789abcdef", "0123456789abcdef0123456789abcdef", true},
		{"01234567-89ab-cdef-0123_456789abcdef", "", false},
		{"0123456789abcdef0123456789abcdeg", "", false},
		{"", "", false},
	} {
		got, ok := parseEventID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseEventID(%q) = %q, %v", tt.in, got, ok)
		}
	}
	id := newEventID()
	if _, ok := parseEventID(id); !ok || id[12] != '4' {
		t.Errorf("newEventID() = %q, want a v4 UUID in canonical form", id)
	}
	if d := dashedEventID(id); len(d) != 36 || strings.ReplaceAll(d, "-", "") != id {
		t.Errorf("dashedEventID(%q) = %q", id, d)
	}
}

func TestRemoteAddr(t *testing.T) {
	for _, trust := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.TrustForwardedFor = trust })
		if w := e.do(req{path: storePath, header: with(authHeader(keyMain), "X-Forwarded-For", "203.0.113.9, 10.0.0.1"), body: simpleEvent}); w.Code != 200 {
			t.Fatal(w.Body.String())
		}
		want := "192.0.2.1" // httptest's client address
		if trust {
			want = "203.0.113.9"
		}
		if got := e.sink.last(t).RemoteAddr; got != want {
			t.Errorf("trust=%v: remote %q, want %q", trust, got, want)
		}
	}
}
