package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardSink accepts everything and keeps nothing, so benchmarks measure
// ingest alone.
type discardSink struct{}

func (discardSink) Accept(context.Context, *Accepted) error { return nil }

// benchEvent is a typical SDK error event (~1.7 KB): exception with a
// stack trace, tags, contexts, breadcrumbs.
var benchEvent = func() []byte {
	var frames bytes.Buffer
	for i := 0; i < 12; i++ {
		if i > 0 {
			frames.WriteByte(',')
		}
		fmt.Fprintf(&frames, `{"function":"main.handler%d","module":"example.com/app","filename":"app/handler.go","lineno":%d,"in_app":true}`, i, 40+i)
	}
	return []byte(`{"timestamp":"2026-11-25T12:00:00Z","level":"error","platform":"go","release":"app@1.2.3","environment":"production",` +
		`"exception":[{"type":"*errors.errorString","value":"disk on fire","stacktrace":{"frames":[` + frames.String() + `]}}],` +
		`"tags":{"component":"api","region":"eu"},"user":{"id":"42"},"contexts":{"os":{"name":"linux"},"runtime":{"name":"go","version":"go1.26"}},` +
		`"breadcrumbs":[{"category":"http","message":"GET /","timestamp":"2026-11-25T11:59:59Z"}],"sdk":{"name":"sentry.go","version":"0.50.0"}}`)
}()

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	return NewHandler(DefaultConfig(), fakeKeys{}, discardSink{}, slog.New(slog.DiscardHandler))
}

// BenchmarkStoreInProcess: accepted JSON events per second through the
// handler, no network.
func BenchmarkStoreInProcess(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, storePath, bytes.NewReader(benchEvent))
			r.Header.Set("X-Sentry-Auth", "Sentry sentry_key="+keyMain+", sentry_version=7")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStoreScrubbedInProcess is the same with server-side scrubbing.
func BenchmarkStoreScrubbedInProcess(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/api/2/store/", bytes.NewReader(benchEvent))
			r.Header.Set("X-Sentry-Auth", "Sentry sentry_key="+keyScrub)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEnvelopeInProcess: an SDK-style envelope (event + client
// report) per request.
func BenchmarkEnvelopeInProcess(b *testing.B) {
	h := benchHandler(b)
	body := env(`{"event_id":"`+eid+`","sent_at":"2026-11-25T12:00:00Z"}`,
		item(map[string]any{"type": "event"}, benchEvent),
		item(map[string]any{"type": "client_report"}, []byte(`{"discarded_events":[]}`)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, envPath, bytes.NewReader(body))
			r.Header.Set("X-Sentry-Auth", "Sentry sentry_key="+keyMain)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// loopback serves h on 127.0.0.1 with a real net/http server and returns a
// client with enough idle connections for the benchmark's goroutines.
func loopback(b *testing.B, h http.Handler) (*httptest.Server, *http.Client) {
	b.Helper()
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func post(b *testing.B, c *http.Client, url, ctype string, hdr map[string]string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkStoreLoopback: accepted JSON events per second over loopback
// HTTP/1.1 with keep-alive, 64 client goroutines per core.
func BenchmarkStoreLoopback(b *testing.B) {
	srv, c := loopback(b, benchHandler(b))
	hdr := map[string]string{"X-Sentry-Auth": "Sentry sentry_key=" + keyMain + ", sentry_version=7"}
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, c, srv.URL+storePath, "application/json", hdr, benchEvent)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchDump is the ~27 KB Linux minidump of the peer fixtures, in a
// Breakpad-style multipart upload with a few annotations.
func benchDump(b *testing.B) ([]byte, string) {
	dump := peerDump(b, "rust-minidump/linux-mini.dmp")
	return multipartBody(b, "", field("prod", "bench"), field("ver", "1.0"), field("sentry[release]", "bench@1.0"), dumpPart(dump))
}

// BenchmarkMinidumpInProcess: accepted minidump uploads per second.
func BenchmarkMinidumpInProcess(b *testing.B) {
	h := benchHandler(b)
	body, ctype := benchDump(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, mdPath+"?sentry_key="+keyMain, bytes.NewReader(body))
			r.Header.Set("Content-Type", ctype)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
}

// BenchmarkMinidumpLoopback: the same over loopback HTTP, gzip-compressed
// as Crashpad sends it.
func BenchmarkMinidumpLoopback(b *testing.B) {
	srv, c := loopback(b, benchHandler(b))
	body, ctype := benchDump(b)
	gz := gzipped(body)
	hdr := map[string]string{"Content-Encoding": "gzip"}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, c, srv.URL+mdPath+"?sentry_key="+keyMain, ctype, hdr, gz)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
}
