package clickhouse

import (
	"context"
	"fmt"
	"strings"
)

// migration is one step of the schema. Its statements are idempotent
// (IF NOT EXISTS) so that a step interrupted half-way, or applied by two
// processes starting at once, is simply applied again.
type migration struct {
	version  uint32
	stmtList []string
}

// migrations is the schema history; append, never edit. {db} stands for the
// quoted database name.
//
// Timestamps are Int64 Unix microseconds: 18.16 has no DateTime64, and
// events carry microsecond precision. Tables are partitioned by the month of
// received_at, a server-side clock, so that a hostile client timestamp cannot
// create thousands of partitions, and so old months can be dropped whole.
var migrations = []migration{
	{version: 1, stmtList: []string{
		// events holds whole events, found by (project, event id). Its sort
		// key is the idempotency key: ReplacingMergeTree collapses rows
		// that two writers inserted concurrently, and reads take one row
		// per key meanwhile. Event ids are random, so a page of an issue
		// touches one granule per event: small granules keep that from
		// reading most of the table (with the default 8192, 50 lookups in
		// a million events read 660k rows).
		`CREATE TABLE IF NOT EXISTS {db}.events (
			project_id Int64,
			event_id String,
			issue_id Int64,
			timestamp Int64,
			received_at Int64,
			level String,
			platform String,
			release String,
			environment String,
			title String,
			user_key String,
			tags Nested(key String, value String),
			data String
		) ENGINE = ReplacingMergeTree()
		PARTITION BY toYYYYMM(toDateTime(intDiv(received_at, 1000000)))
		ORDER BY (project_id, event_id)
		SETTINGS index_granularity = 1024`,
		// events_by_issue is the narrow copy the issue pages read: sorted
		// by issue and time so an issue's list and histograms read only
		// that granules, and without data so scans stay small.
		`CREATE TABLE IF NOT EXISTS {db}.events_by_issue (
			project_id Int64,
			issue_id Int64,
			event_id String,
			timestamp Int64,
			received_at Int64,
			level String,
			platform String,
			release String,
			environment String,
			user_key String,
			tags Nested(key String, value String)
		) ENGINE = ReplacingMergeTree()
		PARTITION BY toYYYYMM(toDateTime(intDiv(received_at, 1000000)))
		ORDER BY (issue_id, timestamp, project_id, event_id)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_by_issue_mv TO {db}.events_by_issue AS
		SELECT project_id, issue_id, event_id, timestamp, received_at, level, platform, release, environment,
			user_key, tags.key, tags.value
		FROM {db}.events`,
		// issue_users answers "has this user been seen in this issue" from
		// its sort key instead of scanning the events.
		`CREATE TABLE IF NOT EXISTS {db}.issue_users (
			issue_id Int64,
			user_key String
		) ENGINE = ReplacingMergeTree()
		ORDER BY (issue_id, user_key)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.issue_users_mv TO {db}.issue_users AS
		SELECT issue_id, user_key FROM {db}.events WHERE user_key != ''`,
	}},
	{version: 2, stmtList: []string{
		// issue_minutes pre-aggregates an issue's events per minute of
		// their timestamp: rows inserted (duplicates included) and a uniq
		// state of the event ids. Where the two agree the minute holds no
		// duplicate (see countsAggregated); row counts also tell
		// ListByIssue how far back its page reaches. Small granules let a
		// day of one issue (1440 rows) be read by both cores.
		`CREATE TABLE IF NOT EXISTS {db}.issue_minutes (
			issue_id Int64,
			project_id Int64,
			minute Int64,
			month UInt32,
			row_count AggregateFunction(count),
			event_ids AggregateFunction(uniq, String)
		) ENGINE = AggregatingMergeTree()
		PARTITION BY month
		ORDER BY (issue_id, project_id, minute)
		SETTINGS index_granularity = 256`,
		// issue_hours keeps an issue's users per hour: distinct users do
		// not add up across minutes, and merging an hour's minute states
		// would cost as much as counting the raw rows.
		`CREATE TABLE IF NOT EXISTS {db}.issue_hours (
			issue_id Int64,
			project_id Int64,
			hour Int64,
			month UInt32,
			users AggregateFunction(uniqIf, String, UInt8)
		) ENGINE = AggregatingMergeTree()
		PARTITION BY month
		ORDER BY (issue_id, project_id, hour)`,
		// The views exist before the backfill reads, so an event inserted
		// meanwhile is counted at least once; counted twice, it only
		// makes its minute disagree and be counted from the raw rows.
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.issue_minutes_mv TO {db}.issue_minutes AS
		SELECT issue_id, project_id, ` + minuteExpr + ` AS minute, ` + monthExpr + ` AS month,
			countState() AS row_count, uniqState(event_id) AS event_ids
		FROM {db}.events
		GROUP BY issue_id, project_id, minute, month`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.issue_hours_mv TO {db}.issue_hours AS
		SELECT issue_id, project_id, ` + hourExpr + ` AS hour, ` + monthExpr + ` AS month,
			uniqIfState(user_key, user_key != '') AS users
		FROM {db}.events
		GROUP BY issue_id, project_id, hour, month`,
		// Backfill from the narrow copy. A step interrupted after this
		// statement runs it again; the repeated rows are harmless for the
		// same reason as above, and for users a uniq state absorbs them.
		`INSERT INTO {db}.issue_minutes (issue_id, project_id, minute, month, row_count, event_ids)
		SELECT issue_id, project_id, ` + minuteExpr + ` AS minute, ` + monthExpr + ` AS month,
			countState(), uniqState(event_id)
		FROM {db}.events_by_issue
		GROUP BY issue_id, project_id, minute, month`,
		`INSERT INTO {db}.issue_hours (issue_id, project_id, hour, month, users)
		SELECT issue_id, project_id, ` + hourExpr + ` AS hour, ` + monthExpr + ` AS month,
			uniqIfState(user_key, user_key != '')
		FROM {db}.events_by_issue
		GROUP BY issue_id, project_id, hour, month`,
	}},
}

// Bucket widths of the pre-aggregated tables, in microseconds.
const (
	minuteMicros = 60_000_000
	hourMicros   = 3_600_000_000
)

// floorExpr rounds the Int64 column col down to a multiple of unit. intDiv
// truncates towards zero, which would put the minute before 1970 into the
// bucket after it. It avoids %, whose result 18.16 types as Int32 when the
// divisor is a UInt32 literal, wrapping for an hour in microseconds.
func floorExpr(col string, unit int64) string {
	return fmt.Sprintf("(intDiv(%[1]s, toInt64(%[2]d)) - (%[1]s < intDiv(%[1]s, toInt64(%[2]d)) * %[2]d)) * %[2]d",
		col, unit)
}

var (
	minuteExpr = floorExpr("timestamp", minuteMicros)
	hourExpr   = floorExpr("timestamp", hourMicros)
	// monthExpr is the partition of the event tables, so that dropping a
	// month drops its aggregates too.
	monthExpr = "toYYYYMM(toDateTime(intDiv(received_at, 1000000)))"
)

// floorDiv is the Go side of floorExpr: a / m rounded down.
func floorDiv(a, m int64) int64 {
	q := a / m
	if a%m < 0 {
		q--
	}
	return q
}

// migrate creates the database if needed and applies the steps newer than
// the highest version recorded in schema_migrations.
func (s *Store) migrate(ctx context.Context, steps []migration) error {
	if err := s.conn.Exec(ctx, `CREATE DATABASE IF NOT EXISTS `+s.db); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := s.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.db+`.schema_migrations (
		version UInt32,
		applied_at DateTime DEFAULT now()
	) ENGINE = MergeTree() ORDER BY version`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current uint32
	if err := s.conn.QueryRow(ctx, `SELECT max(version) FROM `+s.db+`.schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	for _, m := range steps {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.stmtList {
			if err := s.conn.Exec(ctx, strings.ReplaceAll(stmt, "{db}", s.db)); err != nil {
				return fmt.Errorf("migration %d: %w", m.version, err)
			}
		}
		// INSERT ... VALUES through Exec waits forever on 18.16 (the driver
		// expects a data exchange the old server does not start); INSERT
		// ... SELECT is an ordinary query.
		if err := s.conn.Exec(ctx, `INSERT INTO `+s.db+`.schema_migrations (version) SELECT toUInt32(?)`, m.version); err != nil {
			return fmt.Errorf("migration %d: record: %w", m.version, err)
		}
	}
	return nil
}
