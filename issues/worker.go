package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
)

// WorkerOptions tune a Worker; zero fields take the defaults.
type WorkerOptions struct {
	// BatchSize is how many messages one lease takes (default 256).
	BatchSize int
	// Lease is how long a batch may take before its messages are
	// delivered again (default 1m; a batch takes well under a second).
	Lease time.Duration
	// Concurrency is how many events of a batch are processed at once
	// (default GOMAXPROCS).
	Concurrency int
	// Batches is how many batches are in flight, so one batch's writes
	// overlap the next one's processing (default 2).
	Batches int
	// Idle is how long to wait before asking an empty queue again when
	// nobody calls Wake (default 250ms).
	Idle time.Duration
	// OnIssue, when set, hears what the events of a batch did to their
	// issues, once their counts are committed (see IssueChange).
	OnIssue func(context.Context, IssueChange)
	// DrainTimeout bounds the finishing of in-flight batches after Run's
	// context ends (default 30s).
	DrainTimeout time.Duration
	// Projects tells the worker which projects drop their minidumps after
	// processing; nil uses the issues store when it also stores projects,
	// as a meta.Store does, and otherwise keeps every dump.
	Projects ProjectLookup
	Log      *slog.Logger
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.Batches <= 0 {
		o.Batches = 2
	}
	if o.Idle <= 0 {
		o.Idle = 250 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Worker consumes the queue and is the event manager: it processes each
// event, upserts its issue, stores it and counts it. Delivery is at least
// once; the worker is idempotent by event id, so a message delivered twice
// (a crash, an expired lease) still makes one event and one count.
//
// For each batch the order of writes is: issues are found or created (no
// counts), events are stored, occurrences are counted (idempotently), the
// messages are acknowledged. A crash between any two steps is repaired by
// the redelivery, which finds the stored events and counts whatever was
// not counted.
type Worker struct {
	q      queue.Queue
	issues meta.Issues
	events events.Store
	proc   *Processor
	opts   WorkerOptions
	wake   chan struct{}
}

// NewWorker returns a worker; Run starts it.
func NewWorker(q queue.Queue, issues meta.Issues, evs events.Store, proc *Processor, o WorkerOptions) *Worker {
	if o.Projects == nil {
		o.Projects, _ = issues.(ProjectLookup)
	}
	return &Worker{q: q, issues: issues, events: evs, proc: proc, opts: o.withDefaults(), wake: make(chan struct{}, 1)}
}

// Wake tells an idle worker that messages arrived.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run consumes the queue until ctx ends, then finishes the batches it
// holds (within DrainTimeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.opts.Batches {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.opts.Log.Error("worker batch failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(w.opts.Idle)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// RunOnce leases one batch and handles it, returning how many messages it
// leased. Once leased, a batch is finished even if ctx ends meanwhile:
// stopping half-way would only make the work be done again.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	ds, err := w.q.Lease(ctx, w.opts.BatchSize, w.opts.Lease)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.DrainTimeout)
	defer cancel()
	return len(ds), w.handle(hctx, ds)
}

// item is one delivery on its way through a batch.
type item struct {
	d   queue.Delivery
	msg *Message
	ev  *Event
	// stored is set when the event was already stored, by an earlier
	// delivery or a concurrent worker.
	stored *events.Event
	issue  meta.Issue
	row    *events.Event
}

func (w *Worker) handle(ctx context.Context, ds []queue.Delivery) error {
	var items, standalone []*item
	for _, d := range ds {
		m, err := DecodeMessage(d.Body)
		if err != nil {
			w.nack(ctx, d, err)
			continue
		}
		if m.Kind != "" {
			standalone = append(standalone, &item{d: d, msg: m})
			continue
		}
		items = append(items, &item{d: d, msg: m})
	}
	if err := w.handleItems(ctx, standalone); err != nil {
		w.opts.Log.Error("standalone items failed; will retry", "err", err)
	}
	if len(items) == 0 {
		return nil
	}
	refs := make([]events.Ref, len(items))
	for i, it := range items {
		refs[i] = events.Ref{ProjectID: it.msg.ProjectID, EventID: it.msg.EventID}
	}
	exists, err := w.events.Exists(ctx, refs)
	if err != nil {
		return w.fail(ctx, items, err)
	}

	// Process the new events concurrently: this is the CPU-bound part.
	var fresh, known []*item
	for _, it := range items {
		if exists[events.Ref{ProjectID: it.msg.ProjectID, EventID: it.msg.EventID}] {
			known = append(known, it)
		} else {
			fresh = append(fresh, it)
		}
	}
	failed := make([]error, len(fresh))
	sem := make(chan struct{}, w.opts.Concurrency)
	var wg sync.WaitGroup
	for i, it := range fresh {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if failed[i] = w.storeInline(ctx, it.msg); failed[i] == nil {
				it.ev, failed[i] = w.proc.Process(ctx, it.msg)
			}
		})
	}
	wg.Wait()
	ok := fresh[:0]
	for i, it := range fresh {
		if failed[i] != nil {
			w.nack(ctx, it.d, failed[i])
			continue
		}
		ok = append(ok, it)
	}
	fresh = ok

	// Issues, then events, then counts, then acks.
	if len(fresh) > 0 {
		reqs := make([]meta.GroupRequest, len(fresh))
		for i, it := range fresh {
			ev := it.ev
			reqs[i] = meta.GroupRequest{ProjectID: it.msg.ProjectID, Hash: ev.Hashes[0], Type: ev.Type, Title: ev.Title,
				Culprit: ev.Culprit, Level: ev.Level, Platform: ev.Platform, Metadata: ev.Metadata, Time: ev.Timestamp.Time}
		}
		issues, err := w.issues.GroupIssues(ctx, reqs)
		if err != nil {
			return w.fail(ctx, items, err)
		}
		if err := w.markDropped(ctx, fresh); err != nil {
			return w.fail(ctx, items, err)
		}
		rows := make([]*events.Event, len(fresh))
		for i, it := range fresh {
			it.issue = issues[i]
			data, err := json.Marshal(it.ev)
			if err != nil {
				return w.fail(ctx, items, fmt.Errorf("issues: encode event %s: %w", it.msg.EventID, err))
			}
			ev := it.ev
			rows[i] = &events.Event{ProjectID: it.msg.ProjectID, EventID: ev.EventID, IssueID: it.issue.ID,
				Timestamp: ev.Timestamp.Time, ReceivedAt: ev.Received.Time, Level: ev.Level, Platform: ev.Platform,
				Release: ev.Release, Environment: ev.Environment, Title: ev.Title, UserKey: ev.UserKey(), Data: data}
			it.row = rows[i]
		}
		res, err := w.events.Put(ctx, rows)
		if err != nil {
			return w.fail(ctx, items, err)
		}
		var occs []meta.Occurrence
		for i, it := range fresh {
			if !res[i].Inserted {
				known = append(known, it) // a concurrent delivery won
				continue
			}
			ev := it.ev
			occs = append(occs, meta.Occurrence{IssueID: it.issue.ID, ProjectID: it.msg.ProjectID, EventID: ev.EventID,
				Time: ev.Timestamp.Time, Level: ev.Level, Release: ev.Release, Environment: ev.Environment,
				NewUser: res[i].NewUser, Title: ev.Title, Culprit: ev.Culprit, Metadata: ev.Metadata})
		}
		if more, err := w.knownOccurrences(ctx, known); err != nil {
			return w.fail(ctx, items, err)
		} else {
			occs = append(occs, more...)
		}
		recs, err := w.issues.RecordOccurrences(ctx, occs)
		if err != nil {
			return w.fail(ctx, items, err)
		}
		w.changed(ctx, occs, recs, fresh)
	} else if len(known) > 0 {
		occs, err := w.knownOccurrences(ctx, known)
		if err != nil {
			return w.fail(ctx, items, err)
		}
		recs, err := w.issues.RecordOccurrences(ctx, occs)
		if err != nil {
			return w.fail(ctx, items, err)
		}
		w.changed(ctx, occs, recs, nil)
	}
	done := make([]queue.Delivery, 0, len(fresh)+len(known))
	for _, it := range fresh {
		if w.dropStored(ctx, it) {
			done = append(done, it.d)
		}
	}
	for _, it := range known {
		if it.ev == nil && w.dropStored(ctx, it) {
			done = append(done, it.d)
		}
	}
	if err := w.q.Ack(ctx, done); err != nil {
		if errors.Is(err, queue.ErrLeaseLost) {
			// Another delivery holds the message now; it will find the
			// event stored and acknowledge it.
			w.opts.Log.Warn("acknowledging after the lease ended", "err", err)
			return nil
		}
		return fmt.Errorf("issues: ack: %w", err)
	}
	w.opts.Log.Debug("batch done", "events", len(fresh), "redelivered", len(known))
	return nil
}

// storeInline writes the attachments that travelled in the message to the
// blob store, where the event's readers find them. It runs before the
// event is stored, so a stored event's attachments are always in the blob
// store; a redelivery writes them again under the same keys.
func (w *Worker) storeInline(ctx context.Context, m *Message) error {
	for _, a := range m.Attachments {
		if !a.Inline {
			continue
		}
		if err := w.proc.Blobs.Put(ctx, a.Key, bytes.NewReader(a.Data)); err != nil {
			return fmt.Errorf("issues: store attachment %s: %w", a.Key, err)
		}
	}
	return nil
}

// knownOccurrences rebuilds the occurrences of events already stored, from
// what the events store kept, so that counts missed by a crash are made
// up; RecordOccurrences skips those already counted.
func (w *Worker) knownOccurrences(ctx context.Context, known []*item) ([]meta.Occurrence, error) {
	var occs []meta.Occurrence
	for _, it := range known {
		ev, err := w.events.Get(ctx, it.msg.ProjectID, it.msg.EventID)
		if err != nil {
			return nil, err
		}
		it.stored = ev
		occs = append(occs, meta.Occurrence{IssueID: ev.IssueID, ProjectID: ev.ProjectID, EventID: ev.EventID,
			Time: ev.Timestamp, Level: ev.Level, Release: ev.Release, Environment: ev.Environment})
	}
	return occs, nil
}

func (w *Worker) nack(ctx context.Context, d queue.Delivery, cause error) {
	w.opts.Log.Warn("event processing failed; will retry", "key", d.Key, "attempt", d.Attempt, "err", cause)
	if err := w.q.Nack(ctx, d, cause.Error()); err != nil && !errors.Is(err, queue.ErrLeaseLost) {
		w.opts.Log.Error("giving a message back failed", "key", d.Key, "err", err)
	}
}

// fail gives every message of a batch back after a storage failure.
func (w *Worker) fail(ctx context.Context, items []*item, cause error) error {
	for _, it := range items {
		w.nack(ctx, it.d, cause)
	}
	return cause
}
