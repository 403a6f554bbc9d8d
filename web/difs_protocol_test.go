package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/web"
)

func sha1hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func (s *difServer) do(t *testing.T, token, method, path, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// postChunks uploads chunks, gzip-compressed when gz.
func (s *difServer) postChunks(t *testing.T, gz bool, chunks ...[]byte) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, c := range chunks {
		field := "file"
		if gz {
			field = "file_gzip"
		}
		w, _ := mw.CreateFormFile(field, sha1hex(c))
		if gz {
			zw := gzip.NewWriter(w)
			zw.Write(c)
			zw.Close()
		} else {
			w.Write(c)
		}
	}
	mw.Close()
	return s.do(t, s.token, "POST", "/api/0/organizations/default/chunk-upload/", mw.FormDataContentType(), &body)
}

type assembleAnswer struct {
	State         string   `json:"state"`
	MissingChunks []string `json:"missingChunks"`
	Detail        *string  `json:"detail"`
	Dif           *struct {
		ID      string `json:"id"`
		DebugID string `json:"debugId"`
		CPUName string `json:"cpuName"`
	} `json:"dif"`
}

// assembleUntilDone posts an assemble request until it settles.
func (s *difServer) assembleUntilDone(t *testing.T, name string, file []byte, chunkSize int) assembleAnswer {
	t.Helper()
	var chunks []string
	for off := 0; off < len(file); off += chunkSize {
		chunks = append(chunks, sha1hex(file[off:min(off+chunkSize, len(file))]))
	}
	sum := sha1hex(file)
	body, _ := json.Marshal(map[string]any{sum: map[string]any{"name": name, "chunks": chunks}})
	for range 200 {
		code, b := s.do(t, s.token, "POST", "/api/0/projects/default/default/files/difs/assemble/", "application/json", bytes.NewReader(body))
		if code != 200 {
			t.Fatalf("assemble: %d %s", code, b)
		}
		var out map[string]assembleAnswer
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		a := out[sum]
		if a.State != "created" && a.State != "assembling" {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("assembly never finished")
	return assembleAnswer{}
}

func TestDebugFileAuth(t *testing.T) {
	s := newDifServer(t, web.DebugFileConfig{})
	ctx := context.Background()
	if code, _ := s.do(t, "", "GET", "/api/0/organizations/default/chunk-upload/", "", nil); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := s.do(t, strings.Repeat("0", 64), "GET", "/api/0/organizations/default/chunk-upload/", "", nil); code != 401 {
		t.Errorf("unknown token: %d, want 401", code)
	}
	// A token of another organization is refused.
	if _, err := s.meta.CreateOrg(ctx, meta.Organization{Slug: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	other, _, err := web.CreateToken(ctx, s.meta, "other", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := s.do(t, other, "GET", "/api/0/organizations/default/chunk-upload/", "", nil); code != 403 {
		t.Errorf("other org's token: %d, want 403", code)
	}
	if code, _ := s.do(t, other, "POST", "/api/0/projects/default/default/files/difs/assemble/", "application/json", strings.NewReader("{}")); code != 403 {
		t.Errorf("other org's token on assemble: %d, want 403", code)
	}
	// A token restricted to another project of the same organization.
	p2, err := s.meta.CreateProject(ctx, meta.Project{OrgID: s.org.ID, Slug: "tool", Name: "Tool"})
	if err != nil {
		t.Fatal(err)
	}
	scoped, tok, err := web.CreateToken(ctx, s.meta, "default", "tool-ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.meta.SetTokenProjects(ctx, tok.ID, []int64{p2.ID}); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.do(t, scoped, "GET", "/api/0/projects/default/default/files/dsyms/", "", nil); code != 403 {
		t.Errorf("token of project tool on project default: %d, want 403", code)
	}
	if code, _ := s.do(t, scoped, "GET", "/api/0/projects/default/tool/files/dsyms/", "", nil); code != 200 {
		t.Errorf("token of project tool on its project: %d, want 200", code)
	}
	// Read-only tokens cannot upload.
	ro, _, err := web.CreateToken(ctx, s.meta, "default", "ro", []string{"project:read"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := s.do(t, ro, "POST", "/api/0/projects/default/default/files/difs/assemble/", "application/json", strings.NewReader("{}")); code != 403 {
		t.Errorf("read-only token on assemble: %d, want 403", code)
	}
}

func TestAssembleStatesAndRejections(t *testing.T) {
	const chunkSize = 64 << 10
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: chunkSize, MaxFileSize: 4 << 20})
	code, b := s.do(t, s.token, "GET", "/api/0/organizations/default/chunk-upload/", "", nil)
	var opts struct {
		URL       string   `json:"url"`
		ChunkSize int      `json:"chunkSize"`
		Accept    []string `json:"accept"`
	}
	if code != 200 || json.Unmarshal(b, &opts) != nil || opts.ChunkSize != chunkSize || !strings.HasPrefix(opts.URL, s.srv.URL) {
		t.Fatalf("chunk-upload options: %d %s", code, b)
	}

	// Not a debug file: a clear detail.
	text := bytes.Repeat([]byte("just some text\n"), 10000)
	a := s.assembleUntilDone(t, "notes.txt", text, chunkSize)
	if a.State != "not_found" || len(a.MissingChunks) != (len(text)+chunkSize-1)/chunkSize {
		t.Fatalf("before upload: %+v", a)
	}
	var chunks [][]byte
	for off := 0; off < len(text); off += chunkSize {
		chunks = append(chunks, text[off:min(off+chunkSize, len(text))])
	}
	if code, b := s.postChunks(t, true, chunks...); code != 200 {
		t.Fatalf("chunks: %d %s", code, b)
	}
	a = s.assembleUntilDone(t, "notes.txt", text, chunkSize)
	if a.State != "error" || a.Detail == nil || !strings.Contains(*a.Detail, "not a debug information file") {
		t.Fatalf("text file: %+v", a)
	}

	// A chunk whose name is not its hash is refused.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", sha1hex([]byte("other")))
	w.Write([]byte("content"))
	mw.Close()
	if code, b := s.do(t, s.token, "POST", "/api/0/organizations/default/chunk-upload/", mw.FormDataContentType(), &body); code != 400 || !strings.Contains(string(b), "checksum mismatch") {
		t.Fatalf("mislabelled chunk: %d %s", code, b)
	}
	// A chunk larger than the chunk size is refused.
	if code, _ := s.postChunks(t, false, make([]byte, chunkSize+1)); code != 413 {
		t.Fatalf("oversized chunk: %d, want 413", code)
	}

	// A real ELF file, sent uncompressed, reaches ok; its id is listed and
	// it can be deleted.
	elf, err := os.ReadFile(fixtures.Get(t, "elf-x86_64-gcc-O2"))
	if err != nil {
		t.Fatal(err)
	}
	chunks = nil
	for off := 0; off < len(elf); off += chunkSize {
		chunks = append(chunks, elf[off:min(off+chunkSize, len(elf))])
	}
	s.postChunks(t, false, chunks...)
	a = s.assembleUntilDone(t, "../../etc/demo", elf, chunkSize)
	if a.State != "ok" || a.Dif == nil || a.Dif.CPUName != "x86_64" {
		t.Fatalf("elf: %+v", a)
	}
	var listed []struct {
		ID         string `json:"id"`
		ObjectName string `json:"objectName"`
	}
	getJSON(t, s, "/api/0/projects/default/default/files/dsyms/?query="+a.Dif.DebugID, &listed)
	if len(listed) != 1 || listed[0].ObjectName != "demo" {
		t.Fatalf("listed %+v; want one file named demo (path elements stripped)", listed)
	}
	if code, b := s.do(t, s.token, "DELETE", "/api/0/projects/default/default/files/dsyms/?id="+listed[0].ID, "", nil); code != 204 {
		t.Fatalf("delete: %d %s", code, b)
	}
	getJSON(t, s, "/api/0/projects/default/default/files/dsyms/?query="+a.Dif.DebugID, &listed)
	if len(listed) != 0 {
		t.Fatalf("still listed after delete: %+v", listed)
	}

	// Files over the maximum size are refused before any chunk is sent.
	big := make([]string, 100)
	for i := range big {
		big[i] = sha1hex([]byte(fmt.Sprint(i)))
	}
	req, _ := json.Marshal(map[string]any{sha1hex([]byte("big")): map[string]any{"name": "big", "chunks": big}})
	_, b = s.do(t, s.token, "POST", "/api/0/projects/default/default/files/difs/assemble/", "application/json", bytes.NewReader(req))
	if !strings.Contains(string(b), "larger than the maximum") {
		t.Fatalf("oversized file: %s", b)
	}
}

func TestProjectQuota(t *testing.T) {
	const chunkSize = 64 << 10
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: chunkSize, ProjectQuota: 1})
	elf, err := os.ReadFile(fixtures.Get(t, "elf-x86_64-gcc-O2"))
	if err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	for off := 0; off < len(elf); off += chunkSize {
		chunks = append(chunks, elf[off:min(off+chunkSize, len(elf))])
	}
	s.postChunks(t, true, chunks...)
	a := s.assembleUntilDone(t, "demo", elf, chunkSize)
	if a.State != "error" || a.Detail == nil || !strings.Contains(*a.Detail, "quota") {
		t.Fatalf("over quota: %+v", a)
	}
}

// Breakpad's symupload form: symbol_file plus identifying fields.
func TestSymupload(t *testing.T) {
	s := newDifServer(t, web.DebugFileConfig{})
	sym := "MODULE Linux x86_64 5B15C193165F4C2B7ECFEA57AB8E00CF0 demo\nINFO CODE_ID 93C1155B5F162B4C7ECFEA57AB8E00CF\nPUBLIC 1000 0 main\n"
	form := func(id string, content string) (string, *bytes.Buffer) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range map[string]string{"debug_file": "demo", "debug_identifier": id, "code_file": "demo", "os": "Linux", "cpu": "x86_64"} {
			mw.WriteField(k, v)
		}
		w, _ := mw.CreateFormFile("symbol_file", "demo.sym")
		io.WriteString(w, content)
		mw.Close()
		return mw.FormDataContentType(), &body
	}
	ct, body := form("5B15C193165F4C2B7ECFEA57AB8E00CF0", sym)
	code, b := s.do(t, "", "POST", "/api/0/projects/default/default/files/symupload/?token="+s.token, ct, body)
	if code != 200 || !strings.HasPrefix(string(b), "OK 5b15c193-165f-4c2b-7ecf-ea57ab8e00cf") {
		t.Fatalf("symupload: %d %s", code, b)
	}
	ct, body = form("00000000000000000000000000000000A", sym)
	if code, b := s.do(t, s.token, "POST", "/api/0/projects/default/default/files/symupload/", ct, body); code != 400 || !strings.Contains(string(b), "does not match") {
		t.Fatalf("mismatched identifier: %d %s", code, b)
	}
	ct, body = form("", "hello")
	if code, b := s.do(t, s.token, "POST", "/api/0/projects/default/default/files/symupload/", ct, body); code != 400 || !strings.Contains(string(b), "not a debug information file") {
		t.Fatalf("not a sym: %d %s", code, b)
	}
}
