package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// dsymsServer serves a project's debug file list and downloads the way
// Sentry's files/dsyms/ endpoint does, and records the queries asked.
type dsymsServer struct {
	token string
	files []map[string]any
	blobs map[string][]byte
	// ignoreQuery lists every file whatever the query, as a server that
	// does not know debug_id/code_id would.
	ignoreQuery bool
	// jsonDownload answers ?id= with the list, as a server that does not
	// serve downloads would.
	jsonDownload bool
	mu           sync.Mutex
	asked        []string
}

func (s *dsymsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.asked = append(s.asked, r.URL.RawQuery)
	ignoreQuery, jsonDownload := s.ignoreQuery, s.jsonDownload
	s.mu.Unlock()
	if r.URL.Path != "/api/0/projects/o/p/files/dsyms/" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	if id := q.Get("id"); id != "" && !jsonDownload {
		b, ok := s.blobs[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return
	}
	out := []map[string]any{}
	for _, f := range s.files {
		if ignoreQuery || (q.Get("debug_id") != "" && f["debugId"] == q.Get("debug_id")) ||
			(q.Get("debug_id") == "" && q.Get("code_id") != "" && f["codeId"] == q.Get("code_id")) {
			out = append(out, f)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func dif(id, debugID, codeID, name, symbolType, kind string, features ...string) map[string]any {
	return map[string]any{"id": id, "uuid": debugID, "debugId": debugID, "codeId": codeID, "objectName": name,
		"symbolType": symbolType, "cpuName": "x86_64", "data": map[string]any{"type": kind, "features": features}}
}

func newDsymsServer(t *testing.T) (*dsymsServer, *httptest.Server) {
	pe, _, elf, _ := exampleIDs(t)
	s := &dsymsServer{
		token: "tok",
		files: []map[string]any{
			dif("1", pe.DebugID.String(), pe.CodeID, "crash.pdb", "pdb", "dbg", "symtab", "debug", "unwind"),
			dif("2", pe.DebugID.String(), pe.CodeID, "crash.exe", "pe", "exe", "unwind"),
			dif("3", elf.DebugID.String(), elf.CodeID, "libm.so.debug", "elf", "dbg", "symtab", "debug"),
			dif("4", elf.DebugID.String(), elf.CodeID, "libm.so", "elf", "lib", "symtab", "unwind"),
			dif("5", elf.DebugID.String(), elf.CodeID, "libm.so.sym", "breakpad", "dbg", "debug", "unwind"),
		},
		blobs: map[string][]byte{
			"1": []byte("MSF pdb"), "2": gzipped([]byte("MZ exe")), "3": []byte("\x7fELF debug"),
			"4": []byte("\x7fELF code"), "5": []byte("MODULE Linux x86_64"),
		},
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func TestSentrySource(t *testing.T) {
	pe, macho, elf, _ := exampleIDs(t)
	srv, ts := newDsymsServer(t)
	src, err := NewSentry(SentryConfig{ID: "sentry", URL: ts.URL + "/api/0/projects/o/p/files/dsyms/", Token: "tok", AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	cands := src.Candidates(t.Context(), pe, []FileType{FilePDB, FilePE, FileBreakpad})
	if len(cands) != 3 {
		t.Fatalf("candidates %+v", cands)
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(cands[0].Path, "?"))
	if q.Get("debug_id") != pe.DebugID.String() || q.Get("code_id") != pe.CodeID || q.Get("file_type") != "pdb" || cands[0].Type != FilePDB {
		t.Errorf("candidate path %q", cands[0].Path)
	}
	if cands[0].Path == cands[1].Path {
		t.Errorf("file types share a path: %q", cands[0].Path)
	}
	if b, err := download(t, src, cands[0]); err != nil || string(b) != "MSF pdb" {
		t.Errorf("pdb: %q %v", b, err)
	}
	if b, err := download(t, src, cands[1]); err != nil || string(b) != "MZ exe" {
		t.Errorf("gzipped pe: %q %v", b, err)
	}
	if _, err := download(t, src, cands[2]); !errors.Is(err, ErrNotFound) {
		t.Errorf("breakpad for pe: %v", err)
	}
	srv.mu.Lock()
	first := srv.asked[0]
	srv.mu.Unlock()
	if v, _ := url.ParseQuery(first); v.Get("debug_id") != pe.DebugID.String() || v.Get("code_id") != pe.CodeID || v.Has("file_type") {
		t.Errorf("list query %q", first)
	}

	// ELF code and debug files share a symbol type; features and kind
	// tell them apart.
	for _, tc := range []struct {
		t    FileType
		want string
	}{{FileELFDebug, "\x7fELF debug"}, {FileELFCode, "\x7fELF code"}, {FileBreakpad, "MODULE Linux x86_64"}} {
		c := src.Candidates(t.Context(), elf, []FileType{tc.t})
		if len(c) != 1 {
			t.Fatalf("%s candidates %+v", tc.t, c)
		}
		if b, err := download(t, src, c[0]); err != nil || string(b) != tc.want {
			t.Errorf("%s: %q %v", tc.t, b, err)
		}
	}
	// A module the project does not have, and one with no ids at all.
	c := src.Candidates(t.Context(), macho, []FileType{FileMachDebug})
	if _, err := download(t, src, c[0]); StatusOf(err) != StatusNotFound {
		t.Errorf("macho: %v", err)
	}
	if c := src.Candidates(t.Context(), FileID{CodeFile: "a.exe"}, []FileType{FilePE}); len(c) != 0 {
		t.Errorf("no-id candidates %+v", c)
	}
	// Filters apply.
	filtered, _ := NewSentry(SentryConfig{ID: "s", URL: ts.URL, Filters: Filters{FileTypes: []FileType{FilePE}}})
	if c := filtered.Candidates(t.Context(), pe, FileTypesFor(ObjectPE)); len(c) != 1 || c[0].Type != FilePE {
		t.Errorf("filtered %+v", c)
	}

	// Wrong token: permission denied, as HTTP sources report it.
	bad, _ := NewSentry(SentryConfig{ID: "sentry", URL: ts.URL + "/api/0/projects/o/p/files/dsyms/", Token: "wrong", AllowPrivate: true})
	if _, err := download(t, bad, cands[0]); StatusOf(err) != StatusDenied {
		t.Errorf("wrong token: %v", err)
	}
	// Wrong project: not found.
	gone, _ := NewSentry(SentryConfig{ID: "sentry", URL: ts.URL + "/api/0/projects/o/q/files/dsyms/", Token: "tok", AllowPrivate: true})
	if _, err := download(t, gone, cands[0]); StatusOf(err) != StatusNotFound {
		t.Errorf("wrong project: %v", err)
	}
}

func TestSentrySourceDistrustsServer(t *testing.T) {
	pe, macho, _, _ := exampleIDs(t)
	srv, ts := newDsymsServer(t)
	src, _ := NewSentry(SentryConfig{ID: "sentry", URL: ts.URL + "/api/0/projects/o/p/files/dsyms/", Token: "tok", AllowPrivate: true})

	// A server ignoring debug_id lists everything; other modules' files
	// must not be taken for this one.
	srv.mu.Lock()
	srv.ignoreQuery = true
	srv.mu.Unlock()
	c := src.Candidates(t.Context(), macho, []FileType{FileMachDebug})
	if _, err := download(t, src, c[0]); StatusOf(err) != StatusNotFound {
		t.Errorf("ignored query: %v", err)
	}
	c = src.Candidates(t.Context(), pe, []FileType{FilePDB})
	if b, err := download(t, src, c[0]); err != nil || string(b) != "MSF pdb" {
		t.Errorf("ignored query, pdb: %q %v", b, err)
	}
	// A server answering ?id= with the list must not yield a JSON "file".
	srv.mu.Lock()
	srv.jsonDownload = true
	srv.mu.Unlock()
	if _, err := download(t, src, c[0]); err == nil || StatusOf(err) != StatusError || !strings.Contains(err.Error(), "answered with JSON") {
		t.Errorf("json download: %v", err)
	}
	// A list that is not a list is an error, not a miss.
	var garbage bytes.Buffer
	garbage.WriteString("<html>")
	ts2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(garbage.Bytes()) }))
	defer ts2.Close()
	src2, _ := NewSentry(SentryConfig{ID: "s", URL: ts2.URL, AllowPrivate: true})
	if _, err := download(t, src2, c[0]); StatusOf(err) != StatusError || !strings.Contains(err.Error(), "want a JSON array") {
		t.Errorf("html list: %v", err)
	}
}

func TestSentrySourceSSRF(t *testing.T) {
	pe, _, _, _ := exampleIDs(t)
	srv, ts := newDsymsServer(t)
	src, err := NewSentry(SentryConfig{ID: "sentry", URL: ts.URL + "/api/0/projects/o/p/files/dsyms/", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	c := src.Candidates(t.Context(), pe, []FileType{FilePDB})
	if _, err := download(t, src, c[0]); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("loopback reached: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.asked) != 0 {
		t.Errorf("server was asked %q", srv.asked)
	}
	// The same through configuration.
	s, err := ParseConfig([]byte(`{"type":"sentry","id":"s","url":"`+ts.URL+`/api/0/projects/o/p/files/dsyms/","token":"tok"}`), ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := download(t, s, c[0]); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("configured source reached loopback: %v", err)
	}
}

func TestNewSentryRejects(t *testing.T) {
	for _, u := range []string{"", "ftp://x/", "/relative", "http://"} {
		if _, err := NewSentry(SentryConfig{ID: "s", URL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
