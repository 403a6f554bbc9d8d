// Package queue defines the durable hand-off between ingest and the worker:
// at-least-once delivery with leases, acknowledgements, retries with
// backoff and a dead-letter state.
package queue

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost is returned by Ack and Nack when the delivery's lease expired
// and the message was leased again (or finished) by someone else: the
// caller's work on it must be treated as a duplicate.
var ErrLeaseLost = errors.New("queue: lease lost")

// Message is one unit of work. Key names it (the event, for the worker)
// and is what a partitioned backend routes by. The queue does not
// deduplicate keys: delivery is at least once anyway (a consumer may die
// after its work and before its acknowledgement), so consumers are
// idempotent by key, and a second enqueue of a key costs only a redundant
// delivery. Keeping no unique index is also what makes enqueueing cheap:
// event ids are random, and a unique index over them dirties one index page
// per message in every commit.
type Message struct {
	Key  string
	Body []byte
}

// Delivery is a leased message. Until its lease ends no other consumer
// receives it; the consumer then acknowledges it or gives it back.
type Delivery struct {
	// ID identifies the message inside the queue.
	ID int64
	// Key and Body are what was enqueued.
	Key  string
	Body []byte
	// Attempt counts deliveries of this message, starting at 1; it also
	// tells leases apart, so a late Ack from an expired lease is refused.
	Attempt int
	// EnqueuedAt is when the message was first enqueued.
	EnqueuedAt time.Time
}

// Stats counts messages by state. Acknowledged messages are gone.
type Stats struct {
	// Ready messages wait for a consumer (including retries whose backoff
	// has not ended yet); Leased ones are being worked on.
	Ready, Leased int
	// Dead messages failed MaxAttempts times and wait for an operator.
	Dead int
}

// DeadLetter is a message that exhausted its attempts.
type DeadLetter struct {
	ID        int64
	Key       string
	Body      []byte
	Attempts  int
	LastError string
}

// Queue is a durable at-least-once queue. Every method is safe for
// concurrent use.
type Queue interface {
	// Enqueue commits msgs in one transaction. Once it returns nil the
	// messages survive a crash.
	Enqueue(ctx context.Context, msgs []Message) error
	// Lease hands out up to max ready messages, hiding each for the lease
	// duration. It returns an empty slice, not an error, when none is ready.
	Lease(ctx context.Context, max int, lease time.Duration) ([]Delivery, error)
	// Ack removes finished deliveries. Deliveries whose lease was lost are
	// skipped and reported with ErrLeaseLost.
	Ack(ctx context.Context, ds []Delivery) error
	// Nack gives a delivery back after a failure: it becomes ready again
	// after a backoff that grows with its attempts, or dead once it has
	// failed MaxAttempts times.
	Nack(ctx context.Context, d Delivery, reason string) error
	// Dead lists dead-lettered messages, oldest first.
	Dead(ctx context.Context, limit int) ([]DeadLetter, error)
	// Stats counts messages by state.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the queue's resources.
	Close() error
}

// Options tune a queue's retry policy; zero fields take the defaults.
type Options struct {
	// MaxAttempts is how many deliveries a message gets before it is dead
	// lettered (default 5). Expired leases count as failed deliveries, so a
	// message that crashes its consumer every time ends dead too.
	MaxAttempts int
	// Backoff is the wait before the second delivery (default 1s); it
	// doubles with each attempt up to MaxBackoff (default 5m).
	Backoff, MaxBackoff time.Duration
}

// WithDefaults fills the zero fields of o.
func (o Options) WithDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	return o
}

// RetryDelay is the wait after the given failed attempt (1-based).
func (o Options) RetryDelay(attempt int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}
