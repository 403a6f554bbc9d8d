package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/storage/storagetest"
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
	const clients = 128
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = storeEvent(int64(i))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	w0 := storagetest.DiskWrites()
	defer func() {
		b.ReportMetric(float64(storagetest.DiskWrites()-w0)/float64(b.N), "diskB/event")
		st := s.sink.Stats()
		b.ReportMetric(float64(st.Events)/float64(max(st.Commits, 1)), "events/commit")
	}()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[n%int64(len(bodies))]))
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
