package issues

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/queue"
)

// ErrSinkClosed is returned by Accept after Close.
var ErrSinkClosed = errors.New("issues: sink closed")

// SinkOptions tune a Sink; zero fields take the defaults.
type SinkOptions struct {
	// MaxBatch bounds how many events share one queue commit (default
	// 1024).
	MaxBatch int
	// CommitTimeout bounds one commit (default 30s).
	CommitTimeout time.Duration
	// InlineMax is the total attachment size up to which a request's
	// attachments travel inside its queue message instead of being
	// written to the blob store one file each before the 200; the worker
	// writes them to the blob store before processing the event
	// (default 256 KiB; negative: always write them first).
	InlineMax int64
	// OnCommit, when set, runs after every commit that succeeded: the
	// all-in-one server uses it to wake the worker.
	OnCommit func()
	Log      *slog.Logger
}

// Sink is the durable ingest.Sink: large attachments are written (and
// synced) to the blob store, then the event is committed to the queue;
// small ones (SinkOptions.InlineMax) are committed inside the event's
// message and written to the blob store by the worker. Standalone items
// (sessions, user and client reports) are messages of their own in the
// same commit, keyed by a digest of their bytes (ItemID). Commits
// are grouped: while one transaction is being written, the events that
// arrive queue up and go together in the next one, so the cost of a
// synced commit is shared by every request waiting for it. Each Accept
// returns once the commit holding its event is durable.
//
// A client retrying an event or item it already sent (its first attempt
// timed out, say) is answered from the set of recently accepted keys
// without a second enqueue. Past that set (after a restart, or on another server),
// the retry is enqueued again and the worker, idempotent by event id and
// item digest, stores and counts it once.
type Sink struct {
	blobs blob.Store
	q     queue.Queue
	opts  SinkOptions

	commits, events atomic.Int64
	recent          recentKeys

	reqs   chan *sinkReq
	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	done   chan struct{}
}

type sinkReq struct {
	msgs []queue.Message
	err  chan error
}

var _ ingest.Sink = (*Sink)(nil)

// NewSink starts a sink; Close stops it.
func NewSink(blobs blob.Store, q queue.Queue, o SinkOptions) *Sink {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	if o.InlineMax == 0 {
		o.InlineMax = 256 << 10
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{blobs: blobs, q: q, opts: o, reqs: make(chan *sinkReq, o.MaxBatch), done: make(chan struct{})}
	go s.loop()
	return s
}

// Accept implements ingest.Sink. The event and every standalone item
// (sessions, user reports, client reports) of the request are committed
// together, each as its own queue message, before Accept returns.
func (s *Sink) Accept(ctx context.Context, a *ingest.Accepted) error {
	if a.EventID == "" && len(a.Items) == 0 {
		return nil
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrSinkClosed
	}
	if a.EventID != "" && !validEventID(a.EventID) {
		return fmt.Errorf("issues: accept: event id %q is not 32 lowercase hex digits", a.EventID)
	}
	received := a.ReceivedAt.UTC()
	if received.IsZero() {
		received = time.Now().UTC()
	}
	var msgs []queue.Message
	var keys []string
	forget := func() {
		for _, k := range keys {
			s.recent.remove(k)
		}
	}
	// An envelope header's event id comes with items that are about that
	// event (a user report sent after the crash), not with an event: only
	// an event payload or attachments make an event, or the real event,
	// arriving with the same id, would be taken for a retry of an empty one.
	if a.EventID != "" && (a.Event != nil || len(a.Attachments) > 0) {
		m := &Message{ProjectID: a.ProjectID, EventID: a.EventID, ReceivedAt: received,
			RemoteAddr: a.RemoteAddr, UserAgent: a.UserAgent, Event: a.Event}
		var total int64
		for _, att := range a.Attachments {
			total += int64(len(att.Data))
		}
		inline := total <= s.opts.InlineMax
		// Blobs are keyed by event, so a client retrying the same event
		// rewrites the same keys instead of storing its dump twice.
		for i, att := range a.Attachments {
			key := fmt.Sprintf("events/%d/%s/%d", a.ProjectID, a.EventID, i)
			ref := AttachmentRef{Name: att.Name, ContentType: att.ContentType, Type: att.Type, Size: int64(len(att.Data)), Key: key}
			if inline {
				ref.Inline, ref.Data = true, att.Data
			} else if err := s.blobs.Put(ctx, key, bytes.NewReader(att.Data)); err != nil {
				return fmt.Errorf("issues: accept %s: %w", a.EventID, err)
			}
			m.Attachments = append(m.Attachments, ref)
		}
		key := QueueKey(a.ProjectID, a.EventID)
		if s.recent.add(key) { // else accepted moments ago
			keys = append(keys, key)
			body, err := EncodeMessage(m)
			if err != nil {
				forget()
				return err
			}
			msgs = append(msgs, queue.Message{Key: key, Body: body})
		}
	}
	for _, it := range a.Items {
		id := ItemID(a.ProjectID, a.EventID, it.Type, it.Payload)
		key := ItemQueueKey(a.ProjectID, id)
		if !s.recent.add(key) {
			continue
		}
		keys = append(keys, key)
		body, err := EncodeMessage(&Message{ProjectID: a.ProjectID, EventID: a.EventID, ReceivedAt: received,
			RemoteAddr: a.RemoteAddr, UserAgent: a.UserAgent, Kind: it.Type, ItemID: id, Event: it.Payload})
		if err != nil {
			forget()
			return err
		}
		msgs = append(msgs, queue.Message{Key: key, Body: body})
	}
	if len(msgs) == 0 {
		return nil
	}
	r := &sinkReq{msgs: msgs, err: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		forget()
		return ErrSinkClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		forget()
		return fmt.Errorf("issues: accept %s: %w", a.EventID, ctx.Err())
	}
	select {
	case err := <-r.err:
		if err != nil {
			forget()
		}
		return err
	case <-ctx.Done():
		// The commit may still succeed or fail; forget the keys so that
		// the client's retry is enqueued (once more, at worst).
		forget()
		return fmt.Errorf("issues: accept %s: %w", a.EventID, ctx.Err())
	}
}

// SinkStats counts what a sink committed.
type SinkStats struct {
	// Events counts queue messages: events and standalone items.
	Commits, Events int64
}

// Stats reports the commits made so far and the events they held; their
// ratio shows how well commits are being grouped.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Commits: s.commits.Load(), Events: s.events.Load()}
}

// Close waits for the requests already handed to the sink to commit and
// stops it. Accept fails with ErrSinkClosed afterwards.
func (s *Sink) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
	s.mu.Unlock()
	<-s.done
	return nil
}

func (s *Sink) loop() {
	defer close(s.done)
	batch := make([]*sinkReq, 0, s.opts.MaxBatch)
	msgs := make([]queue.Message, 0, s.opts.MaxBatch)
	for r := range s.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		msgs = msgs[:0]
		for _, r := range batch {
			msgs = append(msgs, r.msgs...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
		err := s.q.Enqueue(ctx, msgs)
		cancel()
		if err != nil {
			s.opts.Log.Error("queue commit failed", "events", len(batch), "err", err)
			err = fmt.Errorf("issues: accept: %w", err)
		}
		if err == nil {
			s.commits.Add(1)
			s.events.Add(int64(len(msgs)))
		}
		for _, r := range batch {
			r.err <- err
		}
		if err == nil && s.opts.OnCommit != nil {
			s.opts.OnCommit()
		}
	}
}

func validEventID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// recentKeySet bounds the memory of recentKeys: two generations of this
// many keys, about 10 MB.
const recentKeySet = 1 << 16

// recentKeys remembers the keys of recently accepted events, in two
// generations so that forgetting the oldest costs nothing.
type recentKeys struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
}

// add records key and reports whether it was new.
func (r *recentKeys) add(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cur[key]; ok {
		return false
	}
	if _, ok := r.prev[key]; ok {
		return false
	}
	if r.cur == nil || len(r.cur) >= recentKeySet {
		r.prev, r.cur = r.cur, make(map[string]struct{}, recentKeySet)
	}
	r.cur[key] = struct{}{}
	return true
}

func (r *recentKeys) remove(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cur, key)
	delete(r.prev, key)
}
