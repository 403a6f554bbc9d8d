package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Keys of the fake KeyStore. Project 1 is the ordinary one; 2 scrubs; 3 is
// disabled; key "limited" allows two events a minute.
const (
	keyMain      = "0123456789abcdef0123456789abcdef"
	keyScrub     = "22222222222222222222222222222222"
	keyDisabled  = "dddddddddddddddddddddddddddddddd"
	keyOffProj   = "33333333333333333333333333333333"
	keyLimited   = "1111111111111111111111111111aaaa"
	keyOtherProj = "44444444444444444444444444444444"
	keyBroken    = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" // KeyStore fails on it
)

type fakeKeys struct{}

func (fakeKeys) Key(_ context.Context, public string) (Key, error) {
	switch public {
	case keyMain:
		return Key{Public: public, ProjectID: 1}, nil
	case keyScrub:
		return Key{Public: public, ProjectID: 2}, nil
	case keyDisabled:
		return Key{Public: public, ProjectID: 1, Disabled: true}, nil
	case keyOffProj:
		return Key{Public: public, ProjectID: 3}, nil
	case keyLimited:
		return Key{Public: public, ProjectID: 1, RateLimit: Limit{Count: 2, Window: time.Minute}}, nil
	case keyOtherProj:
		return Key{Public: public, ProjectID: 4}, nil
	case keyBroken:
		return Key{}, errors.New("database is down")
	}
	return Key{}, ErrUnknownKey
}

func (fakeKeys) Project(_ context.Context, id int64) (Project, error) {
	switch id {
	case 1:
		return Project{ID: 1, Slug: "main"}, nil
	case 2:
		return Project{ID: 2, Slug: "scrubbed", Scrub: true, ScrubFields: []string{"ssn"}}, nil
	case 3:
		return Project{ID: 3, Slug: "off", Disabled: true}, nil
	case 4:
		return Project{ID: 4, Slug: "other"}, nil
	}
	return Project{}, ErrUnknownProject
}

// fakeSink records what it accepts; fail makes it refuse.
type fakeSink struct {
	mu    sync.Mutex
	got   []*Accepted
	fail  error
	panic bool
}

func (s *fakeSink) Accept(_ context.Context, a *Accepted) error {
	if s.panic {
		panic("sink exploded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, a)
	return nil
}

func (s *fakeSink) all() []*Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Accepted(nil), s.got...)
}

func (s *fakeSink) last(t testing.TB) *Accepted {
	t.Helper()
	all := s.all()
	if len(all) == 0 {
		t.Fatal("sink received nothing")
	}
	return all[len(all)-1]
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	h     http.Handler
	sink  *fakeSink
	clock *clock
	logs  *bytes.Buffer
}

func newEnv(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	cfg := DefaultConfig()
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.now
	if mod != nil {
		mod(&cfg)
	}
	logs := &bytes.Buffer{}
	sink := &fakeSink{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &testEnv{h: NewHandler(cfg, fakeKeys{}, sink, log), sink: sink, clock: c, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// req describes one request in the table tests.
type req struct {
	method  string
	path    string
	header  map[string]string
	body    []byte
	chunked bool // send without Content-Length
}

func (e *testEnv) do(r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodPost
	}
	var body io.Reader = bytes.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(bytes.NewReader(r.body)) // hides the length from NewRequest
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.chunked {
		hr.ContentLength = -1
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func authHeader(key string) map[string]string {
	return map[string]string{"X-Sentry-Auth": "Sentry sentry_key=" + key + ", sentry_version=7, sentry_client=cairn-test/1.0"}
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// detail returns the {"detail"} of an error response.
func detail(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatalf("error body is not JSON {detail}: %q", w.Body.String())
	}
	if d.Detail == "" {
		t.Fatalf("empty detail in %q", w.Body.String())
	}
	return d.Detail
}

func decodeEvent(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m, err := decodeObject(b)
	if err != nil {
		t.Fatalf("event is not a JSON object: %v: %s", err, b)
	}
	return m
}

// dig follows a path of keys through decoded JSON.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// Compressors for request bodies.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zlibbed(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func deflated(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func brotlied(b []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, 5)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zstded(b []byte) []byte {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// bomb is a highly compressible body far larger than any limit.
func bomb(size int) []byte {
	return bytes.Repeat([]byte(" "), size)
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

// peerDump reads a minidump from the shared peer fixtures, in place.
func peerDump(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testtools.PeersDir(t), rel))
	if err != nil {
		t.Fatalf("reading peer fixture: %v", err)
	}
	return b
}
