package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// This file holds the events package's optional interfaces the issue pages
// probe for beyond the histograms of query.go: tag counts, tag search and
// deleting an issue's events. Tags are counted and matched as
// events.TagList defines them: release, environment and level first, then
// the payload's tags, the first value of each key winning.

// TagCounts implements events.TagCounter. The newest events are read from
// events_by_issue within the window issue_minutes says holds them (as
// ListByIssue does), one row per event however many copies are not yet
// merged, and their tags are counted here through events.TagList.
func (s *Store) TagCounts(ctx context.Context, projectID, issueID int64, newest int) (int64, []events.TagCount, error) {
	if newest <= 0 {
		newest = 1000
	}
	target := newest
	var evs []issueTags
	for {
		from, err := s.windowStart(ctx, issueID, target)
		if err != nil {
			return 0, nil, fmt.Errorf("clickhouse: tag counts: %w", err)
		}
		if evs, err = s.newestTags(ctx, projectID, issueID, from, newest); err != nil {
			return 0, nil, fmt.Errorf("clickhouse: tag counts: %w", err)
		}
		// Copies not yet merged, or another project's rows, may fill the
		// window: widen it until it holds enough or is the whole issue.
		if len(evs) >= newest || from == math.MinInt64 {
			break
		}
		target *= 2
	}
	type kv struct{ k, v string }
	counts := map[kv]int64{}
	for _, ev := range evs {
		payload := make([][2]string, 0, len(ev.keys))
		for i, k := range ev.keys {
			if i < len(ev.values) {
				payload = append(payload, [2]string{k, ev.values[i]})
			}
		}
		for _, t := range events.TagList(ev.release, ev.environment, ev.level, payload) {
			counts[kv{t[0], t[1]}]++
		}
	}
	out := make([]events.TagCount, 0, len(counts))
	for t, n := range counts {
		out = append(out, events.TagCount{Key: t.k, Value: t.v, Count: n})
	}
	slices.SortFunc(out, func(a, b events.TagCount) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	return int64(len(evs)), out, nil
}

// issueTags is what TagCounts reads of one event.
type issueTags struct {
	release, environment, level string
	keys, values                []string
}

// newestTags returns the tag columns of the issue's newest limit events of
// the project at or after from, one row per event.
func (s *Store) newestTags(ctx context.Context, projectID, issueID, from int64, limit int) ([]issueTags, error) {
	rows, err := s.conn.Query(ctx, `SELECT event_id, max(timestamp) AS ts, any(release), any(environment), any(level),
			any(tags.key), any(tags.value)
		FROM `+s.db+`.events_by_issue
		WHERE issue_id = ? AND project_id = ? AND timestamp >= ?
		GROUP BY event_id
		ORDER BY ts DESC, event_id DESC
		LIMIT ?`, issueID, projectID, from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []issueTags
	for rows.Next() {
		var id string
		var ts int64
		var t issueTags
		if err := rows.Scan(&id, &ts, &t.release, &t.environment, &t.level, &t.keys, &t.values); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// builtinTags are the event columns events.TagList puts before the
// payload's tags.
var builtinTags = []string{"release", "environment", "level"}

// tagExpr is the SQL value of tag key k of a row of events, or the empty string when
// the row has none: the column for the built-in keys unless empty, else
// the first payload tag of that key (indexOf finds the first; element 0 of
// an array is the empty default).
func tagExpr(k string) string {
	payload := "tags.value[indexOf(tags.key, " + quote(k) + ")]"
	if slices.Contains(builtinTags, k) {
		return "if(" + k + " != '', " + k + ", " + payload + ")"
	}
	return payload
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// MatchIssues implements events.IssueMatcher with one scan of the
// project's rows of events, whose sort key starts with the project; only
// the columns of the conditions are read. An issue matches when each
// condition holds for some row of it. In SQL the tags follow TagList but
// for its bounds (tag count, key and value lengths) and a key whose first
// payload value is empty, which only odd payloads carry.
func (s *Store) MatchIssues(ctx context.Context, projectID int64, f events.IssueFilter, limit int) ([]int64, error) {
	conds := slices.Clone(f.Tags)
	if f.Release != "" {
		conds = append(conds, [2]string{"release", f.Release})
	}
	if f.Environment != "" {
		conds = append(conds, [2]string{"environment", f.Environment})
	}
	if len(conds) == 0 {
		return nil, fmt.Errorf("clickhouse: match issues: no condition")
	}
	if limit <= 0 {
		limit = 10000
	}
	some, all := make([]string, len(conds)), make([]string, len(conds))
	for i, c := range conds {
		e := "(" + tagExpr(c[0]) + " = " + quote(c[1]) + ")"
		some[i], all[i] = e, "max"+e+" = 1"
	}
	rows, err := s.conn.Query(ctx, `SELECT issue_id FROM `+s.db+`.events
		WHERE project_id = ? AND (`+strings.Join(some, " OR ")+`)
		GROUP BY issue_id
		HAVING `+strings.Join(all, " AND ")+`
		LIMIT ?`, projectID, limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: match issues: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse: match issues: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: match issues: %w", err)
	}
	return out, nil
}

// DeleteIssueEvents implements events.IssueEventsDeleter. 18.16 has no
// lightweight DELETE: each table gets an ALTER TABLE ... DELETE mutation,
// which rewrites the parts holding the rows in the background, and the
// call returns once the mutations are done, so what it deleted is gone
// from every read. That makes deleting a heavy operation, meant for the
// occasional issue a person deletes, not for retention (which drops whole
// months).
//
// The aggregates go too, or the histograms would keep counting deleted
// events, and so do the issue's users, or a returning user would not count
// as new. issue_users has no project column; an issue id belongs to one
// project, and only ids with events in this project reach it. The count
// returned is of distinct events, read before the mutations.
func (s *Store) DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error) {
	if len(issueIDs) == 0 {
		return 0, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT issue_id, uniqExact(event_id) FROM `+s.db+`.events_by_issue
		WHERE issue_id IN (`+intList(issueIDs)+`) AND project_id = ?
		GROUP BY issue_id`, projectID)
	if err != nil {
		return 0, fmt.Errorf("clickhouse: delete issue events: %w", err)
	}
	var mine []int64
	var n int64
	for rows.Next() {
		var id int64
		var c uint64
		if err := rows.Scan(&id, &c); err != nil {
			rows.Close()
			return 0, fmt.Errorf("clickhouse: delete issue events: %w", err)
		}
		mine = append(mine, id)
		n += int64(c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("clickhouse: delete issue events: %w", err)
	}
	if len(mine) == 0 {
		return 0, nil
	}
	in := intList(mine)
	byProject := `issue_id IN (` + in + `) AND project_id = ` + strconv.FormatInt(projectID, 10)
	// The aggregates and the narrow copy first: were a later mutation to
	// fail, the events would still be found and a retry would delete
	// them, rather than counts outliving their events.
	for _, m := range []struct{ table, where string }{
		{"issue_minutes", byProject},
		{"issue_hours", byProject},
		{"issue_users", `issue_id IN (` + in + `)`},
		{"events_by_issue", byProject},
		{"events", byProject},
	} {
		if err := s.conn.Exec(ctx, `ALTER TABLE `+s.db+`.`+m.table+` DELETE WHERE `+m.where); err != nil {
			return 0, fmt.Errorf("clickhouse: delete issue events: %s: %w", m.table, err)
		}
	}
	if err := s.awaitMutations(ctx); err != nil {
		return 0, fmt.Errorf("clickhouse: delete issue events: %w", err)
	}
	return n, nil
}

// awaitMutations returns once no mutation of the database is pending. It
// polls system.mutations (18.16 has no mutations_sync), backing off from
// 20 ms to a second.
func (s *Store) awaitMutations(ctx context.Context) error {
	wait := 20 * time.Millisecond
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0`,
			s.name).Scan(&pending); err != nil {
			return fmt.Errorf("mutations: %w", err)
		}
		if pending == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("mutations: %d pending: %w", pending, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// intList is ids as a SQL list; integers need no quoting, and a literal
// list lets the primary key narrow the read.
func intList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}
