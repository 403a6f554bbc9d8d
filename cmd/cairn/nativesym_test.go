//go:build !cairncli

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/web"
)

// A minidump whose symbols were uploaded first ends as an event whose
// crashing stack is walked and symbolicated from them.
func TestServeSymbolicatesMinidumpFromUploads(t *testing.T) {
	peers := testtools.PeersDir(t)
	s, dir := startTestServer(t)
	tok, _, err := web.CreateToken(context.Background(), s.stores.meta, "default", "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(peers, "breakpad", "symbols", "test_app.pdb", "5A9832E5287241C1838ED98914E9B7FF1", "test_app.sym")
	if out, err := runOut(t, "upload", "--url", s.URL, "--token", tok, "--config", "", "--wait", "--json", sym); err != nil {
		t.Fatalf("cairn upload: %v\n%s", err, out)
	}

	data, err := os.ReadFile(filepath.Join(peers, "breakpad", "minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("upload_file_minidump", "minidump2.dmp")
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(fmt.Sprintf("%s/api/%d/minidump/?sentry_key=%s", s.URL, s.ProjectID, s.Key), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d %s", resp.StatusCode, b)
	}

	api := createToken(t, dir)
	list := waitIssues(t, s.URL, api, func(l []apiIssue) bool { return len(l) == 1 })
	var ev struct {
		Entries []struct {
			Type string
			Data json.RawMessage
		}
	}
	apiGet(t, s.URL, api, "/api/0/issues/"+list[0].ID+"/events/latest/", &ev)
	var exc struct {
		Values []struct {
			Stacktrace struct {
				Frames []struct {
					Function string `json:"function"`
					Filename string `json:"filename"`
					Lineno   int    `json:"lineno"`
					Trust    string `json:"trust"`
				} `json:"frames"`
			} `json:"stacktrace"`
		} `json:"values"`
	}
	for _, e := range ev.Entries {
		if e.Type == "exception" {
			if err := json.Unmarshal(e.Data, &exc); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(exc.Values) != 1 {
		t.Fatalf("exception entry %+v", exc)
	}
	var got []string
	for _, f := range exc.Values[0].Stacktrace.Frames {
		got = append(got, f.Function)
	}
	// Oldest call first; kernel32's symbols were not uploaded.
	if g, want := strings.Join(got, ","), ",__tmainCRTStartup,main,`anonymous namespace'::CrashFunction"; g != want {
		t.Errorf("frames %q, want %q", g, want)
	}
	fr := exc.Values[0].Stacktrace.Frames
	if last := fr[len(fr)-1]; last.Lineno != 58 || last.Trust != "context" {
		t.Errorf("crashing frame %+v", last)
	}
}
