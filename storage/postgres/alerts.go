package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Alerts   = (*Meta)(nil)
	_ meta.Releases = (*Meta)(nil)
)

const ruleColumns = `id, project_id, name, enabled, trigger, threshold, window_ms, min_level, environment, actions, created_at, updated_at`

func scanRule(row pgx.Row) (meta.AlertRule, error) {
	var r meta.AlertRule
	var window int64
	var actions []byte
	if err := row.Scan(&r.ID, &r.ProjectID, &r.Name, &r.Enabled, &r.Trigger, &r.Threshold, &window, &r.MinLevel, &r.Environment,
		&actions, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, notFound(err)
	}
	r.Window = time.Duration(window) * time.Millisecond
	if err := json.Unmarshal(actions, &r.Actions); err != nil {
		return r, fmt.Errorf("rule %d actions: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// CreateAlertRule implements meta.Alerts.
func (m *Meta) CreateAlertRule(ctx context.Context, r meta.AlertRule) (meta.AlertRule, error) {
	actions, err := meta.EncodeActions(r.Actions)
	if err != nil {
		return r, fmt.Errorf("meta: create alert rule: %w", err)
	}
	now := stamp(m.now())
	r.CreatedAt, r.UpdatedAt = now, now
	err = m.db.pool.QueryRow(ctx, `INSERT INTO alert_rules (project_id, name, enabled, trigger, threshold, window_ms, min_level,
		environment, actions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $10) RETURNING id`,
		r.ProjectID, r.Name, r.Enabled, r.Trigger, r.Threshold, r.Window.Milliseconds(), r.MinLevel, r.Environment, actions, now).Scan(&r.ID)
	if err != nil {
		return r, fmt.Errorf("meta: create alert rule: %w", err)
	}
	return r, nil
}

// UpdateAlertRule implements meta.Alerts.
func (m *Meta) UpdateAlertRule(ctx context.Context, r meta.AlertRule) (meta.AlertRule, error) {
	actions, err := meta.EncodeActions(r.Actions)
	if err != nil {
		return r, fmt.Errorf("meta: update alert rule %d: %w", r.ID, err)
	}
	got, err := scanRule(m.db.pool.QueryRow(ctx, `UPDATE alert_rules SET name = $1, enabled = $2, trigger = $3, threshold = $4,
		window_ms = $5, min_level = $6, environment = $7, actions = $8::jsonb, updated_at = $9 WHERE id = $10 AND project_id = $11
		RETURNING `+ruleColumns,
		r.Name, r.Enabled, r.Trigger, r.Threshold, r.Window.Milliseconds(), r.MinLevel, r.Environment, actions, stamp(m.now()),
		r.ID, r.ProjectID))
	if err != nil {
		return r, fmt.Errorf("meta: update alert rule %d: %w", r.ID, err)
	}
	return got, nil
}

// DeleteAlertRule implements meta.Alerts.
func (m *Meta) DeleteAlertRule(ctx context.Context, projectID, id int64) error {
	tag, err := m.db.pool.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1 AND project_id = $2`, id, projectID)
	if err != nil {
		return fmt.Errorf("meta: delete alert rule %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("meta: delete alert rule %d: %w", id, meta.ErrNotFound)
	}
	return nil
}

// AlertRule implements meta.Alerts.
func (m *Meta) AlertRule(ctx context.Context, id int64) (meta.AlertRule, error) {
	r, err := scanRule(m.db.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1`, id))
	if err != nil {
		return r, fmt.Errorf("meta: alert rule %d: %w", id, err)
	}
	return r, nil
}

// ListAlertRules implements meta.Alerts.
func (m *Meta) ListAlertRules(ctx context.Context, projectID int64) ([]meta.AlertRule, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE project_id = $1 ORDER BY id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("meta: list alert rules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.AlertRule, error) { return scanRule(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list alert rules: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, rule_id, project_id, issue_id, key, trigger, action, payload, status, attempts, next_attempt,
	last_error, result, created_at, sent_at`

func scanDelivery(row pgx.Row, extra ...any) (meta.Delivery, error) {
	var d meta.Delivery
	var action []byte
	var sent *time.Time
	dest := append([]any{&d.ID, &d.RuleID, &d.ProjectID, &d.IssueID, &d.Key, &d.Trigger, &action, &d.Payload, &d.Status, &d.Attempts,
		&d.NextAttempt, &d.LastError, &d.Result, &d.CreatedAt, &sent}, extra...)
	if err := row.Scan(dest...); err != nil {
		return d, notFound(err)
	}
	if err := json.Unmarshal(action, &d.Action); err != nil {
		return d, fmt.Errorf("delivery %d action: %w", d.ID, err)
	}
	d.NextAttempt, d.CreatedAt = d.NextAttempt.UTC(), d.CreatedAt.UTC()
	if sent != nil {
		d.SentAt = sent.UTC()
	}
	return d, nil
}

// optTime maps the zero time to NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = stamp(t)
	return &t
}

// EnqueueDeliveries implements meta.Alerts. Two workers enqueuing the same
// key at once serialize on the key's unique index: the second waits for
// the first to commit and then skips the row.
func (m *Meta) EnqueueDeliveries(ctx context.Context, ds []meta.Delivery) ([]meta.Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	var out []meta.Delivery
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		now := stamp(m.now())
		batch := &pgx.Batch{}
		for i := range ds {
			action, err := json.Marshal(ds[i].Action)
			if err != nil {
				return fmt.Errorf("delivery %q action: %w", ds[i].Key, err)
			}
			next := ds[i].NextAttempt
			if next.IsZero() {
				next = now
			}
			payload := ds[i].Payload
			if payload == nil {
				payload = []byte{}
			}
			batch.Queue(`INSERT INTO alert_deliveries (rule_id, project_id, issue_id, key, trigger, action, payload, status,
				next_attempt, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 'pending', $8, $9)
				ON CONFLICT (key) DO NOTHING RETURNING id`,
				ds[i].RuleID, ds[i].ProjectID, ds[i].IssueID, ds[i].Key, ds[i].Trigger, string(action), payload, stamp(next), now)
		}
		br := tx.SendBatch(ctx, batch)
		for _, d := range ds {
			err := br.QueryRow().Scan(&d.ID)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // enqueued before: the idempotency key holds
			}
			if err != nil {
				br.Close()
				return fmt.Errorf("delivery %q: %w", d.Key, err)
			}
			if d.NextAttempt.IsZero() {
				d.NextAttempt = now
			}
			if d.Payload == nil {
				d.Payload = []byte{}
			}
			d.Status, d.Attempts, d.CreatedAt, d.NextAttempt = meta.DeliveryPending, 0, now, stamp(d.NextAttempt)
			out = append(out, d)
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("meta: enqueue deliveries: %w", err)
	}
	return out, nil
}

// ClaimDeliveries implements meta.Alerts. Selecting and pushing the lease
// forward is one statement whose rows are locked with SKIP LOCKED, so
// senders of several processes claiming at once each take different
// deliveries instead of waiting on each other or sending twice.
func (m *Meta) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]meta.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	until := stamp(now.Add(lease))
	rows, err := m.db.pool.Query(ctx, `WITH due AS (
			SELECT id, next_attempt FROM alert_deliveries WHERE status = 'pending' AND next_attempt <= $1
			ORDER BY next_attempt, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE alert_deliveries d SET next_attempt = $3 FROM due WHERE d.id = due.id
		RETURNING d.id, d.rule_id, d.project_id, d.issue_id, d.key, d.trigger, d.action, d.payload, d.status, d.attempts,
			d.next_attempt, d.last_error, d.result, d.created_at, d.sent_at, due.next_attempt`, stamp(now), limit, until)
	if err != nil {
		return nil, fmt.Errorf("meta: claim deliveries: %w", err)
	}
	type claimed struct {
		d   meta.Delivery
		due time.Time
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var c claimed
		var err error
		c.d, err = scanDelivery(r, &c.due)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: claim deliveries: %w", err)
	}
	// RETURNING does not keep the subquery's order.
	slices.SortFunc(cs, func(a, b claimed) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.d.ID, b.d.ID))
	})
	out := make([]meta.Delivery, len(cs))
	for i, c := range cs {
		out[i] = c.d
	}
	return out, nil
}

// FinishAttempt implements meta.Alerts.
func (m *Meta) FinishAttempt(ctx context.Context, d meta.Delivery) error {
	tag, err := m.db.pool.Exec(ctx, `UPDATE alert_deliveries SET status = $1, attempts = $2, next_attempt = $3, last_error = $4,
		result = $5, sent_at = $6 WHERE id = $7`, d.Status, d.Attempts, stamp(d.NextAttempt), d.LastError, d.Result, optTime(d.SentAt), d.ID)
	if err != nil {
		return fmt.Errorf("meta: finish delivery %d: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("meta: finish delivery %d: %w", d.ID, meta.ErrNotFound)
	}
	return nil
}

// Delivery implements meta.Alerts.
func (m *Meta) Delivery(ctx context.Context, id int64) (meta.Delivery, error) {
	d, err := scanDelivery(m.db.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM alert_deliveries WHERE id = $1`, id))
	if err != nil {
		return d, fmt.Errorf("meta: delivery %d: %w", id, err)
	}
	return d, nil
}

// ListDeliveries implements meta.Alerts.
func (m *Meta) ListDeliveries(ctx context.Context, q meta.DeliveryQuery) ([]meta.Delivery, error) {
	where, args := "project_id = $1", []any{q.ProjectID}
	if q.RuleID != 0 {
		args = append(args, q.RuleID)
		where += fmt.Sprintf(" AND rule_id = $%d", len(args))
	}
	if q.Status != "" {
		args = append(args, q.Status)
		where += fmt.Sprintf(" AND status = $%d", len(args))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	rows, err := m.db.pool.Query(ctx, fmt.Sprintf(`SELECT `+deliveryColumns+` FROM alert_deliveries WHERE `+where+
		` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("meta: list deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list deliveries: %w", err)
	}
	return out, nil
}

// CountIssueEvents implements meta.Alerts. Minutes are Unix minutes, as in
// SQLite; the upsert adds atomically, so concurrent workers counting the
// same issue lose nothing.
func (m *Meta) CountIssueEvents(ctx context.Context, issueID int64, at time.Time, n int, since, keep time.Time) (int64, error) {
	var total int64
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_issue_minutes (issue_id, minute, count) VALUES ($1, $2, $3)
				ON CONFLICT (issue_id, minute) DO UPDATE SET count = alert_issue_minutes.count + excluded.count`,
				issueID, at.Unix()/60, n); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM alert_issue_minutes WHERE issue_id = $1 AND minute < $2`,
			issueID, keep.Unix()/60); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT COALESCE(SUM(count), 0)::bigint FROM alert_issue_minutes WHERE issue_id = $1 AND minute >= $2`,
			issueID, since.Unix()/60).Scan(&total)
	})
	if err != nil {
		return 0, fmt.Errorf("meta: count issue %d events: %w", issueID, err)
	}
	return total, nil
}

// AddIssueLink implements meta.Alerts.
func (m *Meta) AddIssueLink(ctx context.Context, l meta.IssueLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = m.now()
	}
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO issue_links (issue_id, kind, url, title, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (issue_id, url) DO NOTHING`, l.IssueID, l.Kind, l.URL, l.Title, stamp(l.CreatedAt)); err != nil {
		return fmt.Errorf("meta: link issue %d: %w", l.IssueID, err)
	}
	return nil
}

// IssueLinks implements meta.Alerts.
func (m *Meta) IssueLinks(ctx context.Context, issueID int64) ([]meta.IssueLink, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT issue_id, kind, url, title, created_at FROM issue_links WHERE issue_id = $1
		ORDER BY created_at, url`, issueID)
	if err != nil {
		return nil, fmt.Errorf("meta: issue %d links: %w", issueID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.IssueLink, error) {
		var l meta.IssueLink
		err := r.Scan(&l.IssueID, &l.Kind, &l.URL, &l.Title, &l.CreatedAt)
		l.CreatedAt = l.CreatedAt.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: issue %d links: %w", issueID, err)
	}
	return out, nil
}

// OrgMemberEmails implements meta.Alerts.
func (m *Meta) OrgMemberEmails(ctx context.Context, orgID int64) ([]string, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT u.email FROM org_members om JOIN users u ON u.id = om.user_id
		WHERE om.org_id = $1 ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: organization %d members: %w", orgID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("meta: organization %d members: %w", orgID, err)
	}
	return out, nil
}

const releaseColumns = `id, org_id, version, projects, refs, created_at`

func scanRelease(row pgx.Row) (meta.Release, error) {
	var r meta.Release
	var refs []byte
	if err := row.Scan(&r.ID, &r.OrgID, &r.Version, &r.Projects, &refs, &r.CreatedAt); err != nil {
		return r, notFound(err)
	}
	if err := json.Unmarshal(refs, &r.Refs); err != nil {
		return r, fmt.Errorf("release %d refs: %w", r.ID, err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// jsonRefs encodes a release's refs; none is an empty array.
func jsonRefs(refs []meta.ReleaseRef) (string, error) {
	if refs == nil {
		return "[]", nil
	}
	b, err := json.Marshal(refs)
	return string(b), err
}

// UpsertRelease implements meta.Releases. The insert either creates the
// release or finds it; in the second case the row is locked before the
// projects are merged, so concurrent uploads for the same version neither
// fail on the unique version nor drop each other's projects.
func (m *Meta) UpsertRelease(ctx context.Context, r meta.Release) (meta.Release, error) {
	var out meta.Release
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if r.CreatedAt.IsZero() {
			r.CreatedAt = m.now()
		}
		r.CreatedAt = stamp(r.CreatedAt)
		refs, err := jsonRefs(r.Refs)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO releases (org_id, version, projects, refs, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)
			ON CONFLICT (org_id, version) DO NOTHING RETURNING id`, r.OrgID, r.Version, nonNil(r.Projects), refs, r.CreatedAt).Scan(&r.ID)
		if err == nil {
			out = r
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		cur, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE org_id = $1 AND version = $2 FOR UPDATE`,
			r.OrgID, r.Version))
		if err != nil {
			return err
		}
		for _, p := range r.Projects {
			if !slices.Contains(cur.Projects, p) {
				cur.Projects = append(cur.Projects, p)
			}
		}
		if r.Refs != nil {
			cur.Refs = r.Refs
		}
		if refs, err = jsonRefs(cur.Refs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE releases SET projects = $1, refs = $2::jsonb WHERE id = $3`,
			nonNil(cur.Projects), refs, cur.ID); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("meta: upsert release %q: %w", r.Version, err)
	}
	return out, nil
}

// Release implements meta.Releases.
func (m *Meta) Release(ctx context.Context, orgID int64, version string) (meta.Release, error) {
	r, err := scanRelease(m.db.pool.QueryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE org_id = $1 AND version = $2`,
		orgID, version))
	if err != nil {
		return r, fmt.Errorf("meta: release %q: %w", version, err)
	}
	return r, nil
}

// SetReleaseCommits implements meta.Releases. The release row is locked
// first: two replacements of the same commits interleaving their deletes
// and inserts would otherwise collide on the sequence numbers.
func (m *Meta) SetReleaseCommits(ctx context.Context, releaseID int64, repository string, cs []meta.Commit) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM releases WHERE id = $1 FOR UPDATE`, releaseID).Scan(&id); err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM release_commits WHERE release_id = $1 AND repository = $2`, releaseID, repository); err != nil {
			return err
		}
		rows := make([][]any, len(cs))
		for i, c := range cs {
			rows[i] = []any{releaseID, repository, i, c.SHA, c.Message, c.AuthorName, c.AuthorEmail, c.URL, optTime(c.Time)}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"release_commits"},
			[]string{"release_id", "repository", "seq", "sha", "message", "author_name", "author_email", "url", "time"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: set release %d commits: %w", releaseID, err)
	}
	return nil
}

// ReleaseCommits implements meta.Releases.
func (m *Meta) ReleaseCommits(ctx context.Context, releaseID int64) ([]meta.Commit, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT repository, sha, message, author_name, author_email, url, time FROM release_commits
		WHERE release_id = $1 ORDER BY repository, seq`, releaseID)
	if err != nil {
		return nil, fmt.Errorf("meta: release %d commits: %w", releaseID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Commit, error) {
		var c meta.Commit
		var t *time.Time
		err := r.Scan(&c.Repository, &c.SHA, &c.Message, &c.AuthorName, &c.AuthorEmail, &c.URL, &t)
		if t != nil {
			c.Time = t.UTC()
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: release %d commits: %w", releaseID, err)
	}
	return out, nil
}
