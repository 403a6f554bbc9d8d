// Package snuba carries processed events from the workers to the analytics
// event store (ClickHouse), the role Sentry's Snuba plays: a worker
// publishes every event it stores to the processed-events queue (Kafka in
// production), and writers consume that queue in large batches into the
// analytics store, which answers the web interface's counts, histograms
// and tag distributions.
//
// Delivery is at least once end to end. A worker publishes before it
// stores, so an event that is stored has been published (a retried batch
// publishes again), and the analytics store's Put is idempotent by event
// id, so a redelivered message is stored once. While the analytics store is
// down, writers hold their batch and retry; the rest of the events wait in
// the queue and catch up afterwards.
package snuba

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/queue"
)

// Encode is the queue message of a processed event: keyed by project, so
// one project's events keep their order on one partition.
func Encode(ev *events.Event) (queue.Message, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return queue.Message{}, fmt.Errorf("snuba: encode event %s: %w", ev.EventID, err)
	}
	return queue.Message{Key: strconv.FormatInt(ev.ProjectID, 10), Body: b}, nil
}

// Decode reads a message written by Encode.
func Decode(body []byte) (*events.Event, error) {
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("snuba: decode event: %w", err)
	}
	if ev.EventID == "" || ev.ProjectID == 0 {
		return nil, errors.New("snuba: decode event: no project or event id")
	}
	return &ev, nil
}

// Publisher is the workers' events store: Put publishes the events to the
// processed-events queue, then stores them in the primary store (the one
// that answers the workers' idempotency and new-user questions and keeps
// event bodies). Publishing first means a stored event was always
// published, whatever fails afterwards.
type Publisher struct {
	events.Store
	Queue queue.Queue
}

// Put implements events.Store.
func (p *Publisher) Put(ctx context.Context, evs []*events.Event) ([]events.PutResult, error) {
	msgs := make([]queue.Message, 0, len(evs))
	for _, ev := range evs {
		m, err := Encode(ev)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		if err := p.Queue.Enqueue(ctx, msgs); err != nil {
			return nil, fmt.Errorf("snuba: publish %d events: %w", len(msgs), err)
		}
	}
	return p.Store.Put(ctx, evs)
}

// Writer consumes the processed-events queue into the analytics store.
type Writer struct {
	Queue queue.Queue
	Store events.Store
	// Batch is the most events leased and stored at once (default 5000);
	// Lease how long a batch is held before the queue may hand it out
	// again (default 2 minutes).
	Batch int
	Lease time.Duration
	// Idle is how long to wait when the queue is empty (default 100ms);
	// MaxBackoff bounds the wait between retries of a failed batch
	// (default 30s).
	Idle, MaxBackoff time.Duration
	Log              *slog.Logger
	// OnBatch, when set, is told the size of every stored batch and how
	// long the store took (metrics).
	OnBatch func(n int, d time.Duration)
}

func (w *Writer) defaults() {
	if w.Batch <= 0 {
		w.Batch = 5000
	}
	if w.Lease <= 0 {
		w.Lease = 2 * time.Minute
	}
	if w.Idle <= 0 {
		w.Idle = 100 * time.Millisecond
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = 30 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
}

// Run stores batches until ctx ends; it returns nil then.
func (w *Writer) Run(ctx context.Context) error {
	w.defaults()
	for ctx.Err() == nil {
		n, err := w.Step(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("snuba: batch failed", "err", err)
		}
		if n == 0 {
			sleep(ctx, w.Idle)
		}
	}
	return nil
}

// Step leases one batch, stores it (retrying until it is stored or ctx
// ends) and acknowledges it; it returns how many messages it handled.
// Messages that are not events are acknowledged and logged: redelivering
// them would never help.
func (w *Writer) Step(ctx context.Context) (int, error) {
	w.defaults()
	ds, err := w.Queue.Lease(ctx, w.Batch, w.Lease)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	evs := make([]*events.Event, 0, len(ds))
	for _, d := range ds {
		ev, err := Decode(d.Body)
		if err != nil {
			w.Log.Warn("snuba: dropping a message that is not an event", "id", d.ID, "err", err)
			continue
		}
		evs = append(evs, ev)
	}
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		_, err := w.Store.Put(ctx, evs)
		if err == nil {
			if w.OnBatch != nil {
				w.OnBatch(len(evs), time.Since(start))
			}
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// Hold the batch and retry: the queue keeps the rest, and leasing
		// again would count attempts toward dead-lettering events that are
		// fine while only the store is down.
		w.Log.Warn("snuba: storing a batch failed; retrying", "events", len(evs), "retry_in", backoff, "err", err)
		sleep(ctx, backoff)
		backoff = min(2*backoff, w.MaxBackoff)
	}
	if err := w.Queue.Ack(ctx, ds); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		return len(ds), fmt.Errorf("snuba: ack: %w", err)
	}
	return len(ds), nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Reader is the web interface's events store: events come from the
// primary store; counts over time, sparklines, tag counts and tag search
// from the analytics store when it answers them, else from the primary
// one; deleting an issue's events deletes them from both. Reader
// implements every optional interface of the events package whatever the
// stores it joins answer, and tells which ones they answer through
// events.Wrapper: callers probe it with events.Optional.
type Reader struct {
	events.Store
	Analytics events.Store
}

var (
	_ events.Histogrammer       = Reader{}
	_ events.IssueHistogrammer  = Reader{}
	_ events.TagCounter         = Reader{}
	_ events.IssueMatcher       = Reader{}
	_ events.IssueEventsDeleter = Reader{}
	_ events.Wrapper            = Reader{}
)

// Unwrap implements events.Wrapper.
func (r Reader) Unwrap() []events.Store { return []events.Store{r.Analytics, r.Store} }

// answering returns the first of the analytics and primary stores that
// implements T.
func answering[T any](r Reader) (T, bool) {
	for _, s := range r.Unwrap() {
		if s == nil {
			continue
		}
		if t, ok := events.Optional[T](s); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// CountsByInterval implements events.Histogrammer.
func (r Reader) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	h, ok := answering[events.Histogrammer](r)
	if !ok {
		return nil, fmt.Errorf("snuba: histograms: %w", errors.ErrUnsupported)
	}
	return h.CountsByInterval(ctx, projectID, issueID, from, to, interval)
}

// CountsByIssue implements events.IssueHistogrammer.
func (r Reader) CountsByIssue(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	h, ok := answering[events.IssueHistogrammer](r)
	if !ok {
		return nil, fmt.Errorf("snuba: sparklines: %w", errors.ErrUnsupported)
	}
	return h.CountsByIssue(ctx, projectID, issueIDs, from, to, interval)
}

// TagCounts implements events.TagCounter.
func (r Reader) TagCounts(ctx context.Context, projectID, issueID int64, newest int) (int64, []events.TagCount, error) {
	tc, ok := answering[events.TagCounter](r)
	if !ok {
		return 0, nil, fmt.Errorf("snuba: tag counts: %w", errors.ErrUnsupported)
	}
	return tc.TagCounts(ctx, projectID, issueID, newest)
}

// MatchIssues implements events.IssueMatcher.
func (r Reader) MatchIssues(ctx context.Context, projectID int64, f events.IssueFilter, limit int) ([]int64, error) {
	m, ok := answering[events.IssueMatcher](r)
	if !ok {
		return nil, fmt.Errorf("snuba: match issues: %w", errors.ErrUnsupported)
	}
	return m.MatchIssues(ctx, projectID, f, limit)
}

// DeleteIssueEvents implements events.IssueEventsDeleter: the analytics
// store's copies first, then the primary store's events, whose count it
// returns. Without a primary store that deletes, nothing is deleted: the
// event bodies would outlive their issue.
func (r Reader) DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error) {
	primary, ok := events.Optional[events.IssueEventsDeleter](r.Store)
	if !ok {
		return 0, fmt.Errorf("snuba: delete issue events: %w", errors.ErrUnsupported)
	}
	if r.Analytics != nil {
		if a, ok := events.Optional[events.IssueEventsDeleter](r.Analytics); ok {
			if _, err := a.DeleteIssueEvents(ctx, projectID, issueIDs); err != nil {
				return 0, fmt.Errorf("snuba: delete issue events: analytics: %w", err)
			}
		}
	}
	return primary.DeleteIssueEvents(ctx, projectID, issueIDs)
}
