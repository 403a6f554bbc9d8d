package upload_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/upload"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
)

// benchFiles writes about totalMB of distinct ELF debug files: copies of
// the bench fixture, each with a unique trailer so every copy is a new
// upload (trailing bytes leave an ELF file valid).
func benchFiles(b *testing.B, dir string, totalMB int) []string {
	src := fixtures.Get(b, "elf-x86_64-gcc-O2-bench")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	for i := 0; int64(i)*int64(len(data)) < int64(totalMB)<<20; i++ {
		p := filepath.Join(dir, fmt.Sprintf("bench-%03d", i))
		f, err := os.Create(p)
		if err == nil {
			_, err = f.Write(data)
		}
		if err == nil {
			_, err = fmt.Fprintf(f, "trailer %d", i)
		}
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// BenchmarkUpload1GB uploads about 1 GB (CAIRN_UPLOAD_BENCH_MB overrides)
// of debug files over loopback to a server on the embedded blob store, and
// waits until every file is assembled, identified and indexed. It reports
// throughput and how long assembly took after the last chunk arrived.
func BenchmarkUpload1GB(b *testing.B) {
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("CAIRN_UPLOAD_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	src := b.TempDir()
	paths := benchFiles(b, src, mb)
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", compress), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				ctx := context.Background()
				dir := b.TempDir()
				m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
				if err != nil {
					b.Fatal(err)
				}
				blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
				if err != nil {
					b.Fatal(err)
				}
				web.EnsureDefaults(ctx, m)
				tok, _, _ := web.CreateToken(ctx, m, "default", "bench", nil)
				api := web.NewAPI(m, nil, "", nil)
				d := api.EnableDebugFiles(ctx, web.DebugFileConfig{Blobs: blobs, Index: m, Tokens: m, TempDir: dir})
				srv := httptest.NewServer(api)
				files, _, err := upload.Find(paths)
				if err != nil {
					b.Fatal(err)
				}
				var total int64
				for _, f := range files {
					total += f.Size
				}
				c := &upload.Client{URL: srv.URL, Org: "default", Project: "default", Token: tok}
				b.StartTimer()
				start := time.Now()
				var sent time.Duration
				results, err := c.Upload(ctx, files, upload.Options{NoCompress: !compress, Wait: true,
					PollInterval: 10 * time.Millisecond, OnSent: func() { sent = time.Since(start) }})
				if err != nil {
					b.Fatal(err)
				}
				all := time.Since(start)
				b.StopTimer()
				for _, r := range results {
					if r.State != "ok" {
						b.Fatalf("%s: %s %s", r.Path, r.State, r.Detail)
					}
				}
				b.ReportMetric(float64(total)/(1<<20)/sent.Seconds(), "MB/s-sent")
				b.ReportMetric(float64(total)/(1<<20)/all.Seconds(), "MB/s-processed")
				b.ReportMetric((all-sent).Seconds()*1000, "ms-assemble-after-last-chunk")
				b.ReportMetric(float64(total)/(1<<20), "MB")
				srv.Close()
				d.Wait()
				m.Close()
				b.StartTimer()
			}
		})
	}
}
