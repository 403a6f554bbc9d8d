package ingest

import (
	"bytes"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/ingest/internal/msgpack"
	"github.com/ulikunitz/xz"
)

const mdPath = "/api/1/minidump/"

// part is one part of a multipart upload; a part with a filename is a file.
type part struct {
	name, filename, ctype string
	data                  []byte
}

func field(name, value string) part { return part{name: name, data: []byte(value)} }

// multipartBody encodes parts as a multipart/form-data body.
func multipartBody(t testing.TB, boundary string, parts ...part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if boundary != "" {
		if err := w.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(p.data)
	}
	_ = w.Close()
	return b.Bytes(), w.FormDataContentType()
}

func dumpPart(data []byte) part {
	return part{name: "upload_file_minidump", filename: "0d8e8f6a-1b2c-4d3e-8f90-a1b2c3d4e5f6.dmp", ctype: "application/octet-stream", data: data}
}

// bzip2Dump is fakeDump's first 11 bytes ("MDMP\x93\xa7\x00\x00\xab\n\x00")
// compressed with bzip2 (Go has no bzip2 writer to make it at test time).
var bzip2Dump, _ = hex.DecodeString("425a68393141592653596ed5f67f000002c630401004024000080000882000310c0820f5188c2210e778bb9229c2848376afb3f8")

// TestCrashpadUpload sends a real minidump the way Crashpad's uploader
// does: its multipart boundary, the annotations as fields, the dump as
// upload_file_minidump, and the whole body gzipped.
func TestCrashpadUpload(t *testing.T) {
	dump := peerDump(t, "rust-minidump/simple-crashpad.dmp")
	body, ctype := multipartBody(t, "---MultipartBoundary-abcdefghijABCDEFGHIJ0123456789ab---",
		field("prod", "MyApp"),
		field("ver", "2.4.1"),
		field("plat", "Linux"),
		field("guid", "c0ffee00-0000-4000-8000-000000000001"),
		field("sentry[release]", "myapp@2.4.1"),
		field("sentry[environment]", "production"),
		field("sentry[tags][build]", "nightly"),
		field("sentry[user][id]", "player-7"),
		field("sentry[contexts][app][app_name]", "MyApp"),
		field("sentry[a][b][c][d][e][f][g][h]", "too deep, ignored"),
		field("sentry[]", "malformed path, kept as extra"),
		field("custom_annotation", "value with\nnewline"),
		part{name: "attachment.log", filename: "attachment.log", ctype: "text/plain", data: []byte("last words\n")},
		dumpPart(dump),
	)
	e := newEnv(t, nil)
	w := e.do(req{path: mdPath + "?sentry_key=" + keyMain, header: map[string]string{
		"Content-Type": ctype, "Content-Encoding": "gzip", "User-Agent": "Crashpad/0.8.0",
	}, body: gzipped(body), chunked: true})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	a := e.sink.last(t)
	if got := w.Body.String(); got != dashedEventID(a.EventID) || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("response %q (%s), want the dashed event id %s", got, w.Header().Get("Content-Type"), dashedEventID(a.EventID))
	}
	ev := decodeEvent(t, a.Event)
	checks := map[string]any{
		"release": ev["release"], "environment": ev["environment"], "platform": ev["platform"],
		"tags.build": dig(ev, "tags", "build"), "tags.prod": dig(ev, "tags", "prod"), "tags.ver": dig(ev, "tags", "ver"),
		"user.id": dig(ev, "user", "id"), "app": dig(ev, "contexts", "app", "app_name"),
		"extra.prod": dig(ev, "extra", "prod"), "extra.custom": dig(ev, "extra", "custom_annotation"),
		"extra.guid": dig(ev, "extra", "guid"), "extra.plat": dig(ev, "extra", "plat"), "extra.bad": dig(ev, "extra", "sentry[]"),
	}
	want := map[string]any{
		"release": "myapp@2.4.1", "environment": "production", "platform": "native",
		"tags.build": "nightly", "tags.prod": "MyApp", "tags.ver": "2.4.1",
		"user.id": "player-7", "app": "MyApp",
		"extra.prod": "MyApp", "extra.custom": "value with\nnewline",
		"extra.guid": "c0ffee00-0000-4000-8000-000000000001", "extra.plat": "Linux", "extra.bad": "malformed path, kept as extra",
	}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("%s = %v, want %v", k, checks[k], v)
		}
	}
	if ev["a"] != nil {
		t.Errorf("path deeper than 7 keys was applied: %v", ev["a"])
	}
	if len(a.Attachments) != 2 {
		t.Fatalf("%d attachments", len(a.Attachments))
	}
	if md := a.Attachments[0]; md.Type != "event.minidump" || !bytes.Equal(md.Data, dump) || md.Name != "0d8e8f6a-1b2c-4d3e-8f90-a1b2c3d4e5f6.dmp" {
		t.Fatalf("minidump attachment %s %q %d bytes", md.Type, md.Name, len(md.Data))
	}
	if at := a.Attachments[1]; at.Type != "event.attachment" || string(at.Data) != "last words\n" || at.ContentType != "text/plain" {
		t.Fatalf("log attachment %+v", at)
	}
	if a.UserAgent != "Crashpad/0.8.0" {
		t.Errorf("user agent %q", a.UserAgent)
	}
}

// TestBreakpadUpload sends a dump as Breakpad's HTTP uploaders do: an
// uncompressed multipart body with prod, ver, guid and the dump.
func TestBreakpadUpload(t *testing.T) {
	dump := peerDump(t, "breakpad/minidump2.dmp")
	body, ctype := multipartBody(t, "",
		field("prod", "TestApp"), field("ver", "1.0"), field("guid", "1234"),
		field("sentry[tags][prod]", "explicit"),
		part{name: "upload_file_minidump", filename: "minidump2.dmp", data: dump},
	)
	e := newEnv(t, nil)
	w := e.do(req{path: mdPath, header: with(authHeader(keyMain), "Content-Type", ctype), body: body})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	a := e.sink.last(t)
	ev := decodeEvent(t, a.Event)
	if dig(ev, "tags", "prod") != "explicit" || dig(ev, "tags", "ver") != "1.0" || dig(ev, "extra", "prod") != "TestApp" {
		t.Fatalf("event %s", a.Event)
	}
	if !bytes.Equal(a.Attachments[0].Data, dump) || a.Attachments[0].ContentType != "application/x-dmp" {
		t.Fatal("dump altered")
	}
}

func TestMinidumpUploads(t *testing.T) {
	xzDump := func() []byte {
		var b bytes.Buffer
		w, _ := xz.NewWriter(&b)
		_, _ = w.Write(fakeDump)
		_ = w.Close()
		return b.Bytes()
	}()
	sentryEvent := msgpack.Append(nil, map[string]any{
		"event_id": "0123456789abcdef0123456789abcdef", "release": "from-msgpack", "level": "fatal",
		"tags": map[string]any{"t": "1"},
	})
	crumbs := func(msgs ...string) []byte {
		var b []byte
		for i, m := range msgs {
			b = msgpack.Append(b, map[string]any{"message": m, "timestamp": float64(1700000000 + i)})
		}
		return b
	}
	tests := []struct {
		name    string
		parts   []part
		header  map[string]string
		raw     []byte // body without multipart
		status  int
		errLike string
		check   func(t *testing.T, a *Accepted)
	}{
		{name: "gzip-compressed dump", parts: []part{{name: "upload_file_minidump", filename: "x.dmp.gz", data: gzipped(fakeDump)}}, status: 200,
			check: func(t *testing.T, a *Accepted) {
				if !bytes.Equal(a.Attachments[0].Data, fakeDump) || a.Attachments[0].Name != "x.dmp" {
					t.Fatalf("%q %d", a.Attachments[0].Name, len(a.Attachments[0].Data))
				}
			}},
		{name: "zstd-compressed dump", parts: []part{dumpPart(zstded(fakeDump))}, status: 200},
		{name: "xz-compressed dump", parts: []part{dumpPart(xzDump)}, status: 200},
		{name: "bzip2-compressed dump", parts: []part{dumpPart(bzip2Dump)}, status: 200, check: func(t *testing.T, a *Accepted) {
			if !bytes.Equal(a.Attachments[0].Data, fakeDump[:11]) {
				t.Fatalf("bzip2 dump decoded to % x", a.Attachments[0].Data)
			}
		}},
		{name: "big-endian signature", parts: []part{dumpPart([]byte("PMDM\x00\x00\xa7\x93"))}, status: 200},
		{name: "dump sent as a plain field", parts: []part{{name: "upload_file_minidump", data: fakeDump}}, status: 200},
		{name: "raw dump body", raw: fakeDump, header: map[string]string{"Content-Type": "application/octet-stream"}, status: 200,
			check: func(t *testing.T, a *Accepted) {
				if a.Attachments[0].Name != "Minidump" || a.Attachments[0].Type != "event.minidump" {
					t.Fatalf("%+v", a.Attachments[0])
				}
			}},
		{name: "sentry JSON field", parts: []part{field("sentry", `{"release":"r1","tags":{"a":"b"},"event_id":"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"}`), field("sentry[tags][c]", "d"), dumpPart(fakeDump)}, status: 200,
			check: func(t *testing.T, a *Accepted) {
				ev := decodeEvent(t, a.Event)
				if a.EventID != "aaaaaaaabbbb4ccc8dddeeeeeeeeeeee" || ev["release"] != "r1" || dig(ev, "tags", "a") != "b" || dig(ev, "tags", "c") != "d" {
					t.Fatalf("%s %s", a.EventID, a.Event)
				}
			}},
		{name: "electron chunks", parts: []part{field("sentry__2", `"x","level":"warning"}`), field("sentry__1", `{"release":`), dumpPart(fakeDump)}, status: 200,
			check: func(t *testing.T, a *Accepted) {
				if ev := decodeEvent(t, a.Event); ev["release"] != "x" || ev["level"] != "warning" {
					t.Fatalf("%s", a.Event)
				}
			}},
		{name: "sentry-native msgpack event and breadcrumbs", parts: []part{
			{name: "__sentry-event", filename: "__sentry-event", data: sentryEvent},
			{name: "__sentry-breadcrumb1", filename: "__sentry-breadcrumb1", data: crumbs("c3", "c4")},
			{name: "__sentry-breadcrumb2", filename: "__sentry-breadcrumb2", data: crumbs("c1")},
			field("sentry[release]", "from-form"),
			dumpPart(fakeDump),
		}, status: 200, check: func(t *testing.T, a *Accepted) {
			ev := decodeEvent(t, a.Event)
			if a.EventID != "0123456789abcdef0123456789abcdef" || ev["release"] != "from-form" || ev["level"] != "fatal" || dig(ev, "tags", "t") != "1" {
				t.Fatalf("%s", a.Event)
			}
			vals, _ := dig(ev, "breadcrumbs", "values").([]any)
			if len(vals) != 2 {
				t.Fatalf("breadcrumbs %v", vals)
			}
			if len(a.Attachments) != 1 {
				t.Fatalf("msgpack parts stored as attachments: %d", len(a.Attachments))
			}
		}},
		{name: "broken msgpack event is skipped", parts: []part{{name: "__sentry-event", filename: "__sentry-event", data: []byte{0xdf, 0xff}}, dumpPart(fakeDump)}, status: 200},
		{name: "view hierarchy attachment", parts: []part{{name: "view-hierarchy.json", filename: "view-hierarchy.json", data: []byte(`{}`)}, dumpPart(fakeDump)}, status: 200,
			check: func(t *testing.T, a *Accepted) {
				if a.Attachments[1].Type != "event.view_hierarchy" {
					t.Fatalf("%+v", a.Attachments[1])
				}
			}},
		{name: "embedded multipart (old electron)", parts: []part{dumpPart(func() []byte {
			b, _ := multipartBody(t, "inner-boundary", field("x", "y"), dumpPart(fakeDump))
			return b
		}())}, status: 200, check: func(t *testing.T, a *Accepted) {
			if !bytes.Equal(a.Attachments[0].Data, fakeDump) {
				t.Fatal("embedded dump not extracted")
			}
		}},

		{name: "not a minidump", parts: []part{dumpPart([]byte("W/google-breakpad(18210): Microdump"))}, status: 400, errLike: "not a minidump"},
		{name: "compressed non-minidump", parts: []part{dumpPart(gzipped([]byte("hello world")))}, status: 400, errLike: "after gzip decompression"},
		{name: "corrupt gzip dump", parts: []part{dumpPart([]byte("\x1f\x8b\x08garbage"))}, status: 400, errLike: "gzip"},
		{name: "empty dump", parts: []part{dumpPart(nil)}, status: 400, errLike: "empty"},
		{name: "missing dump", parts: []part{field("prod", "x"), part{name: "other", filename: "o.dmp", data: fakeDump}}, status: 400, errLike: "missing minidump"},
		{name: "bad sentry[event_id]", parts: []part{field("sentry[event_id]", "nope"), dumpPart(fakeDump)}, status: 400, errLike: "invalid event_id"},
		{name: "raw body not a dump", raw: []byte("hello"), header: map[string]string{"Content-Type": "application/x-dmp"}, status: 400, errLike: "not a minidump"},
		{name: "no boundary", raw: []byte("--x\r\n"), header: map[string]string{"Content-Type": "multipart/form-data"}, status: 400, errLike: "boundary"},
		{name: "truncated multipart", raw: []byte("--b\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a\"\r\n\r\nMDMP"), header: map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, status: 400, errLike: "invalid multipart"},
		{name: "garbage multipart", raw: []byte("this is not multipart at all"), header: map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, status: 400, errLike: "invalid multipart"},
		{name: "no key", raw: fakeDump, header: map[string]string{"X-Sentry-Auth": ""}, status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			h := authHeader(keyMain)
			body := tt.raw
			if tt.parts != nil {
				var ctype string
				body, ctype = multipartBody(t, "", tt.parts...)
				h = with(h, "Content-Type", ctype)
			}
			for k, v := range tt.header {
				h[k] = v
			}
			w := e.do(req{path: mdPath, header: h, body: body})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			if tt.status != 200 {
				if d := detail(t, w); tt.errLike != "" {
					mustContain(t, d, tt.errLike)
				}
				return
			}
			a := e.sink.last(t)
			if w.Body.String() != dashedEventID(a.EventID) || a.Attachments[0].Type != "event.minidump" {
				t.Fatalf("response %q, event %s", w.Body.String(), a.EventID)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

func TestMinidumpLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxMinidumpSize = 1000
		c.MaxAttachmentSize = 500
		c.MaxEventSize = 300
		c.MaxEnvelopeSize = 5000
	})
	tests := []struct {
		name    string
		parts   []part
		gzip    bool
		errLike string
	}{
		{"dump", []part{dumpPart(append(fakeDump, make([]byte, 1000)...))}, false, `"upload_file_minidump"`},
		{"dump bomb", []part{dumpPart(gzipped(append(fakeDump, make([]byte, 200000)...)))}, false, "after gzip decompression"},
		{"attachment", []part{{name: "f", filename: "f", data: make([]byte, 501)}, dumpPart(fakeDump)}, false, `"f"`},
		{"text fields", []part{field("a", strings.Repeat("x", 200)), field("b", strings.Repeat("x", 200)), dumpPart(fakeDump)}, false, "text fields"},
		{"body", []part{{name: "f1", filename: "1", data: make([]byte, 450)}, {name: "f2", filename: "2", data: make([]byte, 450)}, {name: "f3", filename: "3", data: make([]byte, 450)},
			{name: "f4", filename: "4", data: make([]byte, 450)}, {name: "f5", filename: "5", data: make([]byte, 450)}, {name: "f6", filename: "6", data: make([]byte, 450)},
			{name: "f7", filename: "7", data: make([]byte, 450)}, {name: "f8", filename: "8", data: make([]byte, 450)}, {name: "f9", filename: "9", data: make([]byte, 450)},
			{name: "f10", filename: "10", data: make([]byte, 450)}, {name: "f11", filename: "11", data: make([]byte, 450)}, dumpPart(fakeDump)}, false, "upload body"},
		{"gzip body bomb", []part{dumpPart(fakeDump)}, true, "after gzip decompression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ctype := multipartBody(t, "", tt.parts...)
			h := with(authHeader(keyMain), "Content-Type", ctype)
			if tt.gzip {
				// A megabyte of preamble before the first boundary.
				body = gzipped(append(bytes.Repeat([]byte("preamble\r\n"), 100000), body...))
				h["Content-Encoding"] = "gzip"
			}
			w := e.do(req{path: mdPath, header: h, body: body, chunked: true})
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s", w.Code, w.Body.String())
			}
			mustContain(t, detail(t, w), tt.errLike)
		})
	}
	many := make([]part, 0, maxFormParts+1)
	for i := 0; i <= maxFormParts; i++ {
		many = append(many, field("f", ""))
	}
	body, ctype := multipartBody(t, "", many...)
	e2 := newEnv(t, nil)
	if w := e2.do(req{path: mdPath, header: with(authHeader(keyMain), "Content-Type", ctype), body: body}); w.Code != 400 {
		t.Fatalf("too many parts: %d", w.Code)
	}
}

// TestMinidumpRateLimited checks Sentry's behaviour for crash uploaders:
// a rate-limited dump is dropped but answered 200, because Crashpad and
// Breakpad would retry anything else.
func TestMinidumpRateLimited(t *testing.T) {
	e := newEnv(t, nil)
	body, ctype := multipartBody(t, "", dumpPart(fakeDump))
	send := func() *http.Response {
		return e.do(req{path: mdPath, header: with(authHeader(keyLimited), "Content-Type", ctype), body: body}).Result()
	}
	send()
	send()
	r := send()
	if r.StatusCode != 200 || r.Header.Get("X-Sentry-Rate-Limits") == "" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v", r.StatusCode, r.Header)
	}
	if n := len(e.sink.all()); n != 2 {
		t.Fatalf("sink has %d dumps, want 2", n)
	}
}
