package ui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// The Data page holds what a project keeps of the events it receives:
// server-side scrubbing, its extra field names, and whether minidumps are
// deleted once processed.

// maxScrubFields bounds the extra field names: every one is matched
// against every key of every event the project receives.
const maxScrubFields = 50

// maxScrubField bounds the length of one field name.
const maxScrubField = 64

// projectCache is a key cache that can forget a project without a key:
// web.KeyStore is one.
type projectCache interface {
	InvalidateProject(ctx context.Context, projectID int64) error
}

// dataRoutes adds the project's Data settings page.
func (u *UI) dataRoutes() error {
	t, err := template.New("layout.html").Funcs(funcs).Funcs(settingsFuncs).ParseFS(templateFS,
		"templates/layout.html", "templates/settings_parts.html", "templates/data.html")
	if err != nil {
		return fmt.Errorf("web ui: data settings template: %w", err)
	}
	u.pages["data"] = t
	u.mux.HandleFunc("GET /o/{org}/{project}/settings/data", u.authed(u.dataPage))
	u.mux.HandleFunc("POST /o/{org}/{project}/settings/data", u.authed(u.inProject(u.saveData)))
	return nil
}

// dataForm is the page's form, as stored or as the user sent it.
type dataForm struct {
	Scrub         bool
	Fields        string
	DropMinidumps bool
}

func (u *UI) dataData(r *http.Request, c projCtx, f dataForm) map[string]any {
	notice := noticeOf(r)
	if r.URL.Query().Get("done") == "data-saved" {
		notice = "The settings were saved. Ingest on this server applies them at once, other ingest nodes within 30 seconds."
	}
	return map[string]any{"V": viewerOf(r), "P": c, "Form": f, "Notice": notice, "Tab": "data",
		"MaxFields": maxScrubFields, "MaxField": maxScrubField}
}

func (u *UI) dataPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.admin(w); !ok {
		return
	}
	c, ok := u.projectCtx(w, r)
	if !ok {
		return
	}
	p := c.Project
	f := dataForm{Scrub: p.Scrub, Fields: strings.Join(p.ScrubFields, "\n"), DropMinidumps: p.DropMinidumps}
	u.render(w, "data", http.StatusOK, u.dataData(r, c, f))
}

// saveData stores the project's data settings. Ingest caches projects
// like keys: this node forgets the project at once, so the next event is
// scrubbed with the new fields; other nodes follow when their cache entry
// expires. The worker reads DropMinidumps from the store for every batch.
func (u *UI) saveData(w http.ResponseWriter, r *http.Request, a adminStore, c projCtx) {
	ctx := r.Context()
	f := dataForm{Scrub: r.PostFormValue("scrub") == "1", Fields: r.PostFormValue("fields"), DropMinidumps: r.PostFormValue("drop_minidumps") == "1"}
	fields, err := parseScrubFields(f.Fields)
	if err != nil {
		data := u.dataData(r, c, f)
		data["Error"] = err.Error()
		u.render(w, "data", http.StatusBadRequest, data)
		return
	}
	p := c.Project
	p.Scrub, p.ScrubFields, p.DropMinidumps = f.Scrub, fields, f.DropMinidumps
	if err := a.UpdateProjectSettings(ctx, p); err != nil {
		u.fail(w, err)
		return
	}
	if err := u.forgetProject(ctx, p.ID); err != nil {
		u.cfg.Log.Warn("web ui: forget cached project", "project", p.ID, "err", err)
	}
	done(w, r, c.path("data"), "data-saved")
}

// forgetProject drops the project from ingest's cache on this node.
func (u *UI) forgetProject(ctx context.Context, projectID int64) error {
	switch k := u.cfg.Keys.(type) {
	case nil:
		return nil
	case projectCache:
		return k.InvalidateProject(ctx, projectID)
	default:
		// No key changed; an empty public key names no cached key.
		return k.Invalidate(ctx, "", projectID)
	}
}

// parseScrubFields reads the extra field names, one per line. Blank lines
// and repeats (ignoring case, as the scrubber does) are dropped. Names are
// key fragments, so they are kept to the characters keys are made of:
// a stray space or quote would match nothing and hide the mistake.
func parseScrubFields(text string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		name := strings.TrimSpace(line)
		if name == "" {
			continue
		}
		if len(name) > maxScrubField {
			return nil, fmt.Errorf("line %d: a field name has at most %d characters", i+1, maxScrubField)
		}
		for _, ch := range name {
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-' || ch == '.') {
				return nil, fmt.Errorf("line %d: %q: field names use letters, digits, '_', '-' and '.' only", i+1, name)
			}
		}
		if k := strings.ToLower(name); !seen[k] {
			seen[k] = true
			out = append(out, name)
		}
	}
	if len(out) > maxScrubFields {
		return nil, fmt.Errorf("at most %d field names, not %d", maxScrubFields, len(out))
	}
	return out, nil
}
