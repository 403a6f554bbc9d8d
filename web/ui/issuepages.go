package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

// maxMatched bounds the issues an event-data filter (release, environment,
// tags) may select; the list pages through them like any search.
const maxMatched = 10000

// tagSample is how many of an issue's newest events tag distributions
// count, so the detail page costs the same for an issue of any size.
const tagSample = 1000

// search is the parsed search box.
type search struct {
	Status      meta.IssueStatus
	Level       string
	Release     string
	Environment string
	// Tags are key:value terms other than the ones above.
	Tags [][2]string
	Text string
}

// parseSearch reads the search box: is:STATUS, level:LEVEL,
// release:R, environment:E, any other key:value as a tag, and free text on
// the title. Values may be double-quoted to hold spaces. A term whose key
// is not a plain word, such as "std::vector", is text, so C++ names can be
// searched as they are written.
func parseSearch(s string) search {
	var out search
	var words []string
	for _, f := range searchTerms(s) {
		key, value, ok := strings.Cut(f, ":")
		value = unquote(value)
		if !ok || !tagKey(key) || value == "" || strings.HasPrefix(value, ":") {
			words = append(words, unquote(f))
			continue
		}
		switch key {
		case "is":
			switch value {
			case "unresolved", "resolved", "ignored":
				out.Status = meta.IssueStatus(value)
			default:
				// Unknown is: values are kept as text, so nothing typed
				// is silently dropped.
				words = append(words, f)
			}
		case "level":
			out.Level = strings.ToLower(value)
		case "release":
			out.Release = value
		case "environment", "env":
			out.Environment = value
		default:
			out.Tags = append(out.Tags, [2]string{key, value})
		}
	}
	out.Text = strings.Join(words, " ")
	return out
}

// searchTerms splits on spaces outside double quotes.
func searchTerms(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case unicode.IsSpace(r) && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return strings.Trim(s, `"`)
}

// tagKey reports whether s is spelled as a tag key: a letter, then
// letters, digits, '.', '_' or '-'.
func tagKey(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// issueRow is one issue of the list with its sparkline.
type issueRow struct {
	meta.Issue
	Spark *chart
}

func (u *UI) issueList(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	query, ok2 := q["query"]
	text := "is:unresolved"
	if ok2 {
		text = strings.Join(query, " ")
	}
	sort := q.Get("sort")
	switch sort {
	case "date", "new", "freq", "user":
	default:
		sort = "date"
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	s := parseSearch(text)
	ms := meta.IssueSearch{ProjectID: p.ID, Status: s.Status, Level: s.Level, Text: s.Text,
		Sort: sort, Offset: (page - 1) * pageSize, Limit: pageSize}
	var notice string
	none := false
	if s.Release != "" || s.Environment != "" || len(s.Tags) > 0 {
		if m, ok := events.Optional[events.IssueMatcher](u.cfg.Events); ok {
			ids, err := m.MatchIssues(ctx, p.ID, events.IssueFilter{Release: s.Release, Environment: s.Environment, Tags: s.Tags}, maxMatched)
			if err != nil {
				u.fail(w, err)
				return
			}
			ms.IssueIDs, none = ids, len(ids) == 0
		} else {
			ms.Release, ms.Environment = s.Release, s.Environment
			if len(s.Tags) > 0 {
				notice = "This server's event store cannot search tags; tag filters were ignored."
			}
		}
	}
	var list []meta.Issue
	more := false
	if !none {
		var err error
		if list, more, err = u.cfg.Meta.SearchIssues(ctx, ms); err != nil {
			u.fail(w, err)
			return
		}
	}
	rows := make([]issueRow, len(list))
	for i, is := range list {
		rows[i].Issue = is
	}
	if h, ok := events.Optional[events.IssueHistogrammer](u.cfg.Events); ok && len(list) > 0 {
		ids := make([]int64, len(list))
		for i, is := range list {
			ids[i] = is.ID
		}
		from := u.cfg.Now().UTC().Truncate(time.Hour).Add(-23 * time.Hour)
		counts, err := h.CountsByIssue(ctx, p.ID, ids, from, from.Add(24*time.Hour), time.Hour)
		if err != nil {
			u.fail(w, err)
			return
		}
		for i := range rows {
			if bs, ok := counts[rows[i].ID]; ok {
				rows[i].Spark = sparkline(bs)
			}
		}
	}
	link := func(pg int) string {
		return "?" + url.Values{"query": {text}, "sort": {sort}, "page": {strconv.Itoa(pg)}}.Encode()
	}
	data := map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Issues": rows, "Query": text, "Sort": sort, "Page": page,
		"Notice": notice, "CanDelete": u.canDelete(),
		"Sorts": []struct{ Key, Label string }{{"date", "Last seen"}, {"new", "First seen"}, {"freq", "Events"}, {"user", "Users"}}}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if more {
		data["Next"] = link(page + 1)
	}
	data["Back"] = link(page)
	u.render(w, "issues", http.StatusOK, data)
}

// canDelete reports whether both stores can delete, which deleting an
// issue with its events needs.
func (u *UI) canDelete() bool {
	_, m := u.cfg.Meta.(meta.IssueDeleter)
	_, e := events.Optional[events.IssueEventsDeleter](u.cfg.Events)
	return m && e
}

// bulk resolves, ignores, reopens or deletes the selected issues; ids of
// other projects are skipped, whatever the form says. Deleting asks for
// confirmation on a page of its own first, so it works without script.
func (u *UI) bulk(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	action := r.PostFormValue("action")
	var mine []meta.Issue
	for _, s := range r.PostForm["issue"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		is, err := u.cfg.Meta.Issue(ctx, id)
		if errors.Is(err, meta.ErrNotFound) || (err == nil && is.ProjectID != p.ID) {
			continue
		}
		if err != nil {
			u.fail(w, err)
			return
		}
		mine = append(mine, is)
	}
	back := safeNext(r.PostFormValue("back"))
	if action == "delete" {
		if !u.canDelete() {
			http.Error(w, "this server's stores cannot delete issues", http.StatusBadRequest)
			return
		}
		// A deleted issue's page is gone: go back to the list.
		list := fmt.Sprintf("/o/%s/%s/", o.Slug, p.Slug)
		if strings.Contains(back, "/issues/") {
			back = list
		}
		if r.PostFormValue("confirm") != "yes" {
			u.render(w, "confirm", http.StatusOK, map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Issues": mine, "Back": back})
			return
		}
		if err := u.deleteIssues(ctx, p.ID, mine); err != nil {
			u.fail(w, err)
			return
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	status := meta.IssueStatus(action)
	switch status {
	case meta.StatusResolved, meta.StatusIgnored, meta.StatusUnresolved:
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	for _, is := range mine {
		if _, err := u.cfg.Meta.SetIssueStatus(ctx, is.ID, status); err != nil {
			u.fail(w, err)
			return
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// deleteIssues deletes the attachments of the issues' events, then the
// events, then the issues: the attachments are found through the events,
// and the events through the issues. A failure part way leaves what a
// second delete finishes, never attachments or events that nothing leads
// to.
func (u *UI) deleteIssues(ctx context.Context, projectID int64, list []meta.Issue) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	for i, is := range list {
		ids[i] = is.ID
	}
	blobs := 0
	if u.cfg.Blobs != nil {
		var err error
		if blobs, err = u.deleteAttachments(ctx, projectID, ids); err != nil {
			return err
		}
	}
	ed, _ := events.Optional[events.IssueEventsDeleter](u.cfg.Events)
	n, err := ed.DeleteIssueEvents(ctx, projectID, ids)
	if err != nil {
		return fmt.Errorf("web ui: delete issues: %w", err)
	}
	if _, err := u.cfg.Meta.(meta.IssueDeleter).DeleteIssues(ctx, projectID, ids); err != nil {
		return fmt.Errorf("web ui: delete issues: %w", err)
	}
	u.cfg.Log.Info("web ui: issues deleted", "project_id", projectID, "issues", ids, "events", n, "attachments", blobs)
	return nil
}

// attachmentPage is how many events deleteAttachments reads at once.
const attachmentPage = 500

// deleteAttachments deletes the stored attachments (minidumps and others)
// of the issues' events and returns how many keys it deleted. Only keys
// the ingest sink writes for the very event are deleted, as download
// checks them: an event naming another project's blob cannot make a
// delete remove it. Deleting a missing blob is not an error, so a retried
// delete goes through again.
func (u *UI) deleteAttachments(ctx context.Context, projectID int64, ids []int64) (int, error) {
	n := 0
	for _, id := range ids {
		for offset := 0; ; offset += attachmentPage {
			evs, more, err := u.cfg.Events.ListByIssue(ctx, id, offset, attachmentPage)
			if err != nil {
				return n, fmt.Errorf("web ui: delete attachments of issue %d: %w", id, err)
			}
			for _, ev := range evs {
				for _, key := range attachmentKeys(ev, projectID) {
					if err := u.cfg.Blobs.Delete(ctx, key); err != nil {
						return n, fmt.Errorf("web ui: delete attachment %s: %w", key, err)
					}
					n++
				}
			}
			if !more {
				break
			}
		}
	}
	return n, nil
}

// attachmentKeys returns the blob keys of an event's attachments that
// belong to it. Only the attachments are decoded; an event that does not
// decode has none.
func attachmentKeys(ev *events.Event, projectID int64) []string {
	if ev.ProjectID != projectID {
		return nil
	}
	var doc struct {
		Attachments []struct {
			Key string `json:"key"`
		} `json:"attachments"`
	}
	if json.Unmarshal(ev.Data, &doc) != nil {
		return nil
	}
	prefix := fmt.Sprintf("events/%d/%s/", projectID, ev.EventID)
	var out []string
	for _, a := range doc.Attachments {
		if a.Key != "" && strings.HasPrefix(a.Key, prefix) && blob.ValidKey(a.Key) {
			out = append(out, a.Key)
		}
	}
	return out
}

// issueOf resolves {id} to an issue of the project; anything else is a 404.
func (u *UI) issueOf(w http.ResponseWriter, r *http.Request, p meta.Project) (meta.Issue, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var is meta.Issue
	if err == nil {
		is, err = u.cfg.Meta.Issue(r.Context(), id)
	}
	if err != nil || is.ProjectID != p.ID {
		if err == nil || errors.Is(err, meta.ErrNotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
			http.NotFound(w, r)
		} else {
			u.fail(w, err)
		}
		return is, false
	}
	return is, true
}

// option is one choice of a toggle on the page.
type option struct {
	Label, URL string
	Active     bool
}

// tagDist is the distribution of one tag's values over an issue's events.
type tagDist struct {
	Key string
	// Events counts the sampled events that carry the tag.
	Events int64
	Values []tagShare
}

// tagShare is one value of a tag and its share of the events carrying it.
type tagShare struct {
	Value string
	Count int64
	// Percent is rounded; Width is the share for the bar, in percent.
	Percent string
	Width   float64
	// Other marks the row that sums the values not listed.
	Other bool
}

// topValues is how many values of a tag the page lists.
const topValues = 5

func tagDists(counts []events.TagCount) []tagDist {
	var out []tagDist
	for i := 0; i < len(counts); {
		d := tagDist{Key: counts[i].Key}
		j := i
		for ; j < len(counts) && counts[j].Key == d.Key; j++ {
			d.Events += counts[j].Count
		}
		var other int64
		for k, c := range counts[i:j] {
			if k >= topValues {
				other += c.Count
				continue
			}
			d.Values = append(d.Values, share(c.Value, c.Count, d.Events))
		}
		if other > 0 {
			s := share(fmt.Sprintf("%d other values", j-i-topValues), other, d.Events)
			s.Other = true
			d.Values = append(d.Values, s)
		}
		out = append(out, d)
		i = j
	}
	return out
}

func share(value string, n, total int64) tagShare {
	pct := float64(n) * 100 / float64(total)
	s := tagShare{Value: value, Count: n, Width: pct, Percent: fmt.Sprintf("%.0f%%", pct)}
	if pct < 1 {
		s.Percent = "<1%"
	}
	return s
}

func (u *UI) issueDetail(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	is, ok := u.issueOf(w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	// Events are addressed by their position among the issue's events,
	// newest first: prev/next/oldest are then one indexed query each.
	offset, _ := strconv.Atoi(q.Get("offset"))
	if q.Get("offset") == "oldest" {
		offset = int(is.TimesSeen) - 1
	}
	offset = max(offset, 0)
	var ev *events.Event
	var err error
	more := false
	if eid := q.Get("event"); eid != "" {
		ev, err = u.cfg.Events.Get(ctx, p.ID, eid)
		if errors.Is(err, events.ErrNotFound) || (err == nil && ev.IssueID != is.ID) {
			http.NotFound(w, r)
			return
		}
		offset = -1
	} else {
		var evs []*events.Event
		evs, more, err = u.cfg.Events.ListByIssue(ctx, is.ID, offset, 1)
		if err == nil && len(evs) == 0 && offset > 0 {
			// Counts can run ahead of stored events; fall back to the newest.
			offset = 0
			evs, more, err = u.cfg.Events.ListByIssue(ctx, is.ID, 0, 1)
		}
		if len(evs) > 0 {
			ev = evs[0]
		}
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	base := fmt.Sprintf("/o/%s/%s/issues/%d/", o.Slug, p.Slug, is.ID)
	// link keeps the page's other choices (event, view, range) while
	// changing some.
	link := func(set ...string) string {
		v := url.Values{}
		for _, k := range []string{"offset", "event", "view", "range"} {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		for i := 0; i+1 < len(set); i += 2 {
			v.Del(set[i])
			if set[i+1] != "" {
				v.Set(set[i], set[i+1])
			}
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	data := map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Issue": is, "Offset": offset,
		"CanDelete": u.canDelete(), "Base": base,
		"Oldest": link("event", "", "offset", "oldest"), "Newest": link("event", "", "offset", "")}
	if offset > 0 {
		data["Newer"] = link("event", "", "offset", strconv.Itoa(offset-1))
	}
	if more {
		data["Older"] = link("event", "", "offset", strconv.Itoa(offset+1))
	}

	rng := q.Get("range")
	if rng != "14d" {
		rng = "24h"
	}
	data["Ranges"] = []option{{"Last 24 hours", link("range", ""), rng == "24h"}, {"Last 14 days", link("range", "14d"), rng == "14d"}}
	if h, ok := events.Optional[events.Histogrammer](u.cfg.Events); ok {
		now := u.cfg.Now().UTC()
		interval, from := time.Hour, now.Truncate(time.Hour).Add(-23*time.Hour)
		if rng == "14d" {
			interval = 24 * time.Hour
			from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -13)
		}
		n := 24
		if rng == "14d" {
			n = 14
		}
		bs, err := h.CountsByInterval(ctx, p.ID, is.ID, from, from.Add(time.Duration(n)*interval), interval)
		if err != nil {
			u.fail(w, err)
			return
		}
		data["Histogram"] = histogram(bs, interval)
	}
	if tc, ok := events.Optional[events.TagCounter](u.cfg.Events); ok {
		n, counts, err := tc.TagCounts(ctx, p.ID, is.ID, tagSample)
		if err != nil {
			u.fail(w, err)
			return
		}
		data["TagDists"], data["TagSample"] = tagDists(counts), n
	}

	if ev != nil {
		decoded, err := issues.DecodeEvent(ev.Data)
		if err != nil {
			u.cfg.Log.Warn("web ui: undecodable event", "event_id", ev.EventID, "err", err)
			decoded = &issues.Event{EventID: ev.EventID}
		}
		view := newEventView(decoded, o.Slug, p.Slug)
		if u.cfg.Blobs == nil {
			view.Attachments = nil
		}
		data["Event"] = ev
		data["View"] = view
		data["Download"] = fmt.Sprintf("%sevents/%s/attachments/", base, ev.EventID)
		mode := q.Get("view")
		switch mode {
		case "app", "full", "raw", "unsymbolicated":
		default:
			mode = "full"
			if view.HasApp {
				mode = "app"
			}
		}
		data["Mode"] = mode
		var modes []option
		for _, m := range []struct{ key, label string }{{"app", "In-app"}, {"full", "Full"}, {"raw", "Raw"}, {"unsymbolicated", "Unsymbolicated"}} {
			if m.key == "app" && !view.HasApp {
				continue
			}
			modes = append(modes, option{m.label, link("view", m.key), m.key == mode})
		}
		data["Modes"] = modes
	}
	if err := u.addFeedback(ctx, data, base, p, is); err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "issue", http.StatusOK, data)
}

// download streams an attachment of an event to a member of the event's
// organization. The blob key comes from the stored event, so it is checked
// to be one the ingest sink writes for this very event: a key naming
// another project's blob is refused even if an event carried it.
func (u *UI) download(w http.ResponseWriter, r *http.Request) {
	_, p, ok := u.project(w, r)
	if !ok {
		return
	}
	is, ok := u.issueOf(w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	n, err := strconv.Atoi(r.PathValue("n"))
	if u.cfg.Blobs == nil || err != nil || n < 0 {
		http.NotFound(w, r)
		return
	}
	ev, err := u.cfg.Events.Get(ctx, p.ID, r.PathValue("event"))
	if errors.Is(err, events.ErrNotFound) || (err == nil && ev.IssueID != is.ID) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	decoded, err := issues.DecodeEvent(ev.Data)
	if err != nil || n >= len(decoded.Attachments) {
		http.NotFound(w, r)
		return
	}
	a := decoded.Attachments[n]
	if !strings.HasPrefix(a.Key, fmt.Sprintf("events/%d/%s/", p.ID, ev.EventID)) || !blob.ValidKey(a.Key) {
		http.NotFound(w, r)
		return
	}
	rc, err := u.cfg.Blobs.Open(ctx, a.Key)
	if errors.Is(err, blob.ErrNotFound) {
		http.Error(w, "the attachment is no longer stored", http.StatusGone)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	// Served as opaque bytes in a sandbox: an attachment is whatever the
	// crashing client sent, and must never run as a page of this site.
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+safeFilename(a.Name, ev.EventID)+`"`)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	if size, err := u.cfg.Blobs.Size(ctx, a.Key); err == nil {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	if _, err := io.Copy(w, rc); err != nil {
		u.cfg.Log.Warn("web ui: download", "key", a.Key, "err", err)
	}
}

// safeFilename keeps a file name to characters that need no quoting in a
// header and mean nothing to a file system.
func safeFilename(name, eventID string) string {
	name = baseName(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = eventID + ".bin"
	}
	return s
}
