//go:build !cairncli

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// crashSymbolStore lays the files of a crash fixture's modules out in a
// native-layout directory, as a symbol server would hold them.
func crashSymbolStore(t testing.TB, c fixtures.CrashFixture) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range c.Modules {
		if m.File == "" || m.ID == "" {
			continue
		}
		b, _ := hex.DecodeString(m.ID)
		id := sources.FileID{DebugID: debugid.FromBuildID(b), CodeID: strings.ToLower(m.ID), CodeFile: m.Name, DebugFile: m.Name, Object: sources.ObjectELF}
		p := sources.Paths(sources.DirectoryLayout{Type: sources.LayoutNative}, sources.FileELFCode, id)[0]
		dst := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(m.File, dst); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// postMinidump sends a dump to /minidump with optional sources JSON.
func postMinidump(t testing.TB, client *http.Client, url, dump string, sourcesJSON string) (*http.Response, []byte) {
	t.Helper()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("upload_file_minidump", filepath.Base(dump))
	fw.Write(data)
	if sourcesJSON != "" {
		mw.WriteField("sources", sourcesJSON)
	}
	mw.Close()
	resp, err := client.Post(url+"/minidump", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestServeSymbolicatorRole runs `serve --role symbolicator` with a
// sources file and symbolicates a crash through HTTP, then checks the
// health check and the Prometheus metrics.
func TestServeSymbolicatorRole(t *testing.T) {
	c := fixtures.GetCrash(t, "crash-x86_64-gcc-O2-null")
	store := crashSymbolStore(t, c)
	srcFile := filepath.Join(t.TempDir(), "sources.json")
	os.WriteFile(srcFile, fmt.Appendf(nil, `[{"type":"filesystem","id":"store","path":%q,"layout":{"type":"native"}}]`, store), 0o644)
	cfg := config.Default()
	cfg.DataDir, cfg.Addr, cfg.Role = t.TempDir(), "127.0.0.1:0", config.RoleSymbolicator
	cfg.Symbolicator.SourcesFile, cfg.Symbolicator.CacheSize = srcFile, 64<<20
	s, err := startSymbolicator(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()

	resp, body := postMinidump(t, http.DefaultClient, s.URL, c.Dump, "")
	if resp.StatusCode != 200 {
		t.Fatalf("/minidump: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Status      string `json:"status"`
		Stacktraces []struct {
			IsRequesting bool `json:"is_requesting"`
			Frames       []struct {
				Package  string `json:"package"`
				Function string `json:"function"`
			} `json:"frames"`
		} `json:"stacktraces"`
		Modules []struct {
			CodeFile    string `json:"code_file"`
			DebugStatus string `json:"debug_status"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != "completed" {
		t.Fatalf("status %s: %s", out.Status, body)
	}
	for _, st := range out.Stacktraces {
		if !st.IsRequesting {
			continue
		}
		var frames []fixtures.StackFrame
		for _, f := range st.Frames {
			frames = append(frames, fixtures.StackFrame{Module: filepath.Base(f.Package), Function: f.Function})
		}
		if err := c.MatchStack(frames); err != nil {
			t.Error(err)
		}
	}
	for _, m := range out.Modules {
		if filepath.Base(m.CodeFile) == "crash" && m.DebugStatus != "found" {
			t.Errorf("crash module: %s", m.DebugStatus)
		}
	}
	// A request naming a filesystem source is refused without
	// --allow-filesystem-sources.
	resp, body = postMinidump(t, http.DefaultClient, s.URL, c.Dump, fmt.Sprintf(`[{"type":"filesystem","id":"x","path":%q}]`, store))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "filesystem") {
		t.Errorf("request filesystem source: %d %s", resp.StatusCode, body)
	}
	for path, want := range map[string]string{"/healthcheck": "ok", "/metrics": "cairn_cache_requests_total"} {
		r, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, want %q in\n%.600s", path, r.StatusCode, want, b)
		}
	}
}
