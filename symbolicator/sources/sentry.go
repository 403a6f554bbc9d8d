package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

// SentryConfig configures a "sentry" source: a Sentry server's list of the
// debug files uploaded to one project.
type SentryConfig struct {
	ID string
	// URL is the project's debug files endpoint,
	// "https://sentry.example/api/0/projects/{org}/{project}/files/dsyms/".
	URL     string
	Token   string
	Filters Filters
	// AllowPrivate is HTTPConfig.AllowPrivate.
	AllowPrivate bool
	// Timeout bounds one request (the list or a whole download); zero
	// means 5 minutes.
	Timeout time.Duration
}

// Sentry is a Sentry server's debug file store, asked the way Symbolicator's
// "sentry" source asks it: "GET {url}?debug_id=&code_id=" lists the files
// of the module and "GET {url}?id=" downloads one of them.
//
// What the server holds is only known after a query, so Candidates lists
// one location per allowed file type whose Path is that query, and Fetch
// runs the query, picks the first listed file of the location's type and
// downloads it.
type Sentry struct {
	cfg    SentryConfig
	base   *url.URL
	client *http.Client
}

// maxSentryList bounds the JSON file list read from a server.
const maxSentryList = 16 << 20

// NewSentry validates cfg and returns the source.
func NewSentry(cfg SentryConfig) (*Sentry, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sources: %s: url: %w", cfg.ID, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sources: %s: url %q is not an absolute http(s) URL", cfg.ID, cfg.URL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	return &Sentry{cfg: cfg, base: u, client: newClient(cfg.AllowPrivate, cfg.Timeout)}, nil
}

// ID implements Source.
func (s *Sentry) ID() string { return s.cfg.ID }

// Candidates implements Source: one location per allowed type, with the
// query as its path ("?debug_id=…&code_id=…&file_type=pdb"). A module with
// neither a debug id nor a code id has none, since an empty query would
// list every file of the project.
func (s *Sentry) Candidates(_ context.Context, id FileID, types []FileType) []Location {
	q := url.Values{}
	if !id.DebugID.IsZero() {
		q.Set("debug_id", id.DebugID.String())
	}
	if id.CodeID != "" {
		q.Set("code_id", strings.ToLower(id.CodeID))
	}
	if len(q) == 0 {
		return nil
	}
	var out []Location
	for _, t := range types {
		if !s.cfg.Filters.Allows(id, t) {
			continue
		}
		q.Set("file_type", t.String())
		out = append(out, Location{SourceID: s.cfg.ID, Type: t, Path: "?" + q.Encode()})
	}
	return out
}

// sentryFile is one entry of Sentry's debug file list.
type sentryFile struct {
	ID         json.RawMessage `json:"id"`
	UUID       string          `json:"uuid"`
	DebugID    string          `json:"debugId"`
	CodeID     *string         `json:"codeId"`
	ObjectName string          `json:"objectName"`
	SymbolType string          `json:"symbolType"`
	CPUName    string          `json:"cpuName"`
	Data       struct {
		Type     string   `json:"type"`
		Features []string `json:"features"`
	} `json:"data"`
}

// fileID is the entry's id as a string; Sentry sends a string, older
// servers a number.
func (f *sentryFile) fileID() string {
	var s string
	if json.Unmarshal(f.ID, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(f.ID))
}

// serves reports whether the entry can stand for a file of type t. ELF,
// Mach-O and Wasm entries are one symbol type for code and debug files:
// the "debug" feature makes a debug file, and an executable or library
// (or an entry without debug info) a code file.
func (f *sentryFile) serves(t FileType) bool {
	debug := slices.Contains(f.Data.Features, "debug")
	code := f.Data.Type == "exe" || f.Data.Type == "lib" || (f.Data.Type == "" && !debug)
	switch strings.ToLower(f.SymbolType) {
	case "pdb":
		return t == FilePDB
	case "pe":
		return t == FilePE
	case "breakpad":
		return t == FileBreakpad
	case "sourcebundle":
		return t == FileSourceBundle
	case "elf":
		return (t == FileELFDebug && debug) || (t == FileELFCode && code)
	case "macho":
		return (t == FileMachDebug && debug) || (t == FileMachCode && code)
	case "wasm":
		return (t == FileWasmDebug && debug) || (t == FileWasmCode && code)
	}
	return false
}

// matches reports whether the entry belongs to the module asked for, so a
// server that ignores the query parameters cannot hand over another
// module's file. Entries without ids are trusted to the server's query.
func (f *sentryFile) matches(q url.Values) bool {
	if want := q.Get("debug_id"); want != "" {
		for _, have := range []string{f.DebugID, f.UUID} {
			if have == "" {
				continue
			}
			hid, err := debugid.Parse(have)
			return err == nil && hid.String() == want
		}
		return true
	}
	if want := q.Get("code_id"); want != "" && f.CodeID != nil && *f.CodeID != "" {
		return strings.EqualFold(*f.CodeID, want)
	}
	return true
}

// Fetch implements Source.
func (s *Sentry) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	q, err := url.ParseQuery(strings.TrimPrefix(loc.Path, "?"))
	if err != nil {
		return fmt.Errorf("sources: %s: location %q: %w", s.cfg.ID, loc.Path, err)
	}
	files, err := s.list(ctx, loc, q)
	if err != nil {
		return err
	}
	for i := range files {
		f := &files[i]
		if !f.serves(loc.Type) || !f.matches(q) || f.fileID() == "" {
			continue
		}
		return s.download(ctx, loc, f.fileID(), w)
	}
	return fmt.Errorf("sources: %s: %s: no %s listed: %w", s.cfg.ID, loc.Path, loc.Type, ErrNotFound)
}

// list runs the file query of loc.
func (s *Sentry) list(ctx context.Context, loc Location, q url.Values) ([]sentryFile, error) {
	sq := url.Values{}
	for _, k := range []string{"debug_id", "code_id"} {
		if v := q.Get(k); v != "" {
			sq.Set(k, v)
		}
	}
	if len(sq) == 0 {
		return nil, fmt.Errorf("sources: %s: location %q has no debug_id or code_id: %w", s.cfg.ID, loc.Path, ErrNotFound)
	}
	resp, err := s.get(ctx, loc, sq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var files []sentryFile
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxSentryList))
	if err := dec.Decode(&files); err != nil {
		return nil, fmt.Errorf("sources: %s: %s: file list: want a JSON array of debug files: %w", s.cfg.ID, loc.Path, err)
	}
	return files, nil
}

// download writes the file with Sentry id fileID to w.
func (s *Sentry) download(ctx context.Context, loc Location, fileID string, w io.Writer) error {
	resp, err := s.get(ctx, loc, url.Values{"id": {fileID}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// A server that does not serve downloads by ?id= answers with the
	// file list again; refuse to store JSON as a debug file.
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "application/json" {
		return fmt.Errorf("sources: %s: %s: download of file %s answered with JSON, not the file (does the server serve ?id= downloads?)", s.cfg.ID, loc.Path, fileID)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("sources: %s: download file %s: %w", s.cfg.ID, fileID, err)
	}
	return nil
}

// get sends GET {url}?query with the token, mapping statuses as HTTP
// sources do. The caller closes the body of a nil-error response.
func (s *Sentry) get(ctx context.Context, loc Location, query url.Values) (*http.Response, error) {
	u := *s.base
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sources: %s: %w", s.cfg.ID, err)
	}
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbiddenAddress) {
			return nil, fmt.Errorf("sources: %s: %s: %w", s.cfg.ID, loc.Path, err)
		}
		return nil, fmt.Errorf("sources: %s: GET ?%s: %w", s.cfg.ID, u.RawQuery, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		err = fmt.Errorf("sources: %s: GET ?%s: %w", s.cfg.ID, u.RawQuery, ErrNotFound)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		err = fmt.Errorf("sources: %s: GET ?%s: HTTP %d: %w", s.cfg.ID, u.RawQuery, resp.StatusCode, ErrDenied)
	default:
		err = fmt.Errorf("sources: %s: GET ?%s: HTTP %s", s.cfg.ID, u.RawQuery, resp.Status)
	}
	resp.Body.Close()
	return nil, err
}
