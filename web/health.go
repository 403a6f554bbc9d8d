package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/meta"
)

// This file serves the release-health side of the API in Sentry's shapes:
// user feedback (/projects/{org}/{project}/user-feedback/), sessions
// (/organizations/{org}/sessions/, a subset of Sentry's sessions API) and
// client-report outcomes (/organizations/{org}/stats_v2/, the subset of
// Sentry's stats_v2 that client reports can answer: the outcomes SDKs
// report, not the server's accepted counts).

// maxIntervals bounds the series of one query.
const maxIntervals = 1000

var errUnsupported = &httpError{http.StatusNotFound, "This server's metadata store does not keep this data."}

func (a *API) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/user-feedback/", a.authed("project:read", a.userFeedback))
	mux.HandleFunc("GET /api/0/organizations/{org}/sessions/", a.authed("org:read", a.sessions))
	mux.HandleFunc("GET /api/0/organizations/{org}/stats_v2/", a.authed("org:read", a.statsV2))
}

func (a *API) userFeedback(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	_, p, err := a.project(r.Context(), tok, r.PathValue("org"), r.PathValue("project"))
	if err != nil {
		return err
	}
	fb, ok := a.meta.(meta.Feedback)
	if !ok {
		return errUnsupported
	}
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	if err := issues.LinkUserReports(r.Context(), fb, a.events, p.ID); err != nil {
		return err
	}
	list, more, err := fb.ListUserReports(r.Context(), meta.UserReportQuery{ProjectID: p.ID, Offset: offset, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, rep := range list {
		v := map[string]any{"id": rep.EventID, "eventID": rep.EventID, "name": rep.Name, "email": rep.Email,
			"comments": rep.Comments, "dateCreated": isoTime(rep.CreatedAt), "user": nil, "event": map[string]string{"id": rep.EventID, "eventID": rep.EventID},
			"issue": nil}
		if rep.IssueID != 0 {
			v["issue"] = map[string]string{"id": strconv.FormatInt(rep.IssueID, 10),
				"permalink": fmt.Sprintf("%s/o/%s/%s/issues/%d/", a.baseURL, r.PathValue("org"), p.Slug, rep.IssueID)}
		}
		out = append(out, v)
	}
	setLink(w, r, offset, limit, more)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parsePeriod reads Sentry's period syntax: a number and a unit among s, m,
// h, d, w.
func parsePeriod(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid period %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid period %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("invalid period %q", s)
	}
	return time.Duration(n) * unit, nil
}

// timeWindow reads statsPeriod or start/end and interval as Sentry does:
// the range is widened to whole intervals. Counts are kept per hour, so
// intervals are whole hours.
func timeWindow(r *http.Request, now time.Time) (start, end time.Time, interval time.Duration, err error) {
	q := r.URL.Query()
	interval = time.Hour
	if v := q.Get("interval"); v != "" {
		if interval, err = parsePeriod(v); err != nil {
			return start, end, 0, &httpError{http.StatusBadRequest, err.Error()}
		}
	}
	if interval < time.Hour || interval%time.Hour != 0 {
		return start, end, 0, &httpError{http.StatusBadRequest, "interval must be a whole number of hours (counts are kept per hour)"}
	}
	if v := q.Get("start"); v != "" {
		if start, err = time.Parse(time.RFC3339, v); err != nil {
			return start, end, 0, &httpError{http.StatusBadRequest, "invalid start"}
		}
		if end, err = time.Parse(time.RFC3339, q.Get("end")); err != nil {
			return start, end, 0, &httpError{http.StatusBadRequest, "invalid or missing end"}
		}
	} else {
		period := 24 * time.Hour
		if v := q.Get("statsPeriod"); v != "" {
			if period, err = parsePeriod(v); err != nil {
				return start, end, 0, &httpError{http.StatusBadRequest, err.Error()}
			}
		}
		start, end = now.Add(-period), now
	}
	if !end.After(start) {
		return start, end, 0, &httpError{http.StatusBadRequest, "end must be after start"}
	}
	start = start.UTC().Truncate(interval)
	if e := end.UTC().Truncate(interval); e.Equal(end) {
		end = e
	} else {
		end = e.Add(interval)
	}
	if end.Sub(start)/interval > maxIntervals {
		return start, end, 0, &httpError{http.StatusBadRequest, "too many intervals; use a larger interval"}
	}
	return start, end, interval, nil
}

// orgProjects reads the project parameters (ids; absent or -1 for all)
// and keeps those of the token's organization.
func (a *API) orgProjects(r *http.Request, tok meta.Token) ([]int64, error) {
	org, err := a.meta.OrgBySlug(r.Context(), r.PathValue("org"))
	if err != nil {
		return nil, err
	}
	if org.ID != tok.OrgID {
		return nil, errNotFound
	}
	ps, err := a.meta.ListProjects(r.Context(), org.ID)
	if err != nil {
		return nil, err
	}
	var all []int64
	for _, p := range ps {
		all = append(all, p.ID)
	}
	want := r.URL.Query()["project"]
	if len(want) == 0 || slices.Contains(want, "-1") {
		return all, nil
	}
	var out []int64
	for _, v := range want {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("invalid project %q", v)}
		}
		if !slices.Contains(all, id) {
			return nil, &httpError{http.StatusForbidden, errForbidden.msg}
		}
		out = append(out, id)
	}
	return out, nil
}

// sessionFields are the supported fields of the sessions API.
var sessionFields = []string{"sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_free_rate(user)"}

// sessionStatuses are the values of groupBy=session.status, in Sentry's
// order.
var sessionStatuses = []string{"healthy", "errored", "crashed", "abnormal"}

// crashFree is Sentry's crash-free rate: the share of sessions (or users)
// without a crash; null without sessions.
func crashFree(crashed, total int64) any {
	if total == 0 {
		return nil
	}
	return 1 - float64(crashed)/float64(total)
}

// statusCount splits counts by session.status: errored excludes the
// crashed and abnormal, healthy is what had no error.
func statusCount(c meta.SessionCounts, field, status string) int64 {
	if field == "count_unique(user)" {
		switch status {
		case "healthy":
			return c.Users - c.ErroredUsers - c.AbnormalUsers - c.CrashedUsers
		case "errored":
			return c.ErroredUsers
		case "crashed":
			return c.CrashedUsers
		default:
			return c.AbnormalUsers
		}
	}
	switch status {
	case "healthy":
		return c.Started - c.Errored
	case "errored":
		return max(c.Errored-c.Crashed-c.Abnormal, 0)
	case "crashed":
		return c.Crashed
	default:
		return c.Abnormal
	}
}

// sessionValue is one field of counts; status is empty unless grouped by
// session.status.
func sessionValue(c meta.SessionCounts, field, status string) any {
	if status != "" {
		return statusCount(c, field, status)
	}
	switch field {
	case "sum(session)":
		return c.Started
	case "count_unique(user)":
		return c.Users
	case "crash_free_rate(session)":
		return crashFree(c.Crashed, c.Started)
	default:
		return crashFree(c.CrashedUsers, c.Users)
	}
}

// sessionGroup is one group of the sessions API's answer.
type sessionGroup struct {
	By     map[string]string `json:"by"`
	Totals map[string]any    `json:"totals"`
	Series map[string][]any  `json:"series"`
}

func (a *API) sessions(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	st, ok := a.meta.(meta.SessionStats)
	if !ok {
		return errUnsupported
	}
	q := r.URL.Query()
	fields := q["field"]
	if len(fields) == 0 {
		return &httpError{http.StatusBadRequest, `Request is missing a "field"`}
	}
	for _, f := range fields {
		if !slices.Contains(sessionFields, f) {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("Invalid field: %q (supported: %s)", f, strings.Join(sessionFields, ", "))}
		}
	}
	var byStatus bool
	sq := meta.SessionQuery{Environment: q.Get("environment")}
	for _, g := range q["groupBy"] {
		switch g {
		case "release":
			sq.GroupByRelease = true
		case "environment":
			sq.GroupByEnvironment = true
		case "session.status":
			byStatus = true
		case "project":
			return &httpError{http.StatusBadRequest, "groupBy project is not supported; query one project at a time"}
		default:
			return &httpError{http.StatusBadRequest, fmt.Sprintf("Invalid groupBy: %q (supported: release, environment, session.status)", g)}
		}
	}
	if byStatus {
		for _, f := range fields {
			if strings.HasPrefix(f, "crash_free_rate") {
				return &httpError{http.StatusBadRequest, "Cannot group field " + f + " by session.status"}
			}
		}
	}
	if query := q.Get("query"); query != "" {
		for term := range strings.FieldsSeq(query) {
			k, v, _ := strings.Cut(term, ":")
			switch k {
			case "release":
				sq.Release = strings.Trim(v, `"`)
			case "environment":
				sq.Environment = strings.Trim(v, `"`)
			default:
				return &httpError{http.StatusBadRequest, fmt.Sprintf("unsupported query term %q (supported: release:, environment:)", term)}
			}
		}
	}
	var err error
	if sq.ProjectIDs, err = a.orgProjects(r, tok); err != nil {
		return err
	}
	if sq.Start, sq.End, sq.Interval, err = timeWindow(r, time.Now()); err != nil {
		return err
	}
	series, totals, err := st.QuerySessions(r.Context(), sq)
	if err != nil {
		return err
	}
	n := int(sq.End.Sub(sq.Start) / sq.Interval)
	intervals := make([]string, n)
	for i := range n {
		intervals[i] = sq.Start.Add(time.Duration(i) * sq.Interval).Format(time.RFC3339)
	}
	statuses := []string{""}
	if byStatus {
		statuses = sessionStatuses
	}
	by := func(c meta.SessionCounts, status string) map[string]string {
		m := map[string]string{}
		if sq.GroupByRelease {
			m["release"] = c.Release
		}
		if sq.GroupByEnvironment {
			m["environment"] = c.Environment
		}
		if status != "" {
			m["session.status"] = status
		}
		return m
	}
	groups := []sessionGroup{}
	for _, t := range totals {
		for _, status := range statuses {
			g := sessionGroup{By: by(t, status), Totals: map[string]any{}, Series: map[string][]any{}}
			for _, f := range fields {
				g.Totals[f] = sessionValue(t, f, status)
				s := make([]any, n)
				for i := range s {
					s[i] = sessionValue(meta.SessionCounts{}, f, status)
				}
				for _, c := range series {
					if c.Release != t.Release || c.Environment != t.Environment {
						continue
					}
					if i := int(c.Time.Sub(sq.Start) / sq.Interval); i >= 0 && i < n {
						s[i] = sessionValue(c, f, status)
					}
				}
				g.Series[f] = s
			}
			groups = append(groups, g)
		}
	}
	if len(totals) == 0 && !sq.GroupByRelease && !sq.GroupByEnvironment {
		// Sentry answers an ungrouped query with one empty group.
		for _, status := range statuses {
			g := sessionGroup{By: by(meta.SessionCounts{}, status), Totals: map[string]any{}, Series: map[string][]any{}}
			for _, f := range fields {
				g.Totals[f] = sessionValue(meta.SessionCounts{}, f, status)
				s := make([]any, n)
				for i := range s {
					s[i] = g.Totals[f]
				}
				g.Series[f] = s
			}
			groups = append(groups, g)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"start": sq.Start.Format(time.RFC3339), "end": sq.End.Format(time.RFC3339),
		"intervals": intervals, "groups": groups, "query": q.Get("query")})
	return nil
}

// statsV2 serves the outcomes of client reports in the shape of Sentry's
// stats_v2: field sum(quantity); groupBy outcome, category, reason,
// project; filters outcome, category, reason.
func (a *API) statsV2(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	st, ok := a.meta.(meta.Outcomes)
	if !ok {
		return errUnsupported
	}
	q := r.URL.Query()
	fields := q["field"]
	if len(fields) == 0 {
		fields = []string{"sum(quantity)"}
	}
	for _, f := range fields {
		if f != "sum(quantity)" {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("Invalid field: %q (supported: sum(quantity))", f)}
		}
	}
	groupBy := q["groupBy"]
	for _, g := range groupBy {
		switch g {
		case "outcome", "category", "reason", "project":
		default:
			return &httpError{http.StatusBadRequest, fmt.Sprintf("Invalid groupBy: %q (supported: outcome, category, reason, project)", g)}
		}
	}
	var oq meta.OutcomeQuery
	var err error
	if oq.ProjectIDs, err = a.orgProjects(r, tok); err != nil {
		return err
	}
	if oq.Start, oq.End, oq.Interval, err = timeWindow(r, time.Now()); err != nil {
		return err
	}
	counts, err := st.QueryOutcomes(r.Context(), oq)
	if err != nil {
		return err
	}
	n := int(oq.End.Sub(oq.Start) / oq.Interval)
	intervals := make([]string, n)
	for i := range n {
		intervals[i] = oq.Start.Add(time.Duration(i) * oq.Interval).Format(time.RFC3339)
	}
	keep := func(name, v string) bool {
		want := q[name]
		return len(want) == 0 || slices.Contains(want, v)
	}
	type group struct {
		by     map[string]any
		total  int64
		series []int64
	}
	var order []string
	groups := map[string]*group{}
	for _, c := range counts {
		if !keep("outcome", c.Outcome) || !keep("category", c.Category) || !keep("reason", c.Reason) {
			continue
		}
		by := map[string]any{}
		var key strings.Builder
		for _, g := range groupBy {
			var v any
			switch g {
			case "outcome":
				v = c.Outcome
			case "category":
				v = c.Category
			case "reason":
				v = c.Reason
			case "project":
				v = c.ProjectID
			}
			by[g] = v
			fmt.Fprintf(&key, "%v\x00", v)
		}
		gr := groups[key.String()]
		if gr == nil {
			gr = &group{by: by, series: make([]int64, n)}
			groups[key.String()] = gr
			order = append(order, key.String())
		}
		gr.total += c.Quantity
		if i := int(c.Time.Sub(oq.Start) / oq.Interval); i >= 0 && i < n {
			gr.series[i] += c.Quantity
		}
	}
	slices.Sort(order)
	out := []map[string]any{}
	for _, k := range order {
		g := groups[k]
		out = append(out, map[string]any{"by": g.by, "totals": map[string]int64{"sum(quantity)": g.total},
			"series": map[string][]int64{"sum(quantity)": g.series}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"start": oq.Start.Format(time.RFC3339), "end": oq.End.Format(time.RFC3339),
		"intervals": intervals, "groups": out})
	return nil
}
