package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/queue"
)

// Queue is the PostgreSQL queue.Queue, shared by any number of producer
// and consumer processes. Leases are rows locked with FOR UPDATE SKIP
// LOCKED, so concurrent consumers never wait for or receive one another's
// messages, and lease ends are times on the database's clock
// (clock_timestamp()), so consumers on different hosts agree on when a
// lease has expired.
type Queue struct {
	db   *db
	opts queue.Options
}

var _ queue.Queue = (*Queue)(nil)

// OpenQueue connects to dsn and applies the migrations.
func OpenQueue(ctx context.Context, dsn string, o Options, qo queue.Options) (*Queue, error) {
	d, err := open(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	return &Queue{db: d, opts: qo.WithDefaults()}, nil
}

// Close implements queue.Queue.
func (q *Queue) Close() error { return q.db.close() }

// Enqueue implements queue.Queue, with one multi-row insert.
func (q *Queue) Enqueue(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	keys := make([]string, len(msgs))
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		keys[i], bodies[i] = m.Key, nonNilBytes(m.Body)
	}
	// WITH ORDINALITY keeps the ids in the order of msgs, which is the
	// order Lease hands them out.
	_, err := q.db.pool.Exec(ctx, `INSERT INTO messages (key, body, visible_at, enqueued_at)
		SELECT k, b, clock_timestamp(), clock_timestamp() FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS m(k, b, n) ORDER BY n`,
		keys, bodies)
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	return nil
}

// Lease implements queue.Queue. Messages whose lease ran out after their
// last allowed attempt are dead-lettered on the way, as in SQLite.
func (q *Queue) Lease(ctx context.Context, max int, lease time.Duration) ([]queue.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	rows, err := q.db.pool.Query(ctx, `WITH c AS (
			SELECT id, visible_at AS was FROM messages
			WHERE state = 0 AND visible_at <= clock_timestamp()
			ORDER BY visible_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
		UPDATE messages m SET
			state = CASE WHEN m.attempts >= $2 THEN 2 ELSE 0 END,
			leased = m.attempts < $2,
			last_error = CASE WHEN m.attempts >= $2 AND m.last_error = '' THEN 'lease expired' ELSE m.last_error END,
			attempts = CASE WHEN m.attempts >= $2 THEN m.attempts ELSE m.attempts + 1 END,
			visible_at = CASE WHEN m.attempts >= $2 THEN m.visible_at
				ELSE clock_timestamp() + $3 * interval '1 microsecond' END
		FROM c WHERE m.id = c.id
		RETURNING m.id, m.key, m.body, m.attempts, m.enqueued_at, m.state, c.was`,
		max, q.opts.MaxAttempts, lease.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("queue: lease: %w", err)
	}
	type leased struct {
		d   queue.Delivery
		was time.Time
	}
	var got []leased
	var l leased
	var state int16
	if _, err := pgx.ForEachRow(rows, []any{&l.d.ID, &l.d.Key, &l.d.Body, &l.d.Attempt, &l.d.EnqueuedAt, &state, &l.was}, func() error {
		if state == 0 {
			l.d.EnqueuedAt = l.d.EnqueuedAt.UTC()
			got = append(got, l)
		}
		l = leased{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("queue: lease: %w", err)
	}
	// RETURNING has no order; hand messages out oldest first.
	slices.SortFunc(got, func(a, b leased) int {
		if c := a.was.Compare(b.was); c != 0 {
			return c
		}
		return cmp.Compare(a.d.ID, b.d.ID)
	})
	out := make([]queue.Delivery, len(got))
	for i, g := range got {
		out[i] = g.d
	}
	return out, nil
}

// Ack implements queue.Queue, deleting the whole batch in one statement.
func (q *Queue) Ack(ctx context.Context, ds []queue.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	attempts := make([]int32, len(ds))
	for i, d := range ds {
		ids[i], attempts[i] = d.ID, int32(d.Attempt)
	}
	rows, err := q.db.pool.Query(ctx, `DELETE FROM messages m USING unnest($1::bigint[], $2::int[]) AS d(id, attempt)
		WHERE m.id = d.id AND m.attempts = d.attempt AND m.state = 0 RETURNING m.id`, ids, attempts)
	if err != nil {
		return fmt.Errorf("queue: ack: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("queue: ack: %w", err)
	}
	if len(done) == len(ds) {
		return nil
	}
	var lost []string
	for _, d := range ds {
		if !slices.Contains(done, d.ID) {
			lost = append(lost, d.Key)
		}
	}
	return fmt.Errorf("queue: ack %s: %w", strings.Join(lost, ", "), queue.ErrLeaseLost)
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, d queue.Delivery, reason string) error {
	tag, err := q.db.pool.Exec(ctx, `UPDATE messages SET leased = false, last_error = $1,
		visible_at = clock_timestamp() + $2 * interval '1 microsecond',
		state = CASE WHEN attempts >= $3 THEN 2 ELSE 0 END
		WHERE id = $4 AND attempts = $5 AND state = 0`,
		reason, q.opts.RetryDelay(d.Attempt).Microseconds(), q.opts.MaxAttempts, d.ID, d.Attempt)
	if err != nil {
		return fmt.Errorf("queue: nack %s: %w", d.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("queue: nack %s: %w", d.Key, queue.ErrLeaseLost)
	}
	return nil
}

// Dead implements queue.Queue.
func (q *Queue) Dead(ctx context.Context, limit int) ([]queue.DeadLetter, error) {
	rows, err := q.db.pool.Query(ctx, `SELECT id, key, body, attempts, last_error FROM messages
		WHERE state = 2 ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.DeadLetter, error) {
		var d queue.DeadLetter
		err := r.Scan(&d.ID, &d.Key, &d.Body, &d.Attempts, &d.LastError)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: dead: %w", err)
	}
	return out, nil
}

// Stats implements queue.Queue.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	var s queue.Stats
	err := q.db.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE state = 0 AND NOT (leased AND visible_at > clock_timestamp())),
		count(*) FILTER (WHERE state = 0 AND leased AND visible_at > clock_timestamp()),
		count(*) FILTER (WHERE state = 2)
		FROM messages`).Scan(&s.Ready, &s.Leased, &s.Dead)
	if err != nil {
		return s, fmt.Errorf("queue: stats: %w", err)
	}
	return s, nil
}
