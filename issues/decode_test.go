package issues

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func TestDecodeLegacyShapes(t *testing.T) {
	ev := mustDecode(t, `{
		"event_id": "FC6D8C0C-43FC-4630-81D3-3B0A2B3F2C1D",
		"message": "plain message",
		"exception": [{"type": "E", "value": "v", "stacktrace": {"frames": [{"function": "f", "instruction_addr": 4096}]}}],
		"threads": [{"id": 1, "crashed": true}],
		"breadcrumbs": [{"message": "clicked"}],
		"tags": {"color": "red", "count": 3},
		"fingerprint": ["a", 7],
		"level": "warn",
		"release": 12,
		"timestamp": "2026-05-01T09:59:00Z",
		"future_sdk_field": {"kept": true}
	}`)
	if ev.EventID != "fc6d8c0c43fc463081d33b0a2b3f2c1d" {
		t.Errorf("event id %q", ev.EventID)
	}
	if ev.Message() != "plain message" || ev.Level != "warning" || ev.Release != "12" {
		t.Errorf("message %q level %q release %q", ev.Message(), ev.Level, ev.Release)
	}
	if ev.Exception == nil || len(ev.Exception.Values) != 1 || ev.Exception.Values[0].Stacktrace.Frames[0].InstructionAddr != A(4096) {
		t.Errorf("exception %+v", ev.Exception)
	}
	if ev.Threads == nil || !ev.Threads.Values[0].Crashed {
		t.Errorf("threads %+v", ev.Threads)
	}
	if v, _ := ev.Tags.Get("count"); v != "3" {
		t.Errorf("tags %v", ev.Tags)
	}
	if len(ev.Fingerprint) != 2 || ev.Fingerprint[1] != "7" {
		t.Errorf("fingerprint %q", ev.Fingerprint)
	}
	if !ev.Timestamp.Equal(time.Date(2026, 5, 1, 9, 59, 0, 0, time.UTC)) {
		t.Errorf("timestamp %v", ev.Timestamp)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"future_sdk_field":{"kept":true}`, `"breadcrumbs":{"values":[{"message":"clicked"}]}`, `"instruction_addr":"0x1000"`, `"tags":[["color","red"],["count","3"]]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("encoded event lacks %s:\n%s", want, b)
		}
	}
	// The stored form decodes to the same event.
	again, err := DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(again)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the event:\n%s\n%s", b, b2)
	}
}

func TestDecodeInvalidFieldsAreRecorded(t *testing.T) {
	ev := mustDecode(t, `{"message": "ok", "exception": "not an exception", "tags": 5, "level": "loud", "user": [1]}`)
	if ev.Message() != "ok" || ev.Exception != nil || ev.Tags != nil || ev.Level != "error" || ev.User != nil {
		t.Errorf("event %+v", ev)
	}
	names := map[string]bool{}
	for _, e := range ev.Errors {
		if e.Type == "invalid_data" {
			names[e.Name] = true
		}
	}
	for _, n := range []string{"exception", "tags", "level", "user"} {
		if !names[n] {
			t.Errorf("no invalid_data error for %s: %+v", n, ev.Errors)
		}
	}
	if _, err := DecodeEvent([]byte(`[1,2]`)); err == nil {
		t.Error("a JSON list decoded as an event")
	}
}

func TestNormalizeTimestamps(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    time.Time
		errType string
	}{
		{`{}`, fixedNow, ""},
		{`{"timestamp": 1777629540.5}`, time.Unix(1777629540, 500_000_000).UTC(), ""},
		{`{"timestamp": "2099-01-01T00:00:00Z"}`, fixedNow, "clock_drift"},
		{`{"timestamp": "2001-01-01T00:00:00Z"}`, fixedNow, "past_timestamp"},
	} {
		ev := mustDecode(t, c.in)
		if !ev.Timestamp.Equal(c.want) {
			t.Errorf("%s: timestamp %v, want %v", c.in, ev.Timestamp.Time, c.want)
		}
		if c.errType != "" && (len(ev.Errors) == 0 || ev.Errors[0].Type != c.errType) {
			t.Errorf("%s: errors %+v, want %s", c.in, ev.Errors, c.errType)
		}
	}
}

func TestDescribe(t *testing.T) {
	ev := mustDecode(t, `{"exception":{"values":[{"type":"Inner","value":"x"},{"type":"ValueError","value":"bad input\nmore","stacktrace":{"frames":[
		{"function":"main","filename":"main.py","in_app":true},{"function":"lib","module":"requests","in_app":false}]}}]}}`)
	Describe(ev)
	if ev.Title != "ValueError: bad input" || ev.Type != "error" || ev.Culprit != "main.py in main" {
		t.Errorf("title %q type %q culprit %q", ev.Title, ev.Type, ev.Culprit)
	}
	if ev.Metadata["type"] != "ValueError" || ev.Metadata["function"] != "main" {
		t.Errorf("metadata %v", ev.Metadata)
	}
	ev = mustDecode(t, `{"message":"first line\nsecond","transaction":"/checkout"}`)
	Describe(ev)
	if ev.Title != "first line" || ev.Type != "default" || ev.Culprit != "/checkout" {
		t.Errorf("title %q type %q culprit %q", ev.Title, ev.Type, ev.Culprit)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	m := &Message{ProjectID: 3, EventID: "0123456789abcdef0123456789abcdef", ReceivedAt: fixedNow,
		Attachments: []AttachmentRef{{Name: "a.dmp", Type: "event.minidump", Size: 9, Key: "events/3/x/0"}},
		Event:       []byte("{\"message\":\"multi\\nline\"}\n")}
	b, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProjectID != 3 || got.EventID != m.EventID || !got.ReceivedAt.Equal(fixedNow) || string(got.Event) != string(m.Event) ||
		!reflect.DeepEqual(got.Attachments, m.Attachments) {
		t.Errorf("round trip: %+v", got)
	}
	// Inline attachments follow the event, whatever bytes either holds.
	m.Attachments = append(m.Attachments, AttachmentRef{Name: "b.dmp", Type: "event.minidump", Size: 6, Key: "events/3/x/1", Inline: true, Data: []byte("MDMP\n\x00")},
		AttachmentRef{Name: "empty", Size: 0, Key: "events/3/x/2", Inline: true, Data: []byte{}})
	if b, err = EncodeMessage(m); err != nil {
		t.Fatal(err)
	}
	if got, err = DecodeMessage(b); err != nil {
		t.Fatal(err)
	}
	if string(got.Event) != string(m.Event) || len(got.Attachments) != 3 || string(got.Attachments[1].Data) != "MDMP\n\x00" || !got.Attachments[2].Inline {
		t.Errorf("inline round trip: %+v", got)
	}
	if _, err := DecodeMessage(b[:len(b)-1]); err == nil {
		t.Error("a truncated inline attachment decoded")
	}
	if _, err := DecodeMessage([]byte(`{"v":99}` + "\n{}")); err == nil {
		t.Error("a message from a newer version decoded")
	}
}
