package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

var _ meta.IssueDeleter = (*Meta)(nil)

// issueRefs are the tables whose rows name an issue by id without a
// foreign key, all cleared with the issue: its counted events, its users,
// its per-minute alert counts, its links to external trackers and the
// feedback on its events. alert_deliveries is not among them: deliveries
// are history, kept like those of deleted rules.
var issueRefs = []string{"issue_events", "issue_users", "alert_issue_minutes", "issue_links", "user_reports"}

// DeleteIssues implements meta.IssueDeleter in one transaction whatever
// the number of issues. The issues' grouping hashes are locked first with
// the advisory locks GroupIssues takes, in the same order, so a worker
// grouping an event of a deleted issue either finished before (and its
// occurrence fails to record, to be retried) or waits and opens a new
// issue; then the issue rows are locked in id order, as RecordOccurrences
// locks them.
func (m *Meta) DeleteIssues(ctx context.Context, projectID int64, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT hash FROM issue_hashes WHERE project_id = $1 AND issue_id = ANY($2::bigint[])
			ORDER BY hash`, projectID, ids)
		if err != nil {
			return fmt.Errorf("hashes: %w", err)
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("hashes: %w", err)
		}
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::bigint::text || ':' || $2, 0))`,
				projectID, h); err != nil {
				return fmt.Errorf("lock hash: %w", err)
			}
		}
		// Only the project's own issues go further: ids of other projects
		// are dropped here, so the tables without a project column below
		// never lose another project's rows.
		rows, err = tx.Query(ctx, `SELECT id FROM issues WHERE project_id = $1 AND id = ANY($2::bigint[])
			ORDER BY id FOR UPDATE`, projectID, ids)
		if err != nil {
			return fmt.Errorf("lock issues: %w", err)
		}
		mine, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("lock issues: %w", err)
		}
		if len(mine) == 0 {
			return nil
		}
		// Hashes reference the issue, so they go before it.
		if _, err := tx.Exec(ctx, `DELETE FROM issue_hashes WHERE issue_id = ANY($1::bigint[])`, mine); err != nil {
			return fmt.Errorf("issue_hashes: %w", err)
		}
		for _, table := range issueRefs {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE issue_id = ANY($1::bigint[])`, mine); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM issues WHERE id = ANY($1::bigint[])`, mine)
		if err != nil {
			return fmt.Errorf("issues: %w", err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("meta: delete issues: %w", err)
	}
	return n, nil
}
