package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// BenchmarkSymbolicatorMemoryBound runs `cairn serve --role symbolicator
// --cache-size 256MiB` as its own process and sends /symbolicate requests
// naming 150 distinct debug files of 7.6 MB each (1.1 GB in all: copies of
// the 2,500-function fixture with distinct build ids), 4 clients, 4
// modules per request. It reports the server's peak resident memory
// (VmHWM) and what the cache directory holds at the end; the goal is a
// peak of at most 512 MB. One iteration whatever b.N is.
func BenchmarkSymbolicatorMemoryBound(b *testing.B) {
	const (
		files     = 150
		perReq    = 4
		clients   = 4
		cacheSize = 256 << 20
	)
	large := fixtures.Get(b, "elf-x86_64-gcc-O2-large")
	orig, err := os.ReadFile(large)
	if err != nil {
		b.Fatal(err)
	}
	buildID, err := fixtures.BuildID(large)
	if err != nil || len(buildID) == 0 || bytes.Count(orig, buildID) != 1 {
		b.Fatalf("build id of %s: %x, %v", large, buildID, err)
	}
	at := bytes.Index(orig, buildID)
	syms, err := fixtures.FunctionSymbols(large)
	if err != nil || len(syms) < 64 {
		b.Fatalf("symbols: %v", err)
	}
	work := b.TempDir()
	store := filepath.Join(work, "store")
	type module struct{ id, codeID string }
	var mods []module
	var total int64
	for i := range files {
		data := bytes.Clone(orig)
		id := bytes.Clone(buildID)
		copy(id[len(id)-4:], fmt.Appendf(nil, "%04d", i))
		copy(data[at:], id)
		did := debugid.FromBuildID(id)
		fid := sources.FileID{DebugID: did, CodeID: fmt.Sprintf("%x", id), CodeFile: "/opt/app/lib.so", Object: sources.ObjectELF}
		dst := filepath.Join(store, filepath.FromSlash(sources.Paths(sources.DirectoryLayout{Type: sources.LayoutNative}, sources.FileELFDebug, fid)[0]))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
		mods = append(mods, module{did.String(), fid.CodeID})
	}
	srcFile := filepath.Join(work, "sources.json")
	os.WriteFile(srcFile, fmt.Appendf(nil, `[{"type":"filesystem","id":"store","path":%q,"layout":{"type":"native"}}]`, store), 0o644)
	bin := filepath.Join(work, "cairn")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	addr := testtools.FreeAddr(b)
	cacheDir := filepath.Join(work, "cache")
	cmd := exec.Command(bin, "serve", "--role", "symbolicator", "--addr", addr, "--data-dir", filepath.Join(work, "data"),
		"--cache-dir", cacheDir, "--cache-size", strconv.Itoa(cacheSize), "--sources", srcFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(url + "/healthcheck"); err == nil {
			r.Body.Close()
			break
		}
		if i > 200 {
			b.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	const base = 0x7f0000000000
	request := func(group []module) []byte {
		type frame struct {
			Addr string `json:"instruction_addr"`
		}
		var req struct {
			Stacktraces []struct {
				Frames []frame `json:"frames"`
			} `json:"stacktraces"`
			Modules []map[string]any `json:"modules"`
		}
		req.Stacktraces = make([]struct {
			Frames []frame `json:"frames"`
		}, 1)
		for j, m := range group {
			img := uint64(base + j<<32)
			req.Modules = append(req.Modules, map[string]any{"type": "elf", "debug_id": m.id, "code_id": m.codeID,
				"code_file": "/opt/app/lib.so", "image_addr": fmt.Sprintf("0x%x", img), "image_size": 1 << 28})
			for k := range 8 {
				s := syms[(j*8+k)*len(syms)/(perReq*8)]
				req.Stacktraces[0].Frames = append(req.Stacktraces[0].Frames, frame{fmt.Sprintf("0x%x", img+s.Addr+1)})
			}
		}
		out, _ := json.Marshal(req)
		return out
	}
	var mu sync.Mutex
	next, symbolicated := 0, 0
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(mods) {
					mu.Unlock()
					return
				}
				group := mods[next:min(next+perReq, len(mods))]
				next += perReq
				mu.Unlock()
				resp, err := http.Post(url+"/symbolicate", "application/json", bytes.NewReader(request(group)))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				symbolicated += bytes.Count(body, []byte(`"status":"symbolicated"`))
				mu.Unlock()
				if resp.StatusCode != 200 || bytes.Count(body, []byte(`"debug_status":"found"`)) != len(group) {
					b.Errorf("/symbolicate: %d %.400s", resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	hwm, rss := procMemory(b, cmd.Process.Pid)
	var cached int64
	filepath.WalkDir(cacheDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				cached += fi.Size()
			}
		}
		return nil
	})
	b.ReportMetric(float64(total)/(1<<20), "MB-requested")
	b.ReportMetric(float64(hwm)/(1<<20), "MB-peak-RSS")
	b.ReportMetric(float64(rss)/(1<<20), "MB-RSS-end")
	b.ReportMetric(float64(cached)/(1<<20), "MB-cache-dir")
	b.ReportMetric(float64(files)/elapsed.Seconds(), "files/s")
	b.Logf("%d frames symbolicated; %.0f MB requested, peak RSS %.0f MB, cache %.0f MB", symbolicated, float64(total)/(1<<20), float64(hwm)/(1<<20), float64(cached)/(1<<20))
	if hwm > 512<<20 {
		b.Errorf("peak RSS %d MB, goal at most 512 MB", hwm>>20)
	}
	if cached > cacheSize+cacheSize/8 {
		b.Errorf("cache directory holds %d MB past its %d MB bound", cached>>20, cacheSize>>20)
	}
}

// procMemory reads a process's peak and current resident memory in bytes.
func procMemory(t testing.TB, pid int) (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = kb << 10
		case "VmRSS":
			rss = kb << 10
		}
	}
	return hwm, rss
}
