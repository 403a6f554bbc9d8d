// Package postgres is the production backend of the meta, events and
// queue stores, on PostgreSQL through github.com/jackc/pgx/v5.
//
// All three stores share one schema, created by goose migrations embedded
// in the binary and applied on open under a PostgreSQL advisory lock, so
// processes starting together migrate once. Options.Schema selects the
// schema through search_path; tests give each test its own.
//
// Unlike the SQLite backend, many processes write at once here: the queue
// leases with FOR UPDATE SKIP LOCKED and measures leases on the database's
// clock, issue grouping serializes on per-hash advisory locks, and
// occurrence recording locks its issues in id order so that concurrent
// workers neither lose counts nor deadlock. Alert senders claim the
// delivery outbox with FOR UPDATE SKIP LOCKED, and release-health
// recording locks its sessions in key order, for the same reasons.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a connection to PostgreSQL.
type Options struct {
	// Schema is where Cairn's tables live (default: the server's
	// search_path, normally "public"). It is created when missing.
	Schema string
	// MaxConns bounds the connection pool (default: pgxpool's, the larger
	// of 4 and the number of CPUs).
	MaxConns int32
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// db is a migrated connection pool.
type db struct {
	pool *pgxpool.Pool
}

// open connects to dsn and applies the migrations.
func open(ctx context.Context, dsn string, o Options) (*db, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.Schema != "" {
		if !schemaName.MatchString(o.Schema) {
			return nil, fmt.Errorf("postgres: invalid schema name %q", o.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if o.Schema != "" {
		if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+o.Schema); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: create schema %s: %w", o.Schema, err)
		}
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &db{pool: pool}, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

func (d *db) close() error {
	d.pool.Close()
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (d *db) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, fn)
}

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// nonNil keeps empty lists out of NULL: pgx encodes a nil slice as NULL,
// which the NOT NULL array columns refuse.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
