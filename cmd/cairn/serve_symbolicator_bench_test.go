//go:build !cairncli

package main

import (
	"bytes"
	"context"
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
	"github.com/cairn-dev/cairn/fixtures"
)

// BenchmarkServeSymbolicatorMinidump measures symbolicated minidumps per
// second through `serve --role symbolicator` over loopback: 16 clients
// POST a multi-threaded crash (program, its library and the C and C++
// runtimes) to /minidump, debug files from a filesystem source. "warm"
// reuses the converted caches, as a symbolicator serving a crashing
// release does; "cold" starts every request on an empty cache (a new
// server each time) and runs one request at a time.
func BenchmarkServeSymbolicatorMinidump(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-thread")
	store := crashSymbolStore(b, c)
	srcFile := filepath.Join(b.TempDir(), "sources.json")
	os.WriteFile(srcFile, fmt.Appendf(nil, `[{"type":"filesystem","id":"store","path":%q,"layout":{"type":"native"}}]`, store), 0o644)
	data, err := os.ReadFile(c.Dump)
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("upload_file_minidump", "crash.dmp")
	fw.Write(data)
	mw.Close()
	ctype := mw.FormDataContentType()
	start := func(b *testing.B) *symbolicatorServer {
		cfg := config.Default()
		cfg.DataDir, cfg.Addr, cfg.Role = b.TempDir(), "127.0.0.1:0", config.RoleSymbolicator
		cfg.Symbolicator.SourcesFile = srcFile
		cfg.Symbolicator.MaxConcurrent = 64
		s, err := startSymbolicator(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: time.Minute}
	post := func(b *testing.B, url string) {
		resp, err := client.Post(url+"/minidump", ctype, bytes.NewReader(body.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(out, []byte(`"status":"completed"`)) {
			b.Fatalf("/minidump: %d %.300s", resp.StatusCode, out)
		}
	}
	b.Run("warm", func(b *testing.B) {
		s := start(b)
		defer s.shutdown()
		post(b, s.URL)
		const clients = 16
		var next atomic.Int64
		b.ResetTimer()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					post(b, s.URL)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dumps/s")
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := start(b)
			b.StartTimer()
			post(b, s.URL)
			b.StopTimer()
			s.shutdown()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "dumps/s")
	})
}
