package ingest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cairn-dev/cairn/ingest/internal/msgpack"
)

// FuzzEnvelope feeds arbitrary bodies to the envelope parser: it must
// never panic, and every payload it returns must lie inside the input (it
// allocates nothing per byte, only per item, and items are bounded).
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"event_id":"` + eid + `"}` + "\n" + `{"type":"event","length":2}` + "\n{}\n" + `{"type":"session"}` + "\n{}"))
	f.Add(env(`{}`, item(map[string]any{"type": "attachment", "attachment_type": "event.minidump"}, fakeDump)))
	f.Add([]byte("{}\n{\"type\":\"event\",\"length\":99999999999}\n"))
	f.Add([]byte("{}\r\n\r\n{\"type\":\"x\"}\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		line, rest, _ := cutLine(b)
		if _, err := parseEnvelopeHeader(line); err != nil {
			return
		}
		items, err := parseEnvelopeItems(rest)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 400 {
				t.Fatalf("parse error is not a 400: %v", err)
			}
			return
		}
		if len(items) > maxEnvelopeItems {
			t.Fatalf("%d items", len(items))
		}
		total := 0
		for _, it := range items {
			total += len(it.Payload)
			if it.Type == "" {
				t.Fatal("item without type accepted")
			}
		}
		if total > len(b) {
			t.Fatalf("payloads hold %d bytes of a %d-byte input", total, len(b))
		}
	})
}

// FuzzMinidumpForm feeds arbitrary multipart bodies to the minidump form
// parser and the event merge: no panic, parts within their limits.
func FuzzMinidumpForm(f *testing.F) {
	body, _ := multipartBody(f, "fuzzboundary",
		field("sentry[tags][a]", "b"), field("sentry", `{"release":"r"}`), field("sentry__1", `{"x":`), field("sentry__2", `1}`),
		field("prod", "p"), part{name: "__sentry-event", filename: "__sentry-event", data: msgpack.Append(nil, map[string]any{"level": "fatal"})},
		dumpPart(fakeDump))
	f.Add(body)
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"\r\n\r\nMDMP\r\n--fuzzboundary--\r\n"))
	f.Add([]byte("--fuzzboundary\r\n\r\n"))
	hd := &handler{cfg: Config{MaxEventSize: 4096}.withDefaults(), zstdPool: newZstdPool(1 << 20)}
	lim := formLimits{minidump: 1 << 16, attachment: 1 << 16, text: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		form, err := parseMinidumpForm(bytes.NewReader(b), "fuzzboundary", lim)
		if err != nil {
			return
		}
		text := 0
		for _, fl := range form.fields {
			text += len(fl.value)
		}
		if int64(text) > lim.text*2 { // values may grow by UTF-8 repair
			t.Fatalf("%d bytes of text fields, limit %d", text, lim.text)
		}
		for _, fl := range form.files {
			if int64(len(fl.data)) > lim.attachment {
				t.Fatalf("file of %d bytes", len(fl.data))
			}
		}
		var ev, c1, c2 []byte
		for _, fl := range form.files {
			switch fl.field {
			case fieldEvent:
				ev = fl.data
			case fieldBreadcrumbs1:
				c1 = fl.data
			case fieldBreadcrumbs2:
				c2 = fl.data
			}
		}
		event, err := hd.minidumpEvent(form.fields, ev, c1, c2)
		if err != nil {
			return
		}
		if _, err := marshalJSON(event); err != nil {
			t.Fatalf("merged event does not encode: %v", err)
		}
	})
}
