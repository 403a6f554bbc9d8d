package web

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// crockford is the alphabet of Sentry's short ids.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ShortID is the issue's short id: the project slug upper-cased and the
// issue's number in the project in base 32, as Sentry writes them.
func ShortID(projectSlug string, seq int64) string {
	if seq <= 0 {
		return strings.ToUpper(projectSlug) + "-0"
	}
	var b []byte
	for n := seq; n > 0; n /= 32 {
		b = append([]byte{crockford[n%32]}, b...)
	}
	return strings.ToUpper(projectSlug) + "-" + string(b)
}

type projectRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Slug     string `json:"slug"`
	Platform string `json:"platform,omitempty"`
}

type releaseRef struct {
	Version string `json:"version"`
}

// issueJSON is an issue as Sentry's API returns it (the fields clients
// read; count is a string there too).
type issueJSON struct {
	ID            string            `json:"id"`
	ShortID       string            `json:"shortId"`
	Title         string            `json:"title"`
	Culprit       string            `json:"culprit"`
	Permalink     string            `json:"permalink"`
	Logger        *string           `json:"logger"`
	Level         string            `json:"level"`
	Status        string            `json:"status"`
	StatusDetails map[string]any    `json:"statusDetails"`
	Substatus     string            `json:"substatus,omitempty"`
	IsPublic      bool              `json:"isPublic"`
	Platform      string            `json:"platform"`
	Project       projectRef        `json:"project"`
	Type          string            `json:"type"`
	IssueType     string            `json:"issueType"`
	IssueCategory string            `json:"issueCategory"`
	Metadata      map[string]string `json:"metadata"`
	NumComments   int               `json:"numComments"`
	AssignedTo    any               `json:"assignedTo"`
	IsBookmarked  bool              `json:"isBookmarked"`
	IsSubscribed  bool              `json:"isSubscribed"`
	HasSeen       bool              `json:"hasSeen"`
	Annotations   []any             `json:"annotations"`
	Count         string            `json:"count"`
	UserCount     int64             `json:"userCount"`
	FirstSeen     string            `json:"firstSeen"`
	LastSeen      string            `json:"lastSeen"`
	FirstRelease  *releaseRef       `json:"firstRelease"`
	LastRelease   *releaseRef       `json:"lastRelease"`
	Environments  []string          `json:"environments"`
	LatestEventID string            `json:"latestEventId,omitempty"`
}

func (a *API) issueJSON(is meta.Issue, org meta.Organization, p meta.Project) issueJSON {
	out := issueJSON{
		ID:            strconv.FormatInt(is.ID, 10),
		ShortID:       ShortID(p.Slug, is.ShortSeq),
		Title:         is.Title,
		Culprit:       is.Culprit,
		Permalink:     fmt.Sprintf("%s/organizations/%s/issues/%d/", a.baseURL, org.Slug, is.ID),
		Level:         is.Level,
		Status:        string(is.Status),
		StatusDetails: map[string]any{},
		Substatus:     is.Substatus,
		Platform:      is.Platform,
		Project:       projectRef{ID: strconv.FormatInt(p.ID, 10), Name: p.Name, Slug: p.Slug, Platform: p.Platform},
		Type:          is.Type,
		IssueType:     "error",
		IssueCategory: "error",
		Metadata:      is.Metadata,
		Annotations:   []any{},
		Count:         strconv.FormatInt(is.TimesSeen, 10),
		UserCount:     is.UserCount,
		FirstSeen:     isoTime(is.FirstSeen),
		LastSeen:      isoTime(is.LastSeen),
		Environments:  is.Environments,
		LatestEventID: is.LastEventID,
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if out.Environments == nil {
		out.Environments = []string{}
	}
	if is.FirstRelease != "" {
		out.FirstRelease = &releaseRef{Version: is.FirstRelease}
	}
	if is.LastRelease != "" {
		out.LastRelease = &releaseRef{Version: is.LastRelease}
	}
	if is.Status == meta.StatusResolved {
		out.StatusDetails["resolvedAt"] = isoTime(is.ResolvedAt)
	}
	return out
}

type tagJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type entryJSON struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// eventJSON renders a stored event as Sentry's event API does: the
// interfaces as "entries", frames in camelCase. full=false gives the
// lighter form of event lists.
func eventJSON(row *events.Event, p meta.Project, full bool) (map[string]any, error) {
	ev, err := issues.DecodeEvent(row.Data)
	if err != nil {
		return nil, fmt.Errorf("web: stored event %s: %w", row.EventID, err)
	}
	tags := []tagJSON{}
	seen := map[string]bool{}
	for _, kv := range ev.Tags {
		tags = append(tags, tagJSON{kv[0], kv[1]})
		seen[kv[0]] = true
	}
	for _, kv := range [][2]string{{"level", ev.Level}, {"environment", ev.Environment}, {"release", ev.Release},
		{"dist", ev.Dist}, {"server_name", ev.ServerName}, {"transaction", ev.Transaction},
		{"os.name", ev.ContextValue("os", "name")}, {"device.arch", ev.ContextValue("device", "arch")}} {
		if kv[1] != "" && !seen[kv[0]] {
			tags = append(tags, tagJSON{kv[0], kv[1]})
		}
	}
	var user any
	if len(ev.User) > 0 {
		user = ev.User
	}
	out := map[string]any{
		"id":           row.EventID,
		"eventID":      row.EventID,
		"groupID":      strconv.FormatInt(row.IssueID, 10),
		"projectID":    strconv.FormatInt(p.ID, 10),
		"title":        ev.Title,
		"message":      ev.Message(),
		"platform":     ev.Platform,
		"type":         ev.Type,
		"culprit":      ev.Culprit,
		"metadata":     ev.Metadata,
		"dateCreated":  isoTime(ev.Timestamp.Time),
		"dateReceived": isoTime(ev.Received.Time),
		"tags":         tags,
		"user":         user,
		"location":     nil,
	}
	if !full {
		return out, nil
	}
	var entries []entryJSON
	if ev.Exception != nil {
		vals := make([]any, len(ev.Exception.Values))
		for i, e := range ev.Exception.Values {
			vals[i] = exceptionJSON(e)
		}
		entries = append(entries, entryJSON{"exception", map[string]any{"values": vals, "hasSystemFrames": true, "excOmitted": nil}})
	}
	if ev.Stacktrace != nil {
		entries = append(entries, entryJSON{"stacktrace", stacktraceJSON(ev.Stacktrace)})
	}
	if ev.Threads != nil {
		vals := make([]any, len(ev.Threads.Values))
		for i, t := range ev.Threads.Values {
			vals[i] = map[string]any{"id": t.ID, "name": nilIfEmpty(t.Name), "crashed": t.Crashed, "current": t.Current,
				"stacktrace": stacktraceJSON(t.Stacktrace)}
		}
		entries = append(entries, entryJSON{"threads", map[string]any{"values": vals}})
	}
	if ev.LogEntry != nil {
		entries = append(entries, entryJSON{"message", map[string]any{"formatted": ev.LogEntry.Text(), "message": ev.LogEntry.Message, "params": ev.LogEntry.Params}})
	}
	if len(ev.Breadcrumbs) > 0 {
		entries = append(entries, entryJSON{"breadcrumbs", json.RawMessage(ev.Breadcrumbs)})
	}
	if len(ev.Request) > 0 {
		entries = append(entries, entryJSON{"request", json.RawMessage(ev.Request)})
	}
	if ev.DebugMeta != nil {
		entries = append(entries, entryJSON{"debugmeta", ev.DebugMeta})
	}
	if entries == nil {
		entries = []entryJSON{}
	}
	out["entries"] = entries
	out["contexts"] = orEmpty(ev.Contexts)
	out["context"] = orEmpty(ev.Extra)
	out["packages"] = orEmpty(ev.Modules)
	out["sdk"] = rawOrNil(ev.SDK)
	out["fingerprints"] = ev.Hashes
	out["errors"] = orEmptyList(ev.Errors)
	out["dist"] = nilIfEmpty(ev.Dist)
	out["release"] = nil
	if ev.Release != "" {
		out["release"] = releaseRef{Version: ev.Release}
	}
	out["environment"] = nilIfEmpty(ev.Environment)
	out["grouping"] = ev.Grouping
	out["attachments"] = orEmptyList(ev.Attachments)
	return out, nil
}

func exceptionJSON(e *issues.Exception) map[string]any {
	out := map[string]any{"type": e.Type, "value": e.Value, "module": nilIfEmpty(e.Module), "threadId": e.ThreadID,
		"mechanism": e.Mechanism, "stacktrace": stacktraceJSON(e.Stacktrace), "rawStacktrace": stacktraceJSON(e.RawStacktrace)}
	return out
}

func stacktraceJSON(st *issues.Stacktrace) any {
	if st == nil {
		return nil
	}
	frames := make([]map[string]any, len(st.Frames))
	for i, f := range st.Frames {
		frames[i] = frameJSON(f)
	}
	regs := map[string]string{}
	for k, v := range st.Registers {
		regs[k] = fmt.Sprintf("0x%016x", v.N)
	}
	return map[string]any{"frames": frames, "registers": regs, "framesOmitted": nil, "hasSystemFrames": true}
}

// frameJSON spells a frame as Sentry's API does (camelCase).
func frameJSON(f *issues.Frame) map[string]any {
	addr := func(a issues.Addr) any {
		if !a.Set {
			return nil
		}
		return fmt.Sprintf("0x%x", a.N)
	}
	var lineNo, colNo any
	if f.Lineno > 0 {
		lineNo = f.Lineno
	}
	if f.Colno > 0 {
		colNo = f.Colno
	}
	inApp := false
	if f.InApp != nil {
		inApp = *f.InApp
	}
	var context []any
	for i, l := range f.PreContext {
		context = append(context, []any{f.Lineno - len(f.PreContext) + i, l})
	}
	if f.ContextLine != "" {
		context = append(context, []any{f.Lineno, f.ContextLine})
	}
	for i, l := range f.PostContext {
		context = append(context, []any{f.Lineno + 1 + i, l})
	}
	if context == nil {
		context = []any{}
	}
	return map[string]any{
		"function": nilIfEmpty(f.Function), "rawFunction": nilIfEmpty(f.RawFunction), "symbol": nilIfEmpty(f.Symbol),
		"module": nilIfEmpty(f.Module), "package": nilIfEmpty(f.Package), "filename": nilIfEmpty(f.Filename),
		"absPath": nilIfEmpty(f.AbsPath), "lineNo": lineNo, "colNo": colNo, "inApp": inApp,
		"instructionAddr": addr(f.InstructionAddr), "symbolAddr": addr(f.SymbolAddr), "trust": nilIfEmpty(f.Trust),
		"addrMode": nilIfEmpty(f.AddrMode), "platform": nilIfEmpty(f.Platform), "context": context, "vars": f.Vars,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty[M ~map[K]V, K comparable, V any](m M) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orEmptyList[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

func rawOrNil(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
