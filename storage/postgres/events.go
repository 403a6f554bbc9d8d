package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/events"
)

// Events is the PostgreSQL events.Store: a stand-in for ClickHouse in
// deployments that want one database, with the same idempotent writes,
// and the primary store (event bodies) beside it in the production
// topology. Payloads rely on PostgreSQL's own TOAST compression. Like the
// SQLite store it indexes each event's tags (events.Tags) in event_tags,
// which answers tag search and tag counts.
type Events struct {
	db *db
}

var (
	_ events.Store              = (*Events)(nil)
	_ events.Histogrammer       = (*Events)(nil)
	_ events.IssueHistogrammer  = (*Events)(nil)
	_ events.TagCounter         = (*Events)(nil)
	_ events.IssueMatcher       = (*Events)(nil)
	_ events.IssueEventsDeleter = (*Events)(nil)
)

// OpenEvents connects to dsn and applies the migrations.
func OpenEvents(ctx context.Context, dsn string, o Options) (*Events, error) {
	d, err := open(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	return &Events{db: d}, nil
}

// Close implements events.Store.
func (e *Events) Close() error { return e.db.close() }

// Put implements events.Store. The inserts of a batch go out in one round
// trip, then the tags and distinct users of the inserted events in
// another; tags are written in the same transaction as their event, so a
// stored event is always searchable by its tags.
func (e *Events) Put(ctx context.Context, evs []*events.Event) ([]events.PutResult, error) {
	out := make([]events.PutResult, len(evs))
	if len(evs) == 0 {
		return out, nil
	}
	err := e.db.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, ev := range evs {
			b.Queue(`INSERT INTO events (project_id, event_id, issue_id, timestamp, received_at,
				level, platform, release, environment, title, user_key, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (project_id, event_id) DO NOTHING`,
				ev.ProjectID, ev.EventID, ev.IssueID, stamp(ev.Timestamp), stamp(ev.ReceivedAt),
				ev.Level, ev.Platform, ev.Release, ev.Environment, ev.Title, ev.UserKey, nonNilBytes(ev.Data))
		}
		res := tx.SendBatch(ctx, b)
		for i, ev := range evs {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return fmt.Errorf("event %s: %w", ev.EventID, err)
			}
			out[i].Inserted = tag.RowsAffected() == 1
		}
		if err := res.Close(); err != nil {
			return err
		}
		b = &pgx.Batch{}
		var tags tagRows
		var users []int
		for i, ev := range evs {
			if !out[i].Inserted {
				continue
			}
			tags.add(ev)
			if ev.UserKey != "" {
				b.Queue(`INSERT INTO issue_users (issue_id, user_key) VALUES ($1, $2) ON CONFLICT (issue_id, user_key) DO NOTHING`,
					ev.IssueID, ev.UserKey)
				users = append(users, i)
			}
		}
		if len(tags.keys) > 0 {
			// One statement for the batch's tags: arrays unnested server
			// side cost one round trip whatever the number of tags.
			b.Queue(`INSERT INTO event_tags (project_id, event_id, issue_id, key, value)
				SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[])
				ON CONFLICT (project_id, event_id, key) DO NOTHING`,
				tags.projects, tags.events, tags.issues, tags.keys, tags.values)
		}
		if b.Len() == 0 {
			return nil
		}
		res = tx.SendBatch(ctx, b)
		for _, i := range users {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			out[i].NewUser = tag.RowsAffected() == 1
		}
		if len(tags.keys) > 0 {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return fmt.Errorf("tags: %w", err)
			}
		}
		return res.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("events: put: %w", err)
	}
	return out, nil
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const eventColumns = `project_id, event_id, issue_id, timestamp, received_at, level, platform, release, environment, title, user_key, data`

func scanEvent(row pgx.Row) (*events.Event, error) {
	var ev events.Event
	if err := row.Scan(&ev.ProjectID, &ev.EventID, &ev.IssueID, &ev.Timestamp, &ev.ReceivedAt, &ev.Level, &ev.Platform, &ev.Release,
		&ev.Environment, &ev.Title, &ev.UserKey, &ev.Data); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, events.ErrNotFound
		}
		return nil, err
	}
	ev.Timestamp, ev.ReceivedAt = ev.Timestamp.UTC(), ev.ReceivedAt.UTC()
	return &ev, nil
}

// Get implements events.Store.
func (e *Events) Get(ctx context.Context, projectID int64, eventID string) (*events.Event, error) {
	ev, err := scanEvent(e.db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE project_id = $1 AND event_id = $2`,
		projectID, strings.ToLower(eventID)))
	if err != nil {
		return nil, fmt.Errorf("events: get %s: %w", eventID, err)
	}
	return ev, nil
}

// Exists implements events.Store, in one query over arrays of refs that
// the primary key answers.
func (e *Events) Exists(ctx context.Context, refs []events.Ref) (map[events.Ref]bool, error) {
	out := make(map[events.Ref]bool, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	pids := make([]int64, len(refs))
	eids := make([]string, len(refs))
	for i, r := range refs {
		pids[i], eids[i] = r.ProjectID, r.EventID
	}
	rows, err := e.db.pool.Query(ctx, `SELECT e.project_id, e.event_id FROM unnest($1::bigint[], $2::text[]) AS r(project_id, event_id)
		JOIN events e ON e.project_id = r.project_id AND e.event_id = r.event_id`, pids, eids)
	if err != nil {
		return nil, fmt.Errorf("events: exists: %w", err)
	}
	var r events.Ref
	if _, err := pgx.ForEachRow(rows, []any{&r.ProjectID, &r.EventID}, func() error {
		out[r] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("events: exists: %w", err)
	}
	return out, nil
}

// ListByIssue implements events.Store.
func (e *Events) ListByIssue(ctx context.Context, issueID int64, offset, limit int) ([]*events.Event, bool, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := e.db.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE issue_id = $1
		ORDER BY timestamp DESC, event_id DESC LIMIT $2 OFFSET $3`, issueID, limit+1, max(offset, 0))
	if err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*events.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
