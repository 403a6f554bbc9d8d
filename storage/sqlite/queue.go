package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/queue"
)

// Queue is the SQLite queue.Queue.
type Queue struct {
	db   *db
	opts queue.Options
	now  func() time.Time
}

var _ queue.Queue = (*Queue)(nil)

// OpenQueue opens (creating and migrating) the queue database at path.
func OpenQueue(ctx context.Context, path string, o queue.Options) (*Queue, error) {
	d, err := open(ctx, path, "queue")
	if err != nil {
		return nil, err
	}
	return &Queue{db: d, opts: o.WithDefaults(), now: time.Now}, nil
}

// Close implements queue.Queue.
func (q *Queue) Close() error { return q.db.close() }

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	now := micros(q.now())
	err := q.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO messages (key, body, visible_at, enqueued_at) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range msgs {
			if _, err := st.ExecContext(ctx, m.Key, compress(m.Body), now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	return nil
}

// Lease implements queue.Queue.
func (q *Queue) Lease(ctx context.Context, max int, lease time.Duration) ([]queue.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	now := q.now()
	var out []queue.Delivery
	err := q.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id, attempts FROM messages
			WHERE state = 0 AND visible_at <= ? ORDER BY visible_at, id LIMIT ?`, micros(now), max)
		if err != nil {
			return err
		}
		var live, dead []int64
		for rows.Next() {
			var id int64
			var attempts int
			if err := rows.Scan(&id, &attempts); err != nil {
				rows.Close()
				return err
			}
			// A message already delivered MaxAttempts times whose lease
			// ran out killed or stalled every consumer: stop retrying it.
			if attempts >= q.opts.MaxAttempts {
				dead = append(dead, id)
			} else {
				live = append(live, id)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(dead) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 2, leased = 0,
				last_error = CASE WHEN last_error = '' THEN 'lease expired' ELSE last_error END
				WHERE id IN (`+placeholders(len(dead))+`)`, int64Args(dead)...); err != nil {
				return err
			}
		}
		if len(live) == 0 {
			return nil
		}
		args := append([]any{micros(now.Add(lease))}, int64Args(live)...)
		rows, err = tx.QueryContext(ctx, `UPDATE messages SET attempts = attempts + 1, leased = 1, visible_at = ?
			WHERE id IN (`+placeholders(len(live))+`) RETURNING id, key, body, attempts, enqueued_at`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d queue.Delivery
			var enq int64
			if err := rows.Scan(&d.ID, &d.Key, &d.Body, &d.Attempt, &enq); err != nil {
				return err
			}
			if d.Body, err = decompress(d.Body); err != nil {
				return fmt.Errorf("message %s: %w", d.Key, err)
			}
			d.EnqueuedAt = fromMicros(enq)
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("queue: lease: %w", err)
	}
	return out, nil
}

// Ack implements queue.Queue.
func (q *Queue) Ack(ctx context.Context, ds []queue.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var lost []string
	err := q.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		lost = lost[:0]
		st, err := tx.PrepareContext(ctx, `DELETE FROM messages WHERE id = ? AND attempts = ? AND state = 0`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range ds {
			res, err := st.ExecContext(ctx, d.ID, d.Attempt)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, d.Key)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: ack: %w", err)
	}
	if len(lost) > 0 {
		return fmt.Errorf("queue: ack %s: %w", strings.Join(lost, ", "), queue.ErrLeaseLost)
	}
	return nil
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, d queue.Delivery, reason string) error {
	next := micros(q.now().Add(q.opts.RetryDelay(d.Attempt)))
	res, err := q.db.w.ExecContext(ctx, `UPDATE messages SET leased = 0, last_error = ?, visible_at = ?,
		state = CASE WHEN attempts >= ? THEN 2 ELSE 0 END
		WHERE id = ? AND attempts = ? AND state = 0`, reason, next, q.opts.MaxAttempts, d.ID, d.Attempt)
	if err != nil {
		return fmt.Errorf("queue: nack %s: %w", d.Key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("queue: nack %s: %w", d.Key, err)
	} else if n == 0 {
		return fmt.Errorf("queue: nack %s: %w", d.Key, queue.ErrLeaseLost)
	}
	return nil
}

// ReleaseLeases makes every leased message deliverable at once and returns
// how many there were. A data directory belongs to one server process, so
// leases found when it starts were held by a process that died: waiting
// for them to expire would only delay those events. Each released lease
// still counts as an attempt.
func (q *Queue) ReleaseLeases(ctx context.Context) (int, error) {
	res, err := q.db.w.ExecContext(ctx, `UPDATE messages SET leased = 0, visible_at = ? WHERE state = 0 AND leased = 1`, micros(q.now()))
	if err != nil {
		return 0, fmt.Errorf("queue: release leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("queue: release leases: %w", err)
	}
	return int(n), nil
}

// Dead implements queue.Queue.
func (q *Queue) Dead(ctx context.Context, limit int) ([]queue.DeadLetter, error) {
	rows, err := q.db.r.QueryContext(ctx, `SELECT id, key, body, attempts, last_error FROM messages
		WHERE state = 2 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	defer rows.Close()
	var out []queue.DeadLetter
	for rows.Next() {
		var d queue.DeadLetter
		if err := rows.Scan(&d.ID, &d.Key, &d.Body, &d.Attempts, &d.LastError); err != nil {
			return nil, fmt.Errorf("queue: dead: %w", err)
		}
		if d.Body, err = decompress(d.Body); err != nil {
			return nil, fmt.Errorf("queue: dead %s: %w", d.Key, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	return out, nil
}

// Stats implements queue.Queue.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	var s queue.Stats
	err := q.db.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(state = 0 AND NOT (leased = 1 AND visible_at > ?)), 0),
		COALESCE(SUM(state = 0 AND leased = 1 AND visible_at > ?), 0),
		COALESCE(SUM(state = 2), 0)
		FROM messages`, micros(q.now()), micros(q.now())).Scan(&s.Ready, &s.Leased, &s.Dead)
	if err != nil {
		return s, fmt.Errorf("queue: stats: %w", err)
	}
	return s, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func int64Args(ids []int64) []any {
	a := make([]any, len(ids))
	for i, id := range ids {
		a[i] = id
	}
	return a
}
