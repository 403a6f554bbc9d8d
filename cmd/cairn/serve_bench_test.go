//go:build !cairncli

package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/storage/storagetest"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// storeEvent is a typical SDK error event of about 3 KB.
func storeEvent(i int64) []byte {
	var frames bytes.Buffer
	for f := range 12 {
		if f > 0 {
			frames.WriteByte(',')
		}
		fmt.Fprintf(&frames, `{"function":"pkg.fn%d","filename":"src/file%d.go","lineno":%d,"in_app":%t,"abs_path":"/build/src/file%d.go"}`, f, f, 10+f, f > 6, f)
	}
	return fmt.Appendf(nil, `{"platform":"go","level":"error","release":"app@1.%d","environment":"production",
		"exception":{"values":[{"type":"*errors.errorString","value":"request %d failed","stacktrace":{"frames":[%s]}}]},
		"tags":{"region":"eu","shard":"%d"},"user":{"id":"user-%d"},"contexts":{"os":{"name":"Linux"},"runtime":{"name":"go","version":"go1.26"}},
		"breadcrumbs":{"values":[{"category":"ui.click","message":"clicked"},{"category":"http","message":"GET /api"}]},
		"sdk":{"name":"sentry.go","version":"0.50.0"}}`, i%3, i, frames.Bytes(), i%16, i%100)
}

// BenchmarkServeStore measures accepted JSON events per second: 128
// concurrent clients POST to /api/{id}/store/ over loopback, each event
// durable (queue commit synced) before its 200. "all-in-one" runs the
// worker in the same process, competing for CPU and disk; "ingest" leaves
// the queue unconsumed, as a separate ingest role would.
func BenchmarkServeStore(b *testing.B) {
	for _, mode := range []struct {
		name   string
		worker bool
	}{{"all-in-one", true}, {"ingest", false}} {
		b.Run(mode.name, func(b *testing.B) { benchmarkServeStore(b, mode.worker) })
	}
}

func benchmarkServeStore(b *testing.B, withWorker bool) {
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = b.TempDir(), "127.0.0.1:0"
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), withWorker)
	if err != nil {
		b.Fatal(err)
	}
	defer s.shutdown()
	url := fmt.Sprintf("%s/api/%d/store/?sentry_key=%s&sentry_version=7", s.URL, s.ProjectID, s.Key)
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = storeEvent(int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	w0 := storagetest.DiskWrites()
	defer func() {
		b.ReportMetric(float64(storagetest.DiskWrites()-w0)/float64(b.N), "diskB/event")
		st := s.sink.Stats()
		b.ReportMetric(float64(st.Events)/float64(max(st.Commits, 1)), "events/commit")
	}()
	postEach(b, url, "application/json", func(n int64) []byte { return bodies[n%int64(len(bodies))] }, b.N, 128)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// minidumpUpload is a crash reporter's multipart upload of the crash
// fixture's dump (about 35 KB, several threads): its body and content type.
func minidumpUpload(b *testing.B, c fixtures.CrashFixture) ([]byte, string) {
	data, err := os.ReadFile(c.Dump)
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("prod", "crash")
	mw.WriteField("ver", "1.0")
	fw, _ := mw.CreateFormFile("upload_file_minidump", "crash.dmp")
	fw.Write(data)
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// postConcurrently posts n copies of body from clients goroutines and
// returns when every one was answered 200.
func postConcurrently(b *testing.B, url, ctype string, body []byte, n, clients int) {
	postEach(b, url, ctype, func(int64) []byte { return body }, n, clients)
}

// postEach posts body(1) … body(n) from clients goroutines and returns
// when every one was answered 200.
func postEach(b *testing.B, url, ctype string, body func(int64) []byte, n, clients int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, Timeout: time.Minute}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				resp, err := client.Post(url, ctype, bytes.NewReader(body(i)))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("HTTP %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
}

// waitProcessed waits until the worker has handled every queued event.
func waitProcessed(b *testing.B, s *server) {
	ctx := context.Background()
	for {
		st, err := s.stores.queue.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Dead > 0 {
			b.Fatalf("%d events failed", st.Dead)
		}
		if st.Ready+st.Leased == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkServeMinidumpProcessed measures minidumps processed per second
// end to end with warm caches: 16 clients post the crash fixture's dump to
// /api/{id}/minidump/, and the worker of the same process stackwalks and
// symbolicates each from the debug files uploaded to the project (the
// crashed binary and its libraries, converted once by a first event),
// groups it and stores it. The clock stops when the queue is empty.
func BenchmarkServeMinidumpProcessed(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-thread")
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = b.TempDir(), "127.0.0.1:0"
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		b.Fatal(err)
	}
	defer s.shutdown()
	ds := &store.Store{Blobs: s.stores.blobs, Index: s.stores.meta}
	for _, p := range append([]string{c.Binary}, c.Libs...) {
		addDebugFile(b, ds, s.ProjectID, p)
	}
	body, ctype := minidumpUpload(b, c)
	url := fmt.Sprintf("%s/api/%d/minidump/?sentry_key=%s", s.URL, s.ProjectID, s.Key)
	postConcurrently(b, url, ctype, body, 1, 1)
	waitProcessed(b, s)
	if n := countDerived(b, cfg.SymbolicatorCacheDir()); n == 0 {
		b.Fatal("the warm-up event built no symcache or cficache")
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	postConcurrently(b, url, ctype, body, b.N, 16)
	accepted := time.Since(start)
	waitProcessed(b, s)
	processed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/processed.Seconds(), "processed/s")
}

// BenchmarkServeMinidumpUpload measures accepted minidump uploads per
// second (the crash fixture's 35 KB dump, stored in the blob store and
// queued before each 200) with no worker consuming the queue, as a
// separate ingest role would run.
func BenchmarkServeMinidumpUpload(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-thread")
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = b.TempDir(), "127.0.0.1:0"
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		b.Fatal(err)
	}
	defer s.shutdown()
	body, ctype := minidumpUpload(b, c)
	url := fmt.Sprintf("%s/api/%d/minidump/?sentry_key=%s", s.URL, s.ProjectID, s.Key)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	postConcurrently(b, url, ctype, body, b.N, 16)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accepted/s")
}

// addDebugFile uploads a debug file to a project, as the upload endpoints
// store it.
func addDebugFile(b *testing.B, ds *store.Store, projectID int64, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	objs, err := identify.File(path)
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	sum := sha1.Sum(data)
	if _, err := ds.Add(context.Background(), projectID, filepath.Base(path), path, hex.EncodeToString(sum[:]), int64(len(data)), objs, false); err != nil {
		b.Fatal(err)
	}
}

// countDerived counts the symcaches and cficaches under a cache directory.
func countDerived(b *testing.B, dir string) int {
	n := 0
	for _, kind := range []string{"symcache", "cficache"} {
		m, _ := filepath.Glob(filepath.Join(dir, kind, "*", "*"))
		for _, p := range m {
			if filepath.Ext(p) != ".json" {
				n++
			}
		}
	}
	return n
}
