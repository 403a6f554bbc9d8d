// Package clickhouse is the production events.Store, on ClickHouse through
// the native protocol of clickhouse-go/v2 (the role Snuba plays for Sentry).
//
// It targets ClickHouse 18.16, Debian's package, and so avoids what that
// version lacks: DateTime64 (timestamps are Int64 Unix microseconds), Map
// and JSON (tags are a Nested column of parallel key and value arrays),
// projections (a materialized view keeps an issue-sorted copy), lightweight
// deletes and the driver's HTTP mode (its settings are refused by 18.16).
//
// ClickHouse has no unique keys. Put asks which events of a batch are stored
// before inserting the rest, and the tables are ReplacingMergeTrees keyed by
// (project, event id), so rows that concurrent writers both inserted collapse
// on merge; until then every read takes one row per (project, event id), so
// a duplicate is never visible. Materialized views also keep per-minute and
// per-hour aggregates of each issue (issue_minutes, issue_hours), from
// which the issue pages' histogram and list window are read; those count
// duplicates too, and the reads detect and discount them. Put is not atomic: a failed Put may have
// stored part of its batch, which the at-least-once queue's retry completes.
//
// Beyond events.Store, the store answers the issue pages' optional
// interfaces (histograms, sparklines, tag counts, tag search) from the
// tables above, and deletes an issue's events with ALTER TABLE ... DELETE
// mutations, the only delete 18.16 has, waiting for them to finish.
package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cairn-dev/cairn/storage/events"
)

// Config locates the server and the database.
type Config struct {
	// Addr is the host:port of the native protocol (default
	// 127.0.0.1:9000).
	Addr string
	// Database holds Cairn's tables; Open creates it (default "cairn").
	Database string
	// Username and Password authenticate (default user "default").
	Username string
	Password string
	// DialTimeout bounds connecting and waiting for a pooled connection
	// (default 10 s).
	DialTimeout time.Duration
	// MaxOpenConns bounds the connection pool (default 10).
	MaxOpenConns int
}

// Store is the ClickHouse events.Store, with the queries of the issue pages
// beside it. It is safe for concurrent use.
type Store struct {
	conn driver.Conn
	db   string // quoted database name
	name string // the database name unquoted, as system tables spell it
}

var (
	_ events.Store              = (*Store)(nil)
	_ events.Histogrammer       = (*Store)(nil)
	_ events.IssueHistogrammer  = (*Store)(nil)
	_ events.TagCounter         = (*Store)(nil)
	_ events.IssueMatcher       = (*Store)(nil)
	_ events.IssueEventsDeleter = (*Store)(nil)
)

// validDatabase keeps the database name, which is spliced into statements,
// to plain identifiers.
var validDatabase = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects, creates the database and its tables if missing and brings
// the schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	return open(ctx, cfg, migrations)
}

// open is Open bringing the schema up to the given steps, so tests can
// create a database as an older version left it.
func open(ctx context.Context, cfg Config, steps []migration) (*Store, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9000"
	}
	if cfg.Database == "" {
		cfg.Database = "cairn"
	}
	if cfg.Username == "" {
		cfg.Username = "default"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 10
	}
	if !validDatabase.MatchString(cfg.Database) {
		return nil, fmt.Errorf("clickhouse: open: invalid database name %q", cfg.Database)
	}
	conn, err := ch.Open(&ch.Options{
		Protocol: ch.Native,
		Addr:     []string{cfg.Addr},
		// The session starts in the server's default database because
		// ours may not exist yet; statements name it explicitly.
		Auth:         ch.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: cfg.MaxOpenConns,
		Compression:  &ch.Compression{Method: ch.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", cfg.Addr, err)
	}
	s := &Store{conn: conn, db: "`" + cfg.Database + "`", name: cfg.Database}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: open %s: %w", cfg.Addr, err)
	}
	if err := s.migrate(ctx, steps); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	return s, nil
}

// Close implements events.Store.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: close: %w", err)
	}
	return nil
}

// eventColumns are read back into events.Event by scanEvent; tags are not,
// since Event carries them only inside Data.
const eventColumns = `project_id, event_id, issue_id, timestamp, received_at, level, platform, release, environment,
	title, user_key, data`

type rowScanner interface{ Scan(dest ...any) error }

func scanEvent(r rowScanner) (*events.Event, error) {
	var ev events.Event
	var ts, rcv int64
	var data string
	if err := r.Scan(&ev.ProjectID, &ev.EventID, &ev.IssueID, &ts, &rcv, &ev.Level, &ev.Platform, &ev.Release,
		&ev.Environment, &ev.Title, &ev.UserKey, &data); err != nil {
		return nil, err
	}
	ev.Timestamp, ev.ReceivedAt = fromMicros(ts), fromMicros(rcv)
	ev.Data = []byte(data)
	return &ev, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// refsTable carries a list of (project, event id) to the server as an
// external table, so a lookup is one query whatever the batch size
// (literal IN lists would hit max_query_size near 6000 refs).
func refsTable(refs []events.Ref) (*ext.Table, error) {
	t, err := ext.NewTable("refs", ext.Column("project_id", "Int64"), ext.Column("event_id", "String"))
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if err := t.Append(r.ProjectID, r.EventID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// stored returns which refs have a row in events.
func (s *Store) stored(ctx context.Context, refs []events.Ref) (map[events.Ref]bool, error) {
	out := make(map[events.Ref]bool, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	t, err := refsTable(refs)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(t)), `SELECT DISTINCT project_id, event_id
		FROM `+s.db+`.events WHERE (project_id, event_id) IN (SELECT project_id, event_id FROM refs)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r events.Ref
		if err := rows.Scan(&r.ProjectID, &r.EventID); err != nil {
			return nil, err
		}
		out[r] = true
	}
	return out, rows.Err()
}

type issueUser struct {
	issueID int64
	userKey string
}

// knownUsers returns which (issue, user) pairs have an event stored.
func (s *Store) knownUsers(ctx context.Context, pairs []issueUser) (map[issueUser]bool, error) {
	out := make(map[issueUser]bool, len(pairs))
	if len(pairs) == 0 {
		return out, nil
	}
	t, err := ext.NewTable("pairs", ext.Column("issue_id", "Int64"), ext.Column("user_key", "String"))
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		if err := t.Append(p.issueID, p.userKey); err != nil {
			return nil, err
		}
	}
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(t)), `SELECT DISTINCT issue_id, user_key
		FROM `+s.db+`.issue_users WHERE (issue_id, user_key) IN (SELECT issue_id, user_key FROM pairs)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p issueUser
		if err := rows.Scan(&p.issueID, &p.userKey); err != nil {
			return nil, err
		}
		out[p] = true
	}
	return out, rows.Err()
}

// Put implements events.Store. It costs three round trips whatever the batch
// size: the stored events, the issues' known users, the insert. Two
// concurrent Puts of the same event may both report it inserted; only one
// copy is ever visible.
func (s *Store) Put(ctx context.Context, evs []*events.Event) ([]events.PutResult, error) {
	out := make([]events.PutResult, len(evs))
	if len(evs) == 0 {
		return out, nil
	}
	refs := make([]events.Ref, 0, len(evs))
	for i, ev := range evs {
		if ev == nil {
			return nil, fmt.Errorf("clickhouse: put: event %d is nil", i)
		}
		refs = append(refs, events.Ref{ProjectID: ev.ProjectID, EventID: ev.EventID})
	}
	have, err := s.stored(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: put: stored events: %w", err)
	}
	var ins []int
	var pairs []issueUser
	seenPair := map[issueUser]bool{}
	for i, r := range refs {
		if have[r] {
			continue
		}
		have[r] = true // a repeat later in the batch is not inserted again
		ins = append(ins, i)
		if p := (issueUser{evs[i].IssueID, evs[i].UserKey}); p.userKey != "" && !seenPair[p] {
			seenPair[p] = true
			pairs = append(pairs, p)
		}
	}
	if len(ins) == 0 {
		return out, nil
	}
	known, err := s.knownUsers(ctx, pairs)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: put: known users: %w", err)
	}
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.db+`.events (project_id, event_id, issue_id, timestamp,
		received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: put: %w", err)
	}
	defer batch.Abort()
	for _, i := range ins {
		ev := evs[i]
		keys, values := extractTags(ev.Data)
		if err := batch.Append(ev.ProjectID, ev.EventID, ev.IssueID, micros(ev.Timestamp), micros(ev.ReceivedAt),
			ev.Level, ev.Platform, ev.Release, ev.Environment, ev.Title, ev.UserKey, keys, values, ev.Data); err != nil {
			return nil, fmt.Errorf("clickhouse: put: event %s: %w", ev.EventID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return nil, fmt.Errorf("clickhouse: put: %w", err)
	}
	for _, i := range ins {
		out[i].Inserted = true
		if p := (issueUser{evs[i].IssueID, evs[i].UserKey}); p.userKey != "" && !known[p] {
			known[p] = true
			out[i].NewUser = true
		}
	}
	return out, nil
}

// Get implements events.Store.
func (s *Store) Get(ctx context.Context, projectID int64, eventID string) (*events.Event, error) {
	// LIMIT 1 hides a not yet merged duplicate.
	ev, err := scanEvent(s.conn.QueryRow(ctx, `SELECT `+eventColumns+` FROM `+s.db+`.events
		WHERE project_id = ? AND event_id = ? LIMIT 1`, projectID, strings.ToLower(eventID)))
	if errors.Is(err, sql.ErrNoRows) {
		err = events.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse: get %s: %w", eventID, err)
	}
	return ev, nil
}

// Exists implements events.Store, in one query.
func (s *Store) Exists(ctx context.Context, refs []events.Ref) (map[events.Ref]bool, error) {
	out, err := s.stored(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: exists: %w", err)
	}
	return out, nil
}

// ListByIssue implements events.Store. Events of equal timestamp are
// ordered by event id, descending.
//
// The page is chosen in events_by_issue, then read whole from events. 18.16
// cannot read a table in sort order, so choosing among all of an issue's
// rows would read and sort them all; instead issue_minutes tells from which
// minute on the newest offset+limit+1 rows lie, and only that window is
// read and sorted. Its counts include rows not yet merged away, so the
// window can hold fewer events than it promised; duplicates are dropped
// client-side and a short window is widened until it holds enough or is the
// whole issue. Every event at or after the window's start is read, so the
// newest events of the window are the newest of the issue.
func (s *Store) ListByIssue(ctx context.Context, issueID int64, offset, limit int) ([]*events.Event, bool, error) {
	if limit <= 0 {
		limit = 100
	}
	offset = max(offset, 0)
	need := offset + limit + 1
	target, window := need, need
	from, err := s.windowStart(ctx, issueID, target)
	if err != nil {
		return nil, false, fmt.Errorf("clickhouse: list: %w", err)
	}
	var refs []events.Ref
	for {
		var raw int
		refs, raw, err = s.issueRefs(ctx, issueID, from, window)
		if err != nil {
			return nil, false, fmt.Errorf("clickhouse: list: %w", err)
		}
		if len(refs) >= need {
			break
		}
		if raw == window {
			// Duplicates used up the read; more rows lie in the window.
			window *= 2
			continue
		}
		if from == math.MinInt64 {
			break // the whole issue was read
		}
		target *= 2
		if from, err = s.windowStart(ctx, issueID, target); err != nil {
			return nil, false, fmt.Errorf("clickhouse: list: %w", err)
		}
	}
	more := len(refs) > offset+limit
	if offset >= len(refs) {
		return nil, more, nil
	}
	refs = refs[offset:min(offset+limit, len(refs))]
	byRef, err := s.getMany(ctx, refs)
	if err != nil {
		return nil, false, fmt.Errorf("clickhouse: list: %w", err)
	}
	out := make([]*events.Event, 0, len(refs))
	for _, r := range refs {
		if ev := byRef[r]; ev != nil {
			out = append(out, ev)
		}
	}
	return out, more, nil
}

// windowStart returns the start of the newest minute from which on
// issue_minutes counts at least target rows of the issue, or math.MinInt64
// when all its minutes together count fewer. It walks back from the newest
// minute over spans growing eightfold, so an issue with a long history
// costs one more short query rather than a read of all its minutes.
func (s *Store) windowStart(ctx context.Context, issueID int64, target int) (int64, error) {
	var n uint64
	var first, last int64
	if err := s.conn.QueryRow(ctx, `SELECT count(), min(minute), max(minute) FROM `+s.db+`.issue_minutes
		WHERE issue_id = ?`, issueID).Scan(&n, &first, &last); err != nil {
		return 0, fmt.Errorf("window: %w", err)
	}
	// Without minutes there is nothing to narrow by; minutes at the ends
	// of Int64 (hostile timestamps) would overflow the walk.
	if n == 0 || first < math.MinInt64+minuteMicros || last > math.MaxInt64-minuteMicros {
		return math.MinInt64, nil
	}
	covered := uint64(0)
	upper := last + minuteMicros // exclusive
	for span := int64(hourMicros); ; span = min(span, 1<<59) * 8 {
		lower := upper - span
		if lower <= first || lower > upper { // reached the oldest minute, or wrapped
			lower = first
		}
		rows, err := s.conn.Query(ctx, `SELECT minute, countMerge(row_count) FROM `+s.db+`.issue_minutes
			WHERE issue_id = ? AND minute >= ? AND minute < ?
			GROUP BY minute ORDER BY minute DESC`, issueID, lower, upper)
		if err != nil {
			return 0, fmt.Errorf("window: %w", err)
		}
		for rows.Next() {
			var minute int64
			var c uint64
			if err := rows.Scan(&minute, &c); err != nil {
				rows.Close()
				return 0, fmt.Errorf("window: %w", err)
			}
			if covered += c; covered >= uint64(target) {
				rows.Close()
				return minute, nil
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, fmt.Errorf("window: %w", err)
		}
		if lower == first {
			return math.MinInt64, nil
		}
		upper = lower
	}
}

// issueRefs returns the distinct refs among the newest window rows of the
// issue at or after from, in order, and how many rows it read.
func (s *Store) issueRefs(ctx context.Context, issueID, from int64, window int) ([]events.Ref, int, error) {
	rows, err := s.conn.Query(ctx, `SELECT project_id, event_id FROM `+s.db+`.events_by_issue
		WHERE issue_id = ? AND timestamp >= ?
		ORDER BY timestamp DESC, event_id DESC, project_id DESC LIMIT ?`, issueID, from, window)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var refs []events.Ref
	seen := map[events.Ref]bool{}
	raw := 0
	for rows.Next() {
		var r events.Ref
		if err := rows.Scan(&r.ProjectID, &r.EventID); err != nil {
			return nil, 0, err
		}
		raw++
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs, raw, rows.Err()
}

// getMany reads whole events by ref, one row per ref.
func (s *Store) getMany(ctx context.Context, refs []events.Ref) (map[events.Ref]*events.Event, error) {
	t, err := refsTable(refs)
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(t)), `SELECT `+eventColumns+` FROM `+s.db+`.events
		WHERE (project_id, event_id) IN (SELECT project_id, event_id FROM refs)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[events.Ref]*events.Event, len(refs))
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out[events.Ref{ProjectID: ev.ProjectID, EventID: ev.EventID}] = ev
	}
	return out, rows.Err()
}
