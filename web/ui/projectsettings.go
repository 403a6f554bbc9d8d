package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/store"
	"github.com/cairn-dev/cairn/web"
)

// projCtx is a project settings page's subject and the viewer's role.
type projCtx struct {
	Org     meta.Organization
	Project meta.Project
	Role    meta.Role
	// Manage is whether the viewer may change the settings; others read
	// them.
	Manage bool
}

// projectCtx resolves {org}/{project} as the issue pages do (members
// without access get 404) and, for POSTs, requires a managing role.
func (u *UI) projectCtx(w http.ResponseWriter, r *http.Request) (projCtx, bool) {
	o, p, ok := u.project(w, r)
	if !ok {
		return projCtx{}, false
	}
	role, err := u.role(r.Context(), viewerOf(r), o.ID)
	if err != nil {
		u.fail(w, err)
		return projCtx{}, false
	}
	c := projCtx{Org: o, Project: p, Role: role, Manage: role.Manages()}
	if r.Method == http.MethodPost && !c.Manage {
		http.Error(w, "only owners and managers may change project settings", http.StatusForbidden)
		return c, false
	}
	return c, true
}

// inProject runs a project settings handler that needs the account store:
// the project resolved as projectCtx does, for a member allowed to see it.
func (u *UI) inProject(h func(http.ResponseWriter, *http.Request, adminStore, projCtx)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := u.admin(w)
		if !ok {
			return
		}
		c, ok := u.projectCtx(w, r)
		if !ok {
			return
		}
		h(w, r, a, c)
	}
}

func (c projCtx) path(tab string) string {
	return "/o/" + c.Org.Slug + "/" + c.Project.Slug + "/settings/" + tab
}

func (u *UI) projectSettings(w http.ResponseWriter, r *http.Request) {
	c, ok := u.projectCtx(w, r)
	if !ok {
		return
	}
	http.Redirect(w, r, c.path("keys"), http.StatusSeeOther)
}

// keyRow is a DSN key with its DSN.
type keyRow struct {
	meta.Key
	DSN string
}

func (u *UI) keysData(r *http.Request, c projCtx) (map[string]any, error) {
	keys, err := u.cfg.Meta.ListKeys(r.Context(), c.Project.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{k, web.DSN(u.baseURL(r), k.Public, c.Project.ID)}
	}
	return map[string]any{"V": viewerOf(r), "P": c, "Keys": rows, "Notice": noticeOf(r), "Tab": "keys"}, nil
}

func (u *UI) keys(w http.ResponseWriter, r *http.Request) {
	c, ok := u.projectCtx(w, r)
	if !ok {
		return
	}
	data, err := u.keysData(r, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "keys", http.StatusOK, data)
}

// editKeys creates, renames, disables, enables or deletes a key. Ingest
// caches keys (30 seconds in cairn serve): this node forgets the edited
// key at once, other nodes when their cache entry expires.
func (u *UI) editKeys(w http.ResponseWriter, r *http.Request, a adminStore, c projCtx) {
	ctx := r.Context()
	action := r.PostFormValue("action")
	label := strings.TrimSpace(r.PostFormValue("label"))
	if len(label) > 100 {
		http.Error(w, "a key's name has at most 100 characters", http.StatusBadRequest)
		return
	}
	if action == "create" {
		if label == "" {
			label = "Key"
		}
		if _, err := web.CreateKey(ctx, u.cfg.Meta, c.Project.ID, label); err != nil {
			u.fail(w, err)
			return
		}
		done(w, r, c.path("keys"), "key-created")
		return
	}
	id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	keys, err := u.cfg.Meta.ListKeys(ctx, c.Project.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	var k meta.Key
	for _, x := range keys {
		if x.ID == id {
			k = x
		}
	}
	if k.ID == 0 {
		http.NotFound(w, r)
		return
	}
	notice := "key-saved"
	switch action {
	case "rename":
		k.Label = label
		err = a.UpdateKey(ctx, k)
	case "disable", "enable":
		k.Disabled = action == "disable"
		err = a.UpdateKey(ctx, k)
	case "delete":
		err, notice = a.DeleteKey(ctx, c.Project.ID, k.ID), "key-deleted"
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	if u.cfg.Keys != nil {
		if err := u.cfg.Keys.Invalidate(ctx, k.Public, c.Project.ID); err != nil {
			u.cfg.Log.Warn("web ui: forget cached key", "err", err)
		}
	}
	done(w, r, c.path("keys"), notice)
}

// sourceRow is one configured symbol source as the list shows it.
type sourceRow struct {
	ID, Type, Where, Layout string
}

// sourceFields are the keys the list shows of a source's JSON.
type sourceFields struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	Path   string `json:"path"`
	Layout struct {
		Type string `json:"type"`
	} `json:"layout"`
}

// loadSources reads the project's sources as raw objects.
func loadSources(ctx context.Context, a adminStore, projectID int64) ([]json.RawMessage, error) {
	raw, err := a.ProjectSources(ctx, projectID)
	if err != nil {
		return nil, err
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("web ui: stored sources of project %d: %w", projectID, err)
	}
	return list, nil
}

func fieldsOf(raw json.RawMessage) sourceFields {
	var f sourceFields
	_ = json.Unmarshal(raw, &f)
	return f
}

func pretty(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// sourceExample is the editor's starting point: Microsoft's public
// symbol server.
const sourceExample = `{
  "id": "microsoft",
  "type": "http",
  "url": "https://msdl.microsoft.com/download/symbols/",
  "layout": {"type": "symstore"},
  "filters": {"filetypes": ["pe", "pdb"]}
}`

// sourceOptions are the rules user-entered sources follow: the SSRF guard
// (unless the server turns it off for tests), no server credentials, and
// filesystem sources for owners only, since they read the server's disk.
func (u *UI) sourceOptions(role meta.Role) sources.ConfigOptions {
	return sources.ConfigOptions{AllowPrivate: u.cfg.AllowPrivateSources, AllowFilesystem: role == meta.RoleOwner, HTTPTimeout: 15 * time.Second}
}

func (u *UI) sourcesData(r *http.Request, a adminStore, c projCtx) (map[string]any, []json.RawMessage, error) {
	list, err := loadSources(r.Context(), a, c.Project.ID)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]sourceRow, len(list))
	for i, raw := range list {
		f := fieldsOf(raw)
		where := f.URL
		switch f.Type {
		case "s3", "gcs":
			where = f.Type + "://" + f.Bucket + "/" + f.Prefix
		case "filesystem":
			where = f.Path
		}
		layout := f.Layout.Type
		if layout == "" {
			layout = "native"
		}
		if f.Type == "sentry" {
			layout = ""
		}
		rows[i] = sourceRow{f.ID, f.Type, where, layout}
	}
	data := map[string]any{"V": viewerOf(r), "P": c, "Sources": rows, "Notice": noticeOf(r), "Tab": "sources",
		"Config": sourceExample, "Owner": c.Role == meta.RoleOwner}
	if id := r.URL.Query().Get("edit"); id != "" {
		for _, raw := range list {
			if fieldsOf(raw).ID == id {
				data["Config"], data["Orig"] = pretty(raw), id
			}
		}
	}
	return data, list, nil
}

func (u *UI) sourcesPage(w http.ResponseWriter, r *http.Request, a adminStore, c projCtx) {
	data, _, err := u.sourcesData(r, a, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "sources", http.StatusOK, data)
}

// editSources saves (adds or replaces), removes or tests a source. A
// source is validated by the parser the worker uses, so what is saved is
// what the worker will accept.
func (u *UI) editSources(w http.ResponseWriter, r *http.Request, a adminStore, c projCtx) {
	ctx := r.Context()
	data, list, err := u.sourcesData(r, a, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	orig := r.PostFormValue("orig")
	switch r.PostFormValue("action") {
	case "save":
		text := r.PostFormValue("config")
		data["Config"], data["Orig"] = text, orig
		raw, err := u.checkSource([]byte(text), c.Role)
		if err != nil {
			data["Error"] = err.Error()
			u.render(w, "sources", http.StatusBadRequest, data)
			return
		}
		id := fieldsOf(raw).ID
		replaced := false
		for i, old := range list {
			switch fieldsOf(old).ID {
			case orig:
				list[i], replaced = raw, true
			case id:
				data["Error"] = fmt.Sprintf("Another source already has the id %q; ids must be unique.", id)
				u.render(w, "sources", http.StatusBadRequest, data)
				return
			}
		}
		if !replaced {
			list = append(list, raw)
		}
	case "remove":
		kept := list[:0]
		for _, raw := range list {
			if fieldsOf(raw).ID != r.PostFormValue("id") {
				kept = append(kept, raw)
			}
		}
		list = kept
	case "test":
		var raw json.RawMessage
		if text := r.PostFormValue("config"); text != "" {
			raw = json.RawMessage(text)
			data["Config"], data["Orig"] = text, orig
		}
		for _, s := range list {
			if raw == nil && fieldsOf(s).ID == r.PostFormValue("id") {
				raw = s
			}
		}
		if raw == nil {
			http.NotFound(w, r)
			return
		}
		data["Test"] = u.testSource(ctx, raw, c.Role)
		u.render(w, "sources", http.StatusOK, data)
		return
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	b, err := json.Marshal(list)
	if err != nil {
		u.fail(w, err)
		return
	}
	if err := a.SetProjectSources(ctx, c.Project.ID, b); err != nil {
		u.fail(w, err)
		return
	}
	notice := "source-saved"
	if r.PostFormValue("action") == "remove" {
		notice = "source-removed"
	}
	done(w, r, c.path("sources"), notice)
}

// checkSource validates one source object and returns it compacted.
func (u *UI) checkSource(text []byte, role meta.Role) (json.RawMessage, error) {
	var obj map[string]any
	if err := json.Unmarshal(text, &obj); err != nil {
		return nil, fmt.Errorf("The configuration is not a JSON object: %v", err)
	}
	if _, err := sources.ParseConfig(text, u.sourceOptions(role)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, text); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// testResult is what "Test connection" found.
type testResult struct {
	Source string
	// Class is "ok", "denied" or "error", for the result's colour.
	Class    string
	Summary  string
	Location string
	Detail   string
	Took     string
}

// testDebugID is a debug id no real file has: asking a source for it
// shows whether the source answers, without downloading anything.
const testDebugID = "c0ffee00-ca1f-4e57-8000-00000000c41d-1"

// probe is a writer that stops a download early: a source that (against
// all odds) has a file for the made-up id does not send it whole.
type probe struct{ n int }

var errProbeFull = errors.New("file found; download stopped")

func (p *probe) Write(b []byte) (int, error) {
	p.n += len(b)
	if p.n > 64<<10 {
		return 0, errProbeFull
	}
	return len(b), nil
}

// testSource looks up one made-up module in the source: "not found" means
// the source was reached and answered; denied and errors are shown with
// their details.
func (u *UI) testSource(ctx context.Context, raw json.RawMessage, role meta.Role) testResult {
	res := testResult{Source: fieldsOf(raw).ID}
	src, err := sources.ParseConfig(raw, u.sourceOptions(role))
	if err != nil {
		res.Class, res.Summary, res.Detail = "error", "The configuration is not valid.", err.Error()
		return res
	}
	id, err := debugid.Parse(testDebugID)
	if err != nil {
		res.Class, res.Summary, res.Detail = "error", "Internal error.", err.Error()
		return res
	}
	var locs []sources.Location
	for _, o := range []sources.ObjectType{sources.ObjectPE, sources.ObjectELF, sources.ObjectMachO} {
		fid := sources.FileID{DebugID: id, CodeID: "c0ffee00c41d", DebugFile: "cairn-connection-test.pdb",
			CodeFile: "cairn-connection-test.dll", Object: o}
		if locs = src.Candidates(ctx, fid, sources.FileTypesFor(o)); len(locs) > 0 {
			break
		}
	}
	if len(locs) == 0 {
		res.Class, res.Summary = "error", "The source's filters and layout produce no path to look at; nothing was fetched."
		return res
	}
	res.Location = locs[0].Path
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	err = src.Fetch(tctx, locs[0], &probe{})
	res.Took = fmt.Sprintf("%d ms", max(time.Since(start).Milliseconds(), 1))
	switch sources.StatusOf(err) {
	case sources.StatusNotFound:
		res.Class, res.Summary = "ok", "Reachable: the source answered “not found” for a made-up debug id, as it should."
	case sources.StatusFound:
		res.Class, res.Summary = "ok", "Reachable: the source returned a file for a made-up debug id. Check its layout."
	case sources.StatusDenied:
		res.Class, res.Summary, res.Detail = "denied", "Access denied: check the source's credentials.", err.Error()
	default:
		if errors.Is(err, errProbeFull) {
			res.Class, res.Summary = "ok", "Reachable: the source returned a file for a made-up debug id. Check its layout."
			break
		}
		res.Class, res.Summary, res.Detail = "error", "The source could not be reached.", err.Error()
	}
	return res
}

// fileRow is one debug file as the list shows it.
type fileRow struct {
	meta.DebugFile
	SizeText string
}

// humanSize writes a byte count as the file lists of operating systems do.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// debugIndex returns the debug-file index, answering 501 without one.
func (u *UI) debugIndex(w http.ResponseWriter) (meta.DebugFiles, bool) {
	idx, ok := u.cfg.Meta.(meta.DebugFiles)
	if !ok {
		http.Error(w, "this server's metadata store has no debug-file index", http.StatusNotImplemented)
	}
	return idx, ok
}

// findFiles searches by debug id, then code id, then a substring of the
// name, debug id or code id.
func findFiles(ctx context.Context, idx meta.DebugFiles, projectID int64, query string) ([]meta.DebugFile, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return idx.ListDebugFiles(ctx, projectID, meta.DebugFileQuery{Limit: 200})
	}
	if id, err := debugid.Parse(query); err == nil {
		files, err := idx.ListDebugFiles(ctx, projectID, meta.DebugFileQuery{DebugID: id.String(), Limit: 200})
		if err != nil || len(files) > 0 {
			return files, err
		}
	}
	files, err := idx.ListDebugFiles(ctx, projectID, meta.DebugFileQuery{CodeID: strings.ToLower(query), Limit: 200})
	if err != nil || len(files) > 0 {
		return files, err
	}
	all, err := idx.ListDebugFiles(ctx, projectID, meta.DebugFileQuery{Limit: 5000})
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(query)
	var out []meta.DebugFile
	for _, f := range all {
		if strings.Contains(strings.ToLower(f.Name), q) || strings.Contains(f.DebugID, q) || strings.Contains(f.CodeID, q) {
			out = append(out, f)
		}
	}
	return out, nil
}

func (u *UI) debugFiles(w http.ResponseWriter, r *http.Request) {
	idx, ok := u.debugIndex(w)
	if !ok {
		return
	}
	c, ok := u.projectCtx(w, r)
	if !ok {
		return
	}
	query := r.URL.Query().Get("query")
	files, err := findFiles(r.Context(), idx, c.Project.ID, query)
	if err != nil {
		u.fail(w, err)
		return
	}
	rows := make([]fileRow, len(files))
	for i, f := range files {
		rows[i] = fileRow{f, humanSize(f.Size)}
	}
	total, err := idx.DebugFileBytes(r.Context(), c.Project.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "debugfiles", http.StatusOK, map[string]any{"V": viewerOf(r), "P": c, "Files": rows, "Query": query,
		"Total": humanSize(total), "Notice": noticeOf(r), "Tab": "debug-files", "CanDelete": c.Manage && u.cfg.Blobs != nil})
}

// deleteDebugFile deletes one object the way the API's DELETE does,
// freeing the bytes when no other row refers to them.
func (u *UI) deleteDebugFile(w http.ResponseWriter, r *http.Request) {
	idx, ok := u.debugIndex(w)
	if !ok {
		return
	}
	c, ok := u.projectCtx(w, r)
	if !ok {
		return
	}
	if u.cfg.Blobs == nil {
		http.Error(w, "this server has no blob store configured for the web interface", http.StatusNotImplemented)
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	files, err := idx.ListDebugFiles(r.Context(), c.Project.ID, meta.DebugFileQuery{ID: id})
	if err != nil {
		u.fail(w, err)
		return
	}
	if len(files) == 0 {
		http.NotFound(w, r)
		return
	}
	st := &store.Store{Blobs: u.cfg.Blobs, Index: idx}
	if err := st.Delete(r.Context(), c.Project.ID, files[0]); err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, c.path("debug-files"), "file-deleted")
}
