package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

const issueColumns = `id, project_id, short_seq, type, title, culprit, level, platform, metadata, status, substatus,
	times_seen, user_count, first_seen, last_seen, first_release, last_release, environments, resolved_at, last_event_id`

func scanIssue(row pgx.Row) (meta.Issue, error) {
	var is meta.Issue
	var status string
	var resolved *time.Time
	err := row.Scan(&is.ID, &is.ProjectID, &is.ShortSeq, &is.Type, &is.Title, &is.Culprit, &is.Level, &is.Platform, &is.Metadata, &status,
		&is.Substatus, &is.TimesSeen, &is.UserCount, &is.FirstSeen, &is.LastSeen, &is.FirstRelease, &is.LastRelease,
		&is.Environments, &resolved, &is.LastEventID)
	if err != nil {
		return is, notFound(err)
	}
	is.Status = meta.IssueStatus(status)
	is.FirstSeen, is.LastSeen = is.FirstSeen.UTC(), is.LastSeen.UTC()
	if resolved != nil {
		is.ResolvedAt = resolved.UTC()
	}
	return is, nil
}

func metadata(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

type hashKey struct {
	project int64
	hash    string
}

// GroupIssues implements meta.Issues. Workers grouping the same hash at
// once would both miss it and create two issues, so each transaction first
// takes an advisory lock per (project, hash), in sorted order so that two
// batches never wait on each other in a cycle.
func (m *Meta) GroupIssues(ctx context.Context, reqs []meta.GroupRequest) ([]meta.Issue, error) {
	out := make([]meta.Issue, len(reqs))
	keys := make([]hashKey, 0, len(reqs))
	for _, r := range reqs {
		keys = append(keys, hashKey{r.ProjectID, r.Hash})
	}
	slices.SortFunc(keys, func(a, b hashKey) int {
		return cmp.Or(cmp.Compare(a.project, b.project), strings.Compare(a.hash, b.hash))
	})
	keys = slices.Compact(keys)
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::bigint::text || ':' || $2, 0))`, k.project, k.hash); err != nil {
				return err
			}
		}
		for i, r := range reqs {
			var id int64
			err := tx.QueryRow(ctx, `SELECT issue_id FROM issue_hashes WHERE project_id = $1 AND hash = $2`, r.ProjectID, r.Hash).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				id, err = createIssue(ctx, tx, r)
			}
			if err != nil {
				return err
			}
			if out[i], err = scanIssue(tx.QueryRow(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = $1`, id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: group issues: %w", err)
	}
	return out, nil
}

func createIssue(ctx context.Context, tx pgx.Tx, r meta.GroupRequest) (int64, error) {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE projects SET next_short_seq = next_short_seq + 1 WHERE id = $1
		RETURNING next_short_seq - 1`, r.ProjectID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("project %d: %w", r.ProjectID, notFound(err))
	}
	t := stamp(r.Time)
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO issues (project_id, short_seq, type, title, culprit, level, platform, metadata,
		status, substatus, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unresolved', 'new', $9, $9) RETURNING id`,
		r.ProjectID, seq, r.Type, r.Title, r.Culprit, r.Level, r.Platform, metadata(r.Metadata), t).Scan(&id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO issue_hashes (project_id, hash, issue_id) VALUES ($1, $2, $3)`,
		r.ProjectID, r.Hash, id); err != nil {
		return 0, err
	}
	return id, nil
}

// RecordOccurrences implements meta.Issues. The issues of the batch are
// locked (SELECT ... FOR UPDATE, in id order) before their counts are
// read, so concurrent workers recording events of the same issue
// serialize instead of overwriting each other's counts.
func (m *Meta) RecordOccurrences(ctx context.Context, occs []meta.Occurrence) ([]meta.Recorded, error) {
	var out []meta.Recorded
	ids := make([]int64, 0, len(occs))
	for _, o := range occs {
		ids = append(ids, o.IssueID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		loaded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Issue, error) { return scanIssue(r) })
		if err != nil {
			return err
		}
		byID := make(map[int64]*meta.Issue, len(loaded))
		for i := range loaded {
			byID[loaded[i].ID] = &loaded[i]
		}
		// Mark all events in one round trip; the ones returned were not
		// counted before.
		pids := make([]int64, len(occs))
		eids := make([]string, len(occs))
		iids := make([]int64, len(occs))
		for i, o := range occs {
			pids[i], eids[i], iids[i] = o.ProjectID, o.EventID, o.IssueID
		}
		rows, err = tx.Query(ctx, `INSERT INTO issue_events (project_id, event_id, issue_id)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
			ON CONFLICT (project_id, event_id) DO NOTHING RETURNING project_id, event_id`, pids, eids, iids)
		if err != nil {
			return err
		}
		type ref struct {
			project int64
			event   string
		}
		unseen := map[ref]bool{}
		var r ref
		if _, err := pgx.ForEachRow(rows, []any{&r.project, &r.event}, func() error {
			unseen[r] = true
			return nil
		}); err != nil {
			return err
		}
		var order []int64
		regressed := map[int64]bool{}
		// An issue is new when this call records its first occurrences:
		// the issue row is locked, so no other worker can record one in
		// between.
		fresh, counted := map[int64]bool{}, map[int64]int{}
		for _, o := range occs {
			k := ref{o.ProjectID, o.EventID}
			if !unseen[k] {
				continue // counted already, or a duplicate within the batch
			}
			delete(unseen, k)
			is := byID[o.IssueID]
			if is == nil {
				return fmt.Errorf("issue %d: %w", o.IssueID, meta.ErrNotFound)
			}
			if counted[is.ID] == 0 {
				fresh[is.ID] = is.TimesSeen == 0
				order = append(order, is.ID)
			}
			counted[is.ID]++
			o.Time = stamp(o.Time)
			if is.Apply(o) {
				regressed[is.ID] = true
			}
		}
		batch := &pgx.Batch{}
		for _, id := range order {
			is := byID[id]
			batch.Queue(`UPDATE issues SET title = $1, culprit = $2, level = $3, metadata = $4, status = $5, substatus = $6,
				times_seen = $7, user_count = $8, first_seen = $9, last_seen = $10, first_release = $11, last_release = $12,
				environments = $13, last_event_id = $14 WHERE id = $15`,
				is.Title, is.Culprit, is.Level, metadata(is.Metadata), string(is.Status), is.Substatus, is.TimesSeen, is.UserCount,
				is.FirstSeen, is.LastSeen, is.FirstRelease, is.LastRelease, nonNil(is.Environments), is.LastEventID, id)
			out = append(out, meta.Recorded{IssueID: id, Regressed: regressed[id], New: fresh[id], Count: counted[id]})
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("meta: record occurrences: %w", err)
	}
	return out, nil
}

// Issue implements meta.Issues.
func (m *Meta) Issue(ctx context.Context, id int64) (meta.Issue, error) {
	is, err := scanIssue(m.db.pool.QueryRow(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = $1`, id))
	if err != nil {
		return is, fmt.Errorf("meta: issue %d: %w", id, err)
	}
	return is, nil
}

// ListIssues implements meta.Issues. As in SQLite, issues whose first
// event was never recorded are not listed.
func (m *Meta) ListIssues(ctx context.Context, q meta.IssueQuery) ([]meta.Issue, bool, error) {
	order := "last_seen DESC, id DESC"
	switch q.Sort {
	case "", "date":
	case "new":
		order = "first_seen DESC, id DESC"
	case "freq":
		order = "times_seen DESC, id DESC"
	default:
		return nil, false, fmt.Errorf("meta: list issues: unknown sort %q", q.Sort)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where, args := "project_id = $1 AND times_seen > 0", []any{q.ProjectID}
	if q.Status != "" {
		where += " AND status = $2"
		args = append(args, string(q.Status))
	}
	n := len(args)
	args = append(args, limit+1, max(q.Offset, 0))
	rows, err := m.db.pool.Query(ctx, fmt.Sprintf(`SELECT `+issueColumns+` FROM issues WHERE `+where+` ORDER BY `+order+
		` LIMIT $%d OFFSET $%d`, n+1, n+2), args...)
	if err != nil {
		return nil, false, fmt.Errorf("meta: list issues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Issue, error) { return scanIssue(r) })
	if err != nil {
		return nil, false, fmt.Errorf("meta: list issues: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// SetIssueStatus implements meta.Issues.
func (m *Meta) SetIssueStatus(ctx context.Context, id int64, status meta.IssueStatus) (meta.Issue, error) {
	var sub string
	var resolvedAt *time.Time
	switch status {
	case meta.StatusResolved:
		t := stamp(m.now())
		resolvedAt = &t
	case meta.StatusUnresolved:
		sub = meta.SubstatusOngoing
	case meta.StatusIgnored:
	default:
		return meta.Issue{}, fmt.Errorf("meta: set issue %d status: unknown status %q", id, status)
	}
	is, err := scanIssue(m.db.pool.QueryRow(ctx, `UPDATE issues SET status = $1, substatus = $2, resolved_at = COALESCE($3, resolved_at)
		WHERE id = $4 RETURNING `+issueColumns, string(status), sub, resolvedAt, id))
	if err != nil {
		return is, fmt.Errorf("meta: set issue %d status: %w", id, err)
	}
	return is, nil
}
