package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const envPath = "/api/1/envelope/"

// fakeDump is a tiny blob with the minidump signature, enough for ingest,
// which checks nothing past the magic.
var fakeDump = append([]byte("MDMP\x93\xa7\x00\x00"), bytes.Repeat([]byte{0xab, '\n', 0x00}, 100)...)

// item builds one envelope item with an explicit length.
func item(header map[string]any, payload []byte) []byte {
	h := map[string]any{"length": len(payload)}
	for k, v := range header {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	return append(append(append(hb, '\n'), payload...), '\n')
}

// env joins a header and items.
func env(header string, items ...[]byte) []byte {
	out := []byte(header + "\n")
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

const eid = "9ec79c33ec9942ab8353589fcb2e04dc"

func TestEnvelope(t *testing.T) {
	hdr := `{"event_id":"` + eid + `","sent_at":"2026-11-25T12:00:00Z","sdk":{"name":"test"}}`
	full := env(hdr,
		item(map[string]any{"type": "event"}, []byte(`{"message":"hi\nthere","event_id":"`+eid+`"}`)),
		item(map[string]any{"type": "attachment", "filename": "log.txt", "content_type": "text/plain"}, []byte("line1\nline2\n")),
		item(map[string]any{"type": "attachment", "attachment_type": "event.minidump", "filename": "crash.dmp"}, fakeDump),
		item(map[string]any{"type": "session"}, []byte(`{"sid":"x","status":"crashed"}`)),
		item(map[string]any{"type": "client_report"}, []byte(`{"discarded_events":[]}`)),
		item(map[string]any{"type": "user_report"}, []byte(`{"event_id":"`+eid+`","name":"n","comments":"c"}`)),
		item(map[string]any{"type": "transaction"}, []byte(`{"type":"transaction"}`)),
		item(map[string]any{"type": "profile"}, []byte(`{}`)),
		item(map[string]any{"type": "something_new"}, []byte(`whatever`)),
	)
	t.Run("full", func(t *testing.T) {
		e := newEnv(t, nil)
		w := e.do(req{path: envPath, header: authHeader(keyMain), body: full})
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
		if w.Body.String() != `{"id":"`+eid+`"}` {
			t.Fatalf("response %s", w.Body.String())
		}
		a := e.sink.last(t)
		if a.EventID != eid || dig(decodeEvent(t, a.Event), "message") != "hi\nthere" {
			t.Fatalf("event %s: %s", a.EventID, a.Event)
		}
		if len(a.Attachments) != 2 {
			t.Fatalf("%d attachments", len(a.Attachments))
		}
		if at := a.Attachments[0]; at.Name != "log.txt" || at.Type != "event.attachment" || at.ContentType != "text/plain" || string(at.Data) != "line1\nline2\n" {
			t.Fatalf("attachment 0: %+v", at)
		}
		if at := a.Attachments[1]; at.Type != "event.minidump" || !bytes.Equal(at.Data, fakeDump) {
			t.Fatalf("attachment 1: %s %d bytes", at.Type, len(at.Data))
		}
		var types []string
		for _, it := range a.Items {
			types = append(types, it.Type)
		}
		if strings.Join(types, ",") != "session,client_report,user_report" {
			t.Fatalf("items %v", types)
		}
	})

	dsnHeader := func(dsn string) string {
		return `{"event_id":"` + eid + `","dsn":"` + dsn + `"}`
	}
	event := item(map[string]any{"type": "event"}, []byte(`{"message":"m"}`))
	big := bytes.Repeat([]byte("x"), 2<<20)
	tests := []struct {
		name    string
		req     req
		status  int
		errLike string
		check   func(t *testing.T, a *Accepted)
	}{
		{name: "auth by envelope dsn", req: req{path: envPath, body: env(dsnHeader("https://"+keyMain+"@cairn.example/1"), event)}, status: 200},
		{name: "auth by dsn with path prefix and secret", req: req{path: envPath, body: env(dsnHeader("http://"+keyMain+":secret@h:9000/sentry/1"), event)}, status: 200},
		{name: "auth by query", req: req{path: envPath + "?sentry_key=" + keyMain, body: env(`{}`, event)}, status: 200, check: func(t *testing.T, a *Accepted) {
			if len(a.EventID) != 32 {
				t.Fatalf("no event id assigned: %q", a.EventID)
			}
		}},
		{name: "header id wins over payload id", req: req{path: envPath, header: authHeader(keyMain),
			body: env(`{"event_id":"`+strings.ToUpper(eid)+`"}`, item(map[string]any{"type": "event"}, []byte(`{"event_id":"00000000000000000000000000000001"}`)))},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if a.EventID != eid || decodeEvent(t, a.Event)["event_id"] != eid {
					t.Fatalf("event id %s / %s", a.EventID, a.Event)
				}
			}},
		{name: "items without length", req: req{path: envPath, header: authHeader(keyMain),
			body: []byte(`{"event_id":"` + eid + `"}` + "\n" + `{"type":"event"}` + "\n" + `{"message":"no length"}` + "\n" + `{"type":"session"}` + "\n" + `{"sid":"s"}`)},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if dig(decodeEvent(t, a.Event), "message") != "no length" || len(a.Items) != 1 {
					t.Fatalf("event %s items %d", a.Event, len(a.Items))
				}
			}},
		{name: "CRLF and blank lines", req: req{path: envPath, header: authHeader(keyMain),
			body: []byte(`{"event_id":"` + eid + `"}` + "\r\n\r\n" + `{"type":"event","length":2}` + "\r\n{}\r\n\r\n")}, status: 200},
		{name: "gzip envelope", req: req{path: envPath, header: with(authHeader(keyMain), "Content-Encoding", "gzip"), body: gzipped(full)}, status: 200},
		{name: "zstd envelope", req: req{path: envPath, header: with(authHeader(keyMain), "Content-Encoding", "zstd"), body: zstded(full)}, status: 200},
		{name: "compressed minidump attachment", req: req{path: envPath, header: authHeader(keyMain),
			body: env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "attachment", "attachment_type": "event.minidump", "filename": "c.dmp.gz"}, gzipped(fakeDump)))},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if len(a.Attachments) != 1 || !bytes.Equal(a.Attachments[0].Data, fakeDump) || a.Attachments[0].Name != "c.dmp" {
					t.Fatalf("attachments %+v", a.Attachments)
				}
				// A minidump without an event item still makes an event.
				if ev := decodeEvent(t, a.Event); ev["event_id"] != eid || ev["platform"] != "native" {
					t.Fatalf("placeholder event %s", a.Event)
				}
			}},
		{name: "attachment for an earlier event", req: req{path: envPath, header: authHeader(keyMain),
			body: env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "attachment"}, []byte("data")))},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if a.Event != nil || a.EventID != eid || a.Attachments[0].Name != "attachment-0" {
					t.Fatalf("got %+v", a)
				}
			}},
		{name: "broken session dropped", req: req{path: envPath, header: authHeader(keyMain),
			body: env(`{}`, event, item(map[string]any{"type": "session"}, []byte(`{not json`)))},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if len(a.Items) != 0 || a.Event == nil {
					t.Fatalf("items %d event %v", len(a.Items), a.Event != nil)
				}
			}},
		{name: "sessions only", req: req{path: envPath, header: authHeader(keyMain), body: env(`{}`, item(map[string]any{"type": "sessions"}, []byte(`{"aggregates":[]}`)))},
			status: 200, check: func(t *testing.T, a *Accepted) {
				if a.EventID != "" || a.Event != nil || len(a.Items) != 1 {
					t.Fatalf("got %+v", a)
				}
			}},

		{name: "no auth at all", req: req{path: envPath, body: env(`{}`, event)}, status: 401, errLike: "missing DSN key"},
		{name: "dsn of another project", req: req{path: envPath, body: env(dsnHeader("https://"+keyMain+"@h/7"), event)}, status: 401, errLike: "project 7"},
		{name: "dsn without key", req: req{path: envPath, body: env(dsnHeader("https://h/1"), event)}, status: 401, errLike: "invalid dsn"},
		{name: "dsn with unknown key", req: req{path: envPath, body: env(dsnHeader("https://ffffffffffffffffffffffffffffffff@h/1"), event)}, status: 401, errLike: "unknown"},
		{name: "disabled project", req: req{path: "/api/3/envelope/", header: authHeader(keyOffProj), body: env(`{}`, event)}, status: 403},
		{name: "empty body", req: req{path: envPath, header: authHeader(keyMain)}, status: 400, errLike: "missing header"},
		{name: "header not JSON", req: req{path: envPath, header: authHeader(keyMain), body: []byte("hello\n{}")}, status: 400, errLike: "not a JSON object"},
		{name: "header broken JSON", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{\"event_id\":\n")}, status: 400, errLike: "invalid envelope header"},
		{name: "bad header event id", req: req{path: envPath, header: authHeader(keyMain), body: env(`{"event_id":"nope"}`, event)}, status: 400, errLike: "invalid event_id"},
		{name: "item header broken", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{}\n{\"type\":\n{}")}, status: 400, errLike: "item 0 header"},
		{name: "item without type", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{}\n{\"length\":2}\n{}")}, status: 400, errLike: "no type"},
		{name: "item truncated", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{}\n{\"type\":\"event\",\"length\":100}\n{}")}, status: 400, errLike: "truncated"},
		{name: "negative length", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{}\n{\"type\":\"event\",\"length\":-1}\n{}")}, status: 400, errLike: "negative"},
		{name: "payload overruns length", req: req{path: envPath, header: authHeader(keyMain), body: []byte("{}\n{\"type\":\"event\",\"length\":2}\n{}xx\n")}, status: 400, errLike: "not followed by a newline"},
		{name: "two events", req: req{path: envPath, header: authHeader(keyMain), body: env(`{}`, event, event)}, status: 400, errLike: "more than one event"},
		{name: "event not JSON", req: req{path: envPath, header: authHeader(keyMain), body: env(`{}`, item(map[string]any{"type": "event"}, []byte("oops")))}, status: 400, errLike: "JSON object"},
		{name: "minidump that is not one", req: req{path: envPath, header: authHeader(keyMain),
			body: env(`{}`, event, item(map[string]any{"type": "attachment", "attachment_type": "event.minidump", "filename": "x.dmp"}, []byte("W/google-breakpad microdump")))},
			status: 400, errLike: "not a minidump"},
		{name: "attachments without event id", req: req{path: envPath, header: authHeader(keyMain), body: env(`{}`, item(map[string]any{"type": "attachment"}, []byte("d")))}, status: 400, errLike: "event_id"},
		{name: "event item too large", req: req{path: envPath, header: authHeader(keyMain), body: env(`{}`, item(map[string]any{"type": "event"}, append(append([]byte(`{"m":"`), big...), `"}`...)))}, status: 413, errLike: "event item"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			w := e.do(tt.req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			if tt.status != 200 {
				if d := detail(t, w); tt.errLike != "" {
					mustContain(t, d, tt.errLike)
				}
				if len(e.sink.all()) != 0 {
					t.Fatal("sink got data from a refused envelope")
				}
				return
			}
			if tt.check != nil {
				tt.check(t, e.sink.last(t))
			}
		})
	}
}

func TestEnvelopeOnlyIgnoredItems(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(req{path: envPath, header: authHeader(keyMain), body: env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "transaction"}, []byte(`{}`)))})
	if w.Code != 200 || w.Body.String() != `{"id":"`+eid+`"}` {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if len(e.sink.all()) != 0 {
		t.Fatal("a transaction reached the sink")
	}
}

func TestEnvelopeLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxAttachmentSize = 1000
		c.MaxMinidumpSize = 500
		c.MaxEnvelopeSize = 4000
	})
	tests := []struct {
		name    string
		body    []byte
		errLike string
		gzip    bool
	}{
		{"gzip bomb", gzipped(append([]byte("{}\n"), bomb(8<<20)...)), "after gzip decompression", true},
		{"attachment", env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "attachment", "filename": "a"}, bytes.Repeat([]byte("a"), 1001))), `attachment "a"`, false},
		{"minidump", env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "attachment", "attachment_type": "event.minidump"}, append(fakeDump, make([]byte, 300)...))), "event.minidump", false},
		{"compressed minidump", env(`{"event_id":"`+eid+`"}`, item(map[string]any{"type": "attachment", "attachment_type": "event.minidump"}, gzipped(append(fakeDump, make([]byte, 3000)...)))), "after gzip decompression", false},
		{"envelope", env(`{}`, item(map[string]any{"type": "attachment"}, bytes.Repeat([]byte("a"), 900)), item(map[string]any{"type": "attachment"}, bytes.Repeat([]byte("a"), 900)), item(map[string]any{"type": "attachment"}, bytes.Repeat([]byte("a"), 900)), item(map[string]any{"type": "attachment"}, bytes.Repeat([]byte("a"), 900)), item(map[string]any{"type": "attachment"}, bytes.Repeat([]byte("a"), 900))), "envelope body", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := authHeader(keyMain)
			if tt.gzip {
				h = with(h, "Content-Encoding", "gzip")
			}
			w := e.do(req{path: envPath, header: h, body: tt.body})
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s", w.Code, w.Body.String())
			}
			mustContain(t, detail(t, w), tt.errLike)
		})
	}
}

func TestEnvelopeRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	ev := env(`{}`, item(map[string]any{"type": "event"}, []byte(`{}`)), item(map[string]any{"type": "session"}, []byte(`{"sid":"1"}`)))
	for i := 0; i < 2; i++ {
		if w := e.do(req{path: envPath, header: authHeader(keyLimited), body: ev}); w.Code != 200 {
			t.Fatalf("%d: %d", i, w.Code)
		}
	}
	w := e.do(req{path: envPath, header: authHeader(keyLimited), body: ev})
	if w.Code != http.StatusTooManyRequests || w.Header().Get("X-Sentry-Rate-Limits") == "" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	// The session of the limited envelope was kept, its event dropped.
	a := e.sink.last(t)
	if a.Event != nil || len(a.Items) != 1 || a.Items[0].Type != "session" {
		t.Fatalf("after limit: %+v", a)
	}
	// Sessions alone are never limited.
	if w := e.do(req{path: envPath, header: authHeader(keyLimited), body: env(`{}`, item(map[string]any{"type": "session"}, []byte(`{}`)))}); w.Code != 200 {
		t.Fatalf("sessions only: %d", w.Code)
	}
	// A large envelope from a limited key is refused before it is read.
	large := env(`{}`, item(map[string]any{"type": "attachment"}, make([]byte, 2<<20)))
	if w := e.do(req{path: envPath, header: authHeader(keyLimited), body: large}); w.Code != http.StatusTooManyRequests {
		t.Fatalf("large limited: %d", w.Code)
	}
}

// TestSentryNativeEnvelope sends a crash envelope laid out byte for byte
// as sentry-native's breakpad/inproc backends write it: a header with dsn,
// event_id and sent_at, then "\n"-prefixed items each with type and
// length first, the minidump last with attachment_type and filename, and
// no newline after the last payload.
func TestSentryNativeEnvelope(t *testing.T) {
	dump := peerDump(t, "rust-minidump/linux-mini.dmp")
	id := "6dd2bc0d-8a2f-4c9d-b4b5-0b8d4e8a7f3c"
	event := `{"event_id":"` + id + `","timestamp":"2026-11-25T12:00:00.000Z","platform":"native","level":"fatal",` +
		`"release":"app@1.0","sdk":{"name":"sentry.native","version":"0.9.1"},"contexts":{"os":{"name":"Linux"}}}`
	session := `{"sid":"0ce4ae31-8e87-4bd3-87a7-df2d47e1d2a3","status":"crashed","errors":1,"started":"2026-11-25T11:59:00.000Z","attrs":{"release":"app@1.0"}}`
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"dsn":"http://%s@127.0.0.1:9000/1","event_id":"%s","sent_at":"2026-11-25T12:00:01.000Z"}`, keyMain, id)
	fmt.Fprintf(&b, "\n{\"type\":\"event\",\"length\":%d}\n%s", len(event), event)
	fmt.Fprintf(&b, "\n{\"type\":\"session\",\"length\":%d}\n%s", len(session), session)
	fmt.Fprintf(&b, "\n{\"type\":\"attachment\",\"length\":%d,\"attachment_type\":\"event.minidump\",\"filename\":\"%s.dmp\"}\n", len(dump), id)
	b.Write(dump)

	e := newEnv(t, nil)
	w := e.do(req{path: envPath, header: map[string]string{
		"X-Sentry-Auth": "Sentry sentry_key=" + keyMain + ", sentry_version=7, sentry_client=sentry.native/0.9.1",
		"Content-Type":  "application/x-sentry-envelope",
	}, body: b.Bytes()})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	want := strings.ReplaceAll(id, "-", "")
	a := e.sink.last(t)
	if a.EventID != want || w.Body.String() != `{"id":"`+want+`"}` {
		t.Fatalf("event id %s, response %s", a.EventID, w.Body.String())
	}
	if ev := decodeEvent(t, a.Event); ev["release"] != "app@1.0" || ev["event_id"] != want {
		t.Fatalf("event %s", a.Event)
	}
	if len(a.Attachments) != 1 || a.Attachments[0].Type != "event.minidump" || !bytes.Equal(a.Attachments[0].Data, dump) || a.Attachments[0].Name != id+".dmp" {
		t.Fatalf("minidump attachment wrong: %d attachments", len(a.Attachments))
	}
	if len(a.Items) != 1 || a.Items[0].Type != "session" || a.UserAgent != "sentry.native/0.9.1" {
		t.Fatalf("items %+v, user agent %q", a.Items, a.UserAgent)
	}
}
