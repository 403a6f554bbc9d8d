package issues_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// benchEvent is a typical SDK error event: an exception with a dozen
// frames, tags, user, contexts and breadcrumbs (about 3 KB).
func benchEvent(i int) []byte {
	frames := ""
	for f := range 12 {
		if f > 0 {
			frames += ","
		}
		frames += fmt.Sprintf(`{"function":"pkg.fn%d","filename":"src/file%d.go","lineno":%d,"in_app":%t,"abs_path":"/build/src/file%d.go"}`, f, f, 10+f, f > 6, f)
	}
	crumbs := ""
	for c := range 10 {
		if c > 0 {
			crumbs += ","
		}
		crumbs += fmt.Sprintf(`{"timestamp":1777629540.%d,"category":"ui.click","message":"clicked button %d"}`, c, c)
	}
	return fmt.Appendf(nil, `{"platform":"go","level":"error","release":"app@1.%d","environment":"production",
		"exception":{"values":[{"type":"*errors.errorString","value":"request %d failed","stacktrace":{"frames":[%s]}}]},
		"tags":{"region":"eu","shard":"%d"},"user":{"id":"user-%d"},"contexts":{"os":{"name":"Linux"},"runtime":{"name":"go","version":"go1.26"}},
		"breadcrumbs":{"values":[%s]},"sdk":{"name":"sentry.go","version":"0.50.0"}}`, i%3, i, frames, i%16, i%100, crumbs)
}

// BenchmarkSinkAccept measures durable accepts: many concurrent requests
// sharing group commits into the SQLite queue (synchronous=FULL).
func BenchmarkSinkAccept(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	payloads := make([][]byte, 64)
	for i := range payloads {
		payloads[i] = benchEvent(i)
	}
	b.SetParallelism(64) // 64 × GOMAXPROCS requests in flight, as a busy ingest sees
	b.ReportAllocs()
	w0 := storagetest.DiskWrites()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: e.project.ID, EventID: newID(), ReceivedAt: time.Now(),
				Event: payloads[i%len(payloads)]}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(e.commits.Load(), 1)), "events/commit")
	b.ReportMetric(float64(storagetest.DiskWrites()-w0)/float64(b.N), "diskB/event")
}

// BenchmarkWorker measures processing end to end with the server's
// worker settings: decode, normalize, group, upsert issues, store events,
// count, acknowledge; two batches in flight so one's commits overlap the
// other's processing.
func BenchmarkWorker(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	for i := range b.N {
		if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: e.project.ID, EventID: newID(), ReceivedAt: time.Now(), Event: benchEvent(i)}); err != nil {
			b.Fatal(err)
		}
	}
	proc := &issues.Processor{Blobs: e.blobs, Symbolicator: issues.Unsymbolicated{}}
	w := issues.NewWorker(e.q, e.meta, e.events, proc, issues.WorkerOptions{Idle: time.Millisecond})
	b.ReportAllocs()
	b.ResetTimer()
	w0 := storagetest.DiskWrites()
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	for {
		st, err := e.q.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Ready == 0 && st.Leased == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(storagetest.DiskWrites()-w0)/float64(b.N), "diskB/event")
}
