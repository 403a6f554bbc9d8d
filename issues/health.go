package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
)

// This file handles the standalone envelope items: release-health
// sessions, user feedback and client reports. They are counted, not
// processed like events; each is idempotent by its ItemID (or, for user
// reports, by the event it is about), so redeliveries count once.

// maxSessionAge and maxSessionSkew bound the start times accepted, as
// Relay does: older sessions would change release health long reported,
// and future ones come from broken clocks.
const (
	maxSessionAge  = 5 * 24 * time.Hour
	maxSessionSkew = time.Hour
)

// timely keeps the updates that started within the accepted window of
// the item's arrival.
func timely(us []meta.SessionUpdate, received time.Time) []meta.SessionUpdate {
	out := us[:0]
	for _, u := range us {
		if u.Started.Before(received.Add(-maxSessionAge)) || u.Started.After(received.Add(maxSessionSkew)) {
			continue
		}
		out = append(out, u)
	}
	return out
}

// maxAggregates bounds the aggregates of one "sessions" item; SDKs flush
// far fewer (one per minute or hour and user).
const maxAggregates = 1000

// flexTime is a timestamp as SDKs send it: an RFC 3339 string or seconds
// since the epoch (possibly fractional).
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
			if v, err := time.Parse(layout, s); err == nil {
				t.Time = v.UTC()
				return nil
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t.Time = secondsTime(f)
			return nil
		}
		return fmt.Errorf("invalid timestamp %q", s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid timestamp %s", b)
	}
	t.Time = secondsTime(f)
	return nil
}

func secondsTime(f float64) time.Time {
	return time.UnixMicro(int64(f * 1e6)).UTC()
}

type sessionAttrs struct {
	Release     string `json:"release"`
	Environment string `json:"environment"`
}

// sessionJSON is one "session" item.
type sessionJSON struct {
	SID       string       `json:"sid"`
	DIDRaw    any          `json:"did"`
	Init      bool         `json:"init"`
	Status    string       `json:"status"`
	Errors    int64        `json:"errors"`
	Started   flexTime     `json:"started"`
	Timestamp flexTime     `json:"timestamp"`
	Attrs     sessionAttrs `json:"attrs"`
}

// distinctID renders a did, which SDKs send as a string but some as a
// number.
func distinctID(v any) string {
	switch d := v.(type) {
	case string:
		return d
	case float64:
		return strconv.FormatFloat(d, 'f', -1, 64)
	}
	return ""
}

// ParseSession reads a "session" item the way Sentry's Relay validates it:
// a session id, a release and a known status are required, errors cannot
// be negative. Items that fail are dropped by the caller, not the envelope.
func ParseSession(payload []byte) (meta.SessionUpdate, error) {
	var s sessionJSON
	if err := json.Unmarshal(payload, &s); err != nil {
		return meta.SessionUpdate{}, fmt.Errorf("session: %w", err)
	}
	u := meta.SessionUpdate{Release: s.Attrs.Release, Environment: s.Attrs.Environment, Started: s.Started.Time,
		DistinctID: distinctID(s.DIDRaw), SessionID: strings.ToLower(strings.ReplaceAll(s.SID, "-", "")), Init: s.Init,
		Status: meta.SessionStatus(s.Status), Errors: s.Errors}
	if u.Status == "" {
		u.Status = meta.SessionOk
	}
	if err := checkSessionAttrs(s.Attrs); err != nil {
		return u, err
	}
	switch {
	case u.SessionID == "":
		return u, errors.New("session: no sid")
	case len(u.SessionID) > 64:
		return u, errors.New("session: sid too long")
	case u.Errors < 0:
		return u, errors.New("session: negative errors")
	case u.Started.IsZero():
		if s.Timestamp.IsZero() {
			return u, errors.New("session: no started time")
		}
		u.Started = s.Timestamp.Time
	}
	switch u.Status {
	case meta.SessionOk, meta.SessionExited, meta.SessionCrashed, meta.SessionAbnormal, meta.SessionErrored:
	default:
		return u, fmt.Errorf("session: unknown status %q", truncate(string(u.Status), 32))
	}
	return u, nil
}

func checkSessionAttrs(a sessionAttrs) error {
	switch {
	case a.Release == "":
		return errors.New("session: no release")
	case len(a.Release) > 200, strings.ContainsAny(a.Release, "\n\r\t/\\") || a.Release == "." || a.Release == "..":
		return fmt.Errorf("session: invalid release %q", truncate(a.Release, 64))
	case len(a.Environment) > 64:
		return errors.New("session: environment too long")
	}
	return nil
}

// sessionsJSON is one "sessions" item: pre-aggregated counts.
type sessionsJSON struct {
	Aggregates []struct {
		Started  flexTime `json:"started"`
		DID      any      `json:"did"`
		Exited   int64    `json:"exited"`
		Errored  int64    `json:"errored"`
		Abnormal int64    `json:"abnormal"`
		Crashed  int64    `json:"crashed"`
	} `json:"aggregates"`
	Attrs sessionAttrs `json:"attrs"`
}

// ParseSessions reads a "sessions" item; aggregates with negative or no
// counts or no start time are skipped, like Relay does.
func ParseSessions(payload []byte) ([]meta.SessionUpdate, error) {
	var s sessionsJSON
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	if err := checkSessionAttrs(s.Attrs); err != nil {
		return nil, err
	}
	if len(s.Aggregates) > maxAggregates {
		return nil, fmt.Errorf("sessions: %d aggregates, at most %d", len(s.Aggregates), maxAggregates)
	}
	var out []meta.SessionUpdate
	for _, a := range s.Aggregates {
		if a.Started.IsZero() || a.Exited < 0 || a.Errored < 0 || a.Abnormal < 0 || a.Crashed < 0 ||
			a.Exited+a.Errored+a.Abnormal+a.Crashed == 0 {
			continue
		}
		out = append(out, meta.SessionUpdate{Release: s.Attrs.Release, Environment: s.Attrs.Environment,
			Started: a.Started.Time, DistinctID: distinctID(a.DID), Aggregate: true,
			Exited: a.Exited, Errored: a.Errored, Abnormal: a.Abnormal, Crashed: a.Crashed})
	}
	return out, nil
}

// ParseUserReport reads a "user_report" item (Sentry's and the one ingest
// builds from an Unreal crash report's user description).
func ParseUserReport(payload []byte) (meta.UserReport, error) {
	var r struct {
		EventID  string `json:"event_id"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Comments string `json:"comments"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return meta.UserReport{}, fmt.Errorf("user report: %w", err)
	}
	id := strings.ToLower(strings.ReplaceAll(r.EventID, "-", ""))
	if !validEventID(id) {
		return meta.UserReport{}, fmt.Errorf("user report: invalid event_id %q", truncate(r.EventID, 40))
	}
	return meta.UserReport{EventID: id, Name: truncate(r.Name, 128), Email: truncate(r.Email, 75),
		Comments: truncate(r.Comments, 4096)}, nil
}

// ParseClientReport reads a "client_report" item into outcomes: discarded
// events are Sentry's "client_discard" outcome, rate-limited and filtered
// events keep their outcome names. Entries without a category or with a
// quantity below one are skipped.
func ParseClientReport(payload []byte, received time.Time) ([]meta.Outcome, error) {
	type entry struct {
		Reason   string `json:"reason"`
		Category string `json:"category"`
		Quantity int64  `json:"quantity"`
	}
	var r struct {
		Timestamp flexTime `json:"timestamp"`
		Discarded []entry  `json:"discarded_events"`
		Limited   []entry  `json:"rate_limited_events"`
		Filtered  []entry  `json:"filtered_events"`
		Sampled   []entry  `json:"filtered_sampling_events"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("client report: %w", err)
	}
	at := r.Timestamp.Time
	if at.IsZero() || at.After(received.Add(time.Hour)) {
		at = received
	}
	var out []meta.Outcome
	for _, g := range []struct {
		outcome string
		list    []entry
	}{{"client_discard", r.Discarded}, {"rate_limited", r.Limited}, {"filtered", r.Filtered}, {"filtered", r.Sampled}} {
		for _, e := range g.list {
			if e.Category == "" || e.Quantity < 1 {
				continue
			}
			out = append(out, meta.Outcome{Time: at, Outcome: g.outcome, Reason: truncate(e.Reason, 64),
				Category: truncate(e.Category, 32), Quantity: e.Quantity})
			if len(out) >= maxAggregates {
				return out, nil
			}
		}
	}
	return out, nil
}

// handleItems counts a batch's standalone items and acknowledges them.
// Malformed items are logged and acknowledged: retrying cannot fix them.
// A store failure gives the batch back.
func (w *Worker) handleItems(ctx context.Context, ms []*item) error {
	if len(ms) == 0 {
		return nil
	}
	var sessions []meta.SessionItem
	var outcomes []meta.OutcomeItem
	var reports []meta.UserReport
	for _, it := range ms {
		m := it.msg
		switch m.Kind {
		case "session":
			u, err := ParseSession(m.Event)
			if err != nil {
				w.dropItem(m, err)
				continue
			}
			if us := timely([]meta.SessionUpdate{u}, m.ReceivedAt); len(us) > 0 {
				sessions = append(sessions, meta.SessionItem{ProjectID: m.ProjectID, ItemID: m.ItemID, ReceivedAt: m.ReceivedAt, Updates: us})
			}
		case "sessions":
			us, err := ParseSessions(m.Event)
			if err != nil {
				w.dropItem(m, err)
				continue
			}
			if us = timely(us, m.ReceivedAt); len(us) > 0 {
				sessions = append(sessions, meta.SessionItem{ProjectID: m.ProjectID, ItemID: m.ItemID, ReceivedAt: m.ReceivedAt, Updates: us})
			}
		case "client_report":
			os, err := ParseClientReport(m.Event, m.ReceivedAt)
			if err != nil {
				w.dropItem(m, err)
				continue
			}
			if len(os) > 0 {
				outcomes = append(outcomes, meta.OutcomeItem{ProjectID: m.ProjectID, ItemID: m.ItemID, ReceivedAt: m.ReceivedAt, Outcomes: os})
			}
		case "user_report":
			r, err := ParseUserReport(m.Event)
			if err != nil {
				w.dropItem(m, err)
				continue
			}
			r.ProjectID, r.CreatedAt = m.ProjectID, m.ReceivedAt
			// The event may be stored already; otherwise readers link the
			// report when they find it.
			if ev, err := w.events.Get(ctx, r.ProjectID, r.EventID); err == nil {
				r.IssueID = ev.IssueID
			} else if !errors.Is(err, events.ErrNotFound) {
				return w.fail(ctx, ms, err)
			}
			reports = append(reports, r)
		default:
			w.opts.Log.Warn("unknown item type in the queue; dropped", "kind", m.Kind, "project_id", m.ProjectID)
		}
	}
	if len(sessions) > 0 {
		if st, ok := w.issues.(meta.SessionStats); ok {
			if err := st.RecordSessions(ctx, sessions); err != nil {
				return w.fail(ctx, ms, err)
			}
		}
	}
	if len(outcomes) > 0 {
		if st, ok := w.issues.(meta.Outcomes); ok {
			if err := st.RecordOutcomes(ctx, outcomes); err != nil {
				return w.fail(ctx, ms, err)
			}
		}
	}
	if len(reports) > 0 {
		if st, ok := w.issues.(meta.Feedback); ok {
			if err := st.PutUserReports(ctx, reports); err != nil {
				return w.fail(ctx, ms, err)
			}
		}
	}
	ds := make([]queue.Delivery, len(ms))
	for i, it := range ms {
		ds[i] = it.d
	}
	if err := w.q.Ack(ctx, ds); err != nil {
		if errors.Is(err, queue.ErrLeaseLost) {
			w.opts.Log.Warn("acknowledging items after the lease ended", "err", err)
			return nil
		}
		return fmt.Errorf("issues: ack items: %w", err)
	}
	return nil
}

func (w *Worker) dropItem(m *Message, err error) {
	w.opts.Log.Warn("malformed envelope item dropped", "kind", m.Kind, "project_id", m.ProjectID, "err", err)
}

// maxUnlinked bounds how many unlinked reports one read resolves.
const maxUnlinked = 200

// LinkUserReports finds the events of a project's newest reports that have
// no issue yet and records their issues, so that feedback sent before its
// event attaches once the event is stored. Readers call it before listing;
// it costs one indexed query when every report is linked.
func LinkUserReports(ctx context.Context, fb meta.Feedback, evs events.Store, projectID int64) error {
	list, _, err := fb.ListUserReports(ctx, meta.UserReportQuery{ProjectID: projectID, Unlinked: true, Limit: maxUnlinked})
	if err != nil {
		return err
	}
	var links []meta.UserReportLink
	for _, r := range list {
		ev, err := evs.Get(ctx, projectID, r.EventID)
		if errors.Is(err, events.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("issues: link user reports: %w", err)
		}
		links = append(links, meta.UserReportLink{ProjectID: projectID, EventID: r.EventID, IssueID: ev.IssueID})
	}
	return fb.LinkUserReports(ctx, links)
}
