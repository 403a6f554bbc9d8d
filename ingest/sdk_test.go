package ingest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// These tests drive ingest with the real sentry-go SDK over HTTP: what the
// SDK serializes is what ingest must accept.

func sdkServer(t *testing.T, mod func(*Config)) (*testEnv, *httptest.Server, *atomic.Int64) {
	t.Helper()
	e := newEnv(t, mod)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		e.h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return e, srv, &requests
}

func sdkHub(t *testing.T, srv *httptest.Server, key string, transport sentry.Transport) *sentry.Hub {
	t.Helper()
	dsn := "http://" + key + "@" + strings.TrimPrefix(srv.URL, "http://") + "/1"
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:            dsn,
		Release:        "sdk-test@1.2.3",
		Environment:    "test",
		Transport:      transport,
		SendDefaultPII: false,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sentry.NewHub(client, sentry.NewScope())
}

func TestSentryGoSDK(t *testing.T) {
	e, srv, _ := sdkServer(t, nil)
	hub := sdkHub(t, srv, keyMain, sentry.NewHTTPTransport())

	hub.ConfigureScope(func(s *sentry.Scope) {
		s.SetTag("component", "ingest-test")
		s.SetUser(sentry.User{ID: "u-1"})
		s.AddAttachment(&sentry.Attachment{Filename: "state.json", ContentType: "application/json", Payload: []byte(`{"ok":true}`)})
	})
	hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "test", Message: "before the error"}, nil)
	errID := hub.CaptureException(errors.New("disk on fire"))
	msgID := hub.CaptureMessage("hello from sentry-go")
	if errID == nil || msgID == nil {
		t.Fatal("SDK did not capture")
	}
	if !hub.Flush(5 * time.Second) {
		t.Fatal("SDK flush timed out")
	}

	got := map[string]*Accepted{}
	for _, a := range e.sink.all() {
		got[a.EventID] = a
	}
	errEvent, msgEvent := got[string(*errID)], got[string(*msgID)]
	if errEvent == nil || msgEvent == nil {
		t.Fatalf("sink has %d events, missing %s or %s", len(got), *errID, *msgID)
	}
	ev := decodeEvent(t, errEvent.Event)
	values, _ := dig(ev, "exception").([]any)
	if values == nil {
		values, _ = dig(ev, "exception", "values").([]any)
	}
	if len(values) == 0 || dig(values[len(values)-1], "value") != "disk on fire" {
		t.Fatalf("exception not in event: %s", errEvent.Event)
	}
	if ev["release"] != "sdk-test@1.2.3" || ev["environment"] != "test" || dig(ev, "tags", "component") != "ingest-test" || dig(ev, "user", "id") != "u-1" {
		t.Fatalf("scope data missing: %s", errEvent.Event)
	}
	if len(errEvent.Attachments) != 1 || errEvent.Attachments[0].Name != "state.json" || string(errEvent.Attachments[0].Data) != `{"ok":true}` {
		t.Fatalf("attachments %+v", errEvent.Attachments)
	}
	if m := decodeEvent(t, msgEvent.Event); m["message"] != "hello from sentry-go" {
		t.Fatalf("message event %s", msgEvent.Event)
	}
	if !strings.HasPrefix(errEvent.UserAgent, "sentry-go") && !strings.Contains(errEvent.UserAgent, "sentry.go") {
		t.Errorf("user agent %q", errEvent.UserAgent)
	}
}

// TestSentryGoSDKRateLimit checks that the SDK understands ingest's 429:
// after it, the SDK holds back events itself instead of sending them.
func TestSentryGoSDKRateLimit(t *testing.T) {
	e, srv, requests := sdkServer(t, nil)
	hub := sdkHub(t, srv, keyLimited, sentry.NewHTTPSyncTransport())
	for i := 0; i < 6; i++ {
		hub.CaptureMessage("event")
	}
	if n := len(e.sink.all()); n != 2 {
		t.Fatalf("sink has %d events, want 2 (the key allows 2 a minute)", n)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("SDK made %d requests, want 3: it must stop after the 429", n)
	}
}

// TestSentryGoSDKBadKey checks that an SDK with a wrong key gets a clean
// refusal (and that nothing is stored).
func TestSentryGoSDKBadKey(t *testing.T) {
	e, srv, requests := sdkServer(t, nil)
	hub := sdkHub(t, srv, "ffffffffffffffffffffffffffffffff", sentry.NewHTTPSyncTransport())
	hub.CaptureMessage("lost")
	if requests.Load() != 1 || len(e.sink.all()) != 0 {
		t.Fatalf("%d requests, %d stored", requests.Load(), len(e.sink.all()))
	}
	mustContain(t, e.logs.String(), "unknown DSN key")
}
