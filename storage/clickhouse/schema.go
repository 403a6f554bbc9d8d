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
}

// migrate creates the database if needed and applies the migrations newer
// than the highest version recorded in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
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
	for _, m := range migrations {
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
