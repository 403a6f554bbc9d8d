package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/storage/events"
)

// Events is the SQLite events.Store.
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

// OpenEvents opens (creating and migrating) the events database at path.
func OpenEvents(ctx context.Context, path string) (*Events, error) {
	d, err := open(ctx, path, "events")
	if err != nil {
		return nil, err
	}
	return &Events{db: d}, nil
}

// Close implements events.Store.
func (e *Events) Close() error { return e.db.close() }

// Put implements events.Store.
func (e *Events) Put(ctx context.Context, evs []*events.Event) ([]events.PutResult, error) {
	out := make([]events.PutResult, len(evs))
	if len(evs) == 0 {
		return out, nil
	}
	err := e.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO events (project_id, event_id, issue_id, timestamp, received_at,
			level, platform, release, environment, title, user_key, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		user, err := tx.PrepareContext(ctx, `INSERT INTO issue_users (issue_id, user_key) VALUES (?, ?)
			ON CONFLICT (issue_id, user_key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer user.Close()
		tag, err := tx.PrepareContext(ctx, `INSERT INTO event_tags (project_id, event_id, issue_id, key, value) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (project_id, event_id, key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer tag.Close()
		for i, ev := range evs {
			res, err := ins.ExecContext(ctx, ev.ProjectID, ev.EventID, ev.IssueID, micros(ev.Timestamp), micros(ev.ReceivedAt),
				ev.Level, ev.Platform, ev.Release, ev.Environment, ev.Title, ev.UserKey, compress(ev.Data))
			if err != nil {
				return fmt.Errorf("event %s: %w", ev.EventID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			out[i].Inserted = n == 1
			if n == 1 {
				for _, kv := range events.Tags(ev) {
					if _, err := tag.ExecContext(ctx, ev.ProjectID, ev.EventID, ev.IssueID, kv[0], kv[1]); err != nil {
						return fmt.Errorf("event %s: tag: %w", ev.EventID, err)
					}
				}
			}
			if n == 1 && ev.UserKey != "" {
				res, err := user.ExecContext(ctx, ev.IssueID, ev.UserKey)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				out[i].NewUser = n == 1
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events: put: %w", err)
	}
	return out, nil
}

const eventColumns = `project_id, event_id, issue_id, timestamp, received_at, level, platform, release, environment, title, user_key, data`

func scanEvent(s scanner) (*events.Event, error) {
	var ev events.Event
	var ts, rcv int64
	if err := s.Scan(&ev.ProjectID, &ev.EventID, &ev.IssueID, &ts, &rcv, &ev.Level, &ev.Platform, &ev.Release,
		&ev.Environment, &ev.Title, &ev.UserKey, &ev.Data); err != nil {
		if err == sql.ErrNoRows {
			return nil, events.ErrNotFound
		}
		return nil, err
	}
	ev.Timestamp, ev.ReceivedAt = fromMicros(ts), fromMicros(rcv)
	var err error
	if ev.Data, err = decompress(ev.Data); err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.EventID, err)
	}
	return &ev, nil
}

// Get implements events.Store.
func (e *Events) Get(ctx context.Context, projectID int64, eventID string) (*events.Event, error) {
	ev, err := scanEvent(e.db.r.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE project_id = ? AND event_id = ?`,
		projectID, strings.ToLower(eventID)))
	if err != nil {
		return nil, fmt.Errorf("events: get %s: %w", eventID, err)
	}
	return ev, nil
}

// Exists implements events.Store. Refs are looked up per project with
// "event_id IN (...)", which SQLite answers from the primary key.
func (e *Events) Exists(ctx context.Context, refs []events.Ref) (map[events.Ref]bool, error) {
	out := make(map[events.Ref]bool, len(refs))
	byProject := map[int64][]any{}
	for _, r := range refs {
		byProject[r.ProjectID] = append(byProject[r.ProjectID], r.EventID)
	}
	const chunk = 500 // stays far below SQLite's bound-parameter limit
	for pid, ids := range byProject {
		for len(ids) > 0 {
			part := ids[:min(chunk, len(ids))]
			ids = ids[len(part):]
			rows, err := e.db.r.QueryContext(ctx, `SELECT event_id FROM events WHERE project_id = ? AND event_id IN (`+
				placeholders(len(part))+`)`, append([]any{pid}, part...)...)
			if err != nil {
				return nil, fmt.Errorf("events: exists: %w", err)
			}
			for rows.Next() {
				r := events.Ref{ProjectID: pid}
				if err := rows.Scan(&r.EventID); err != nil {
					rows.Close()
					return nil, fmt.Errorf("events: exists: %w", err)
				}
				out[r] = true
			}
			if err := rows.Close(); err != nil {
				return nil, fmt.Errorf("events: exists: %w", err)
			}
		}
	}
	return out, nil
}

// ListByIssue implements events.Store.
func (e *Events) ListByIssue(ctx context.Context, issueID int64, offset, limit int) ([]*events.Event, bool, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := e.db.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE issue_id = ?
		ORDER BY timestamp DESC, event_id DESC LIMIT ? OFFSET ?`, issueID, limit+1, max(offset, 0))
	if err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	defer rows.Close()
	var out []*events.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, false, fmt.Errorf("events: list: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("events: list: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
