// Package sqlite is the embedded backend of the queue, meta and events
// stores, on modernc.org/sqlite (pure Go, no cgo).
//
// Each store is its own database file, so the ingest path (queue writes),
// the worker (events and issues) and readers never wait on one another's
// write lock. Every file runs in WAL mode with synchronous=FULL: a commit is
// on disk when it returns, which is what lets ingest answer 200. Writes go
// through a single connection (SQLite allows one writer at a time; one
// connection turns lock contention into a cheap queue in database/sql) and
// are batched by the callers; reads use a separate pool of read-only
// connections that WAL lets run beside the writer.
//
// Schemas are goose migrations embedded in the binary and applied on open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations
var migrations embed.FS

// busyTimeout is how long a connection waits for another process's lock
// (a second `cairn` command such as `cairn token create` on the same data
// directory) before failing.
const busyTimeout = 10 * time.Second

// db is one database file with its writer and reader pools.
type db struct {
	path string
	w    *sql.DB // single connection: all writes
	r    *sql.DB // read-only pool
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Checkpoint every 16 MB of WAL instead of 4 MB: pages rewritten by
	// many commits (indexes, the queue's hot rows) reach the database
	// file once per checkpoint, so fewer checkpoints write fewer bytes.
	q.Add("_pragma", "wal_autocheckpoint(4000)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE takes the write lock up front, so a transaction
		// never fails half-way when another process holds it.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// open opens the database at path and applies the migrations under
// migrations/<schema>.
func open(ctx context.Context, path, schema string) (*db, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, w, schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(runtime.GOMAXPROCS(0), 2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &db{path: path, w: w, r: r}, nil
}

func migrate(ctx context.Context, w *sql.DB, schema string) error {
	sub, err := fs.Sub(migrations, "migrations/"+schema)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

func (d *db) close() error {
	err1 := d.r.Close()
	// A final checkpoint folds the WAL into the main file so the data
	// directory is one file per store when the server is stopped.
	_, _ = d.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	err2 := d.w.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// tx runs fn in a write transaction, committing when it returns nil.
//
// fn gets a context without cancellation for its statements: the driver
// starts a watcher goroutine for every statement run under a cancellable
// context, which under load costs more than the statements themselves.
// Cancellation still applies to the whole transaction: database/sql rolls
// it back when ctx ends, and the next statement fails.
func (d *db) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(context.WithoutCancel(ctx), tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// micros and fromMicros store times as integer microseconds since the
// epoch: sortable, compact, and as precise as Sentry's timestamps.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
