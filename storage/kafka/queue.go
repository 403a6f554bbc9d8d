package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairn-dev/cairn/storage/queue"
)

// Delivery ids pack the partition above the offset: offsets stay below
// 2^40 (a trillion records per partition), partitions below 2^23.
const offsetBits = 40

func deliveryID(partition int32, offset int64) int64 {
	return int64(partition)<<offsetBits | offset
}

func splitID(id int64) (int32, int64) {
	return int32(id >> offsetBits), id & (1<<offsetBits - 1)
}

// Headers of dead-lettered records.
const (
	headerAttempts = "cairn-attempts"
	headerError    = "cairn-error"
)

type entryState int

const (
	stateReady  entryState = iota // deliverable once visibleAt has passed
	stateLeased                   // leased until visibleAt
	stateDying                    // being produced to the dead-letter topic
)

// entry is a record this process consumed and has not finished.
type entry struct {
	rec       *kgo.Record
	attempt   int
	state     entryState
	visibleAt time.Time
	lastError string
}

// partition is the local state of one assigned partition.
type partition struct {
	// next is the offset after the newest record consumed.
	next int64
	// pending holds unfinished records by offset; the smallest is how far
	// the group's offset may be committed.
	pending map[int64]*entry
}

// Queue is the Kafka queue.Queue. Every method is safe for concurrent use.
type Queue struct {
	o    Options
	dead string
	cl   *kgo.Client
	adm  *kadm.Client

	pollMu   sync.Mutex // one PollRecords at a time
	commitMu sync.Mutex // commits computed and sent in order

	mu    sync.Mutex
	parts map[int32]*partition
}

var _ queue.Queue = (*Queue)(nil)

// OpenQueue connects, creates the topics when missing, joins the consumer
// group and waits (up to Options.JoinWait) for its first assignment.
func OpenQueue(ctx context.Context, o Options) (*Queue, error) {
	o = o.withDefaults()
	if o.Topic == "" || o.Group == "" || len(o.Brokers) == 0 {
		return nil, errors.New("kafka: brokers, topic and group are required")
	}
	q := &Queue{o: o, dead: o.Topic + ".dead", parts: map[int32]*partition{}}
	assigned := make(chan struct{})
	var once sync.Once
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.Brokers...),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(o.MaxMessageBytes),
		kgo.BrokerMaxWriteBytes(2*o.MaxMessageBytes),
		kgo.ProducerLinger(0),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(o.PollWait),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			q.assign(m[o.Topic])
			if len(m[o.Topic]) > 0 {
				once.Do(func() { close(assigned) })
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			// Commit what is finished before the partitions move, so the
			// next owner redelivers as little as possible.
			q.commit(ctx)
			q.drop(m[o.Topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			q.drop(m[o.Topic])
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: client: %w", err)
	}
	q.cl, q.adm = cl, kadm.NewClient(cl)
	if err := q.createTopics(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	wait := time.NewTimer(o.JoinWait)
	defer wait.Stop()
	select {
	case <-assigned:
	case <-wait.C: // other members hold every partition; this one waits its turn
	case <-ctx.Done():
		cl.Close()
		return nil, fmt.Errorf("kafka: join group %s: %w", o.Group, ctx.Err())
	}
	return q, nil
}

func (q *Queue) createTopics(ctx context.Context) error {
	for _, t := range []string{q.o.Topic, q.dead} {
		maxBytes := strconv.Itoa(int(q.o.MaxMessageBytes))
		_, err := q.adm.CreateTopic(ctx, q.o.Partitions, q.o.ReplicationFactor,
			map[string]*string{"max.message.bytes": &maxBytes}, t)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t, err)
		}
	}
	return nil
}

// assign starts tracking newly assigned partitions; their records come
// from the group's committed offset.
func (q *Queue) assign(ps []int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range ps {
		if q.parts[p] == nil {
			q.parts[p] = &partition{next: -1, pending: map[int64]*entry{}}
		}
	}
}

// drop forgets partitions this member no longer owns: their unfinished
// records will be delivered by the new owner, and acknowledgements of
// them here fail with ErrLeaseLost.
func (q *Queue) drop(ps []int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range ps {
		delete(q.parts, p)
	}
}

// Close leaves the group after committing finished work.
func (q *Queue) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := q.commit(ctx)
	q.cl.Close()
	return err
}

// Enqueue implements queue.Queue.
func (q *Queue) Enqueue(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: enqueue: %w", err)
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Key: q.o.PartitionKey(m), Value: m.Body,
			Headers: []kgo.RecordHeader{{Key: "cairn-key", Value: []byte(m.Key)}}}
	}
	if err := q.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: enqueue: %w", err)
	}
	return nil
}

// messageKey is the queue key of a record: PartitionKey may differ from it.
func messageKey(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "cairn-key" {
			return string(h.Value)
		}
	}
	return string(r.Key)
}

func delivery(e *entry) queue.Delivery {
	return queue.Delivery{
		ID:         deliveryID(e.rec.Partition, e.rec.Offset),
		Key:        messageKey(e.rec),
		Body:       e.rec.Value,
		Attempt:    e.attempt,
		EnqueuedAt: e.rec.Timestamp.UTC(),
	}
}

// Lease implements queue.Queue: local records whose backoff or lease has
// ended come first, then new records from the broker.
func (q *Queue) Lease(ctx context.Context, max int, lease time.Duration) ([]queue.Delivery, error) {
	if max <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kafka: lease: %w", err)
	}
	out, dying, inFlight := q.leaseLocal(max, lease)
	for _, e := range dying {
		if err := q.deadLetter(ctx, e); err != nil {
			return out, err
		}
	}
	if len(out) >= max || inFlight >= q.o.MaxInFlight {
		return out, nil
	}
	q.pollMu.Lock()
	defer q.pollMu.Unlock()
	// Wait up to PollWait for the first records, then linger briefly for
	// more: records produced in separate batches arrive in separate fetch
	// responses, and a lease should see what is already on the broker.
	wait := q.o.PollWait
	for len(out) < max {
		got, err := q.poll(ctx, max-len(out), wait, lease)
		out = append(out, got...)
		if err != nil || len(got) == 0 {
			return out, err
		}
		wait = q.o.FetchLinger
	}
	return out, nil
}

// poll fetches up to n new records, waiting up to wait for the first, and
// leases them.
func (q *Queue) poll(ctx context.Context, n int, wait, lease time.Duration) ([]queue.Delivery, error) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	fs := q.cl.PollRecords(pctx, n)
	cancel()
	if fs.IsClientClosed() {
		return nil, fmt.Errorf("kafka: lease: %w", kgo.ErrClientClosed)
	}
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("kafka: lease: %w", ctx.Err())
			}
			continue // the wait ended
		}
		return nil, fmt.Errorf("kafka: lease: fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	var out []queue.Delivery
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		p := q.parts[r.Partition]
		if p == nil || r.Offset < p.next {
			return // revoked meanwhile, or seen already
		}
		p.next = r.Offset + 1
		e := &entry{rec: r, attempt: 1, state: stateLeased, visibleAt: now.Add(lease)}
		p.pending[r.Offset] = e
		out = append(out, delivery(e))
	})
	return out, nil
}

// leaseLocal leases records held here whose backoff or lease has ended,
// oldest first, and returns those out of attempts for dead-lettering.
func (q *Queue) leaseLocal(max int, lease time.Duration) (out []queue.Delivery, dying []*entry, inFlight int) {
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []*entry
	for _, p := range q.parts {
		inFlight += len(p.pending)
		for _, e := range p.pending {
			if e.state != stateDying && !e.visibleAt.After(now) {
				due = append(due, e)
			}
		}
	}
	slices.SortFunc(due, func(a, b *entry) int {
		return cmp.Or(a.rec.Timestamp.Compare(b.rec.Timestamp), cmp.Compare(a.rec.Partition, b.rec.Partition),
			cmp.Compare(a.rec.Offset, b.rec.Offset))
	})
	for _, e := range due {
		if e.state == stateLeased && e.attempt >= q.o.Queue.MaxAttempts {
			// Its last allowed lease ran out: the consumer died or stalled
			// on it every time.
			e.state = stateDying
			if e.lastError == "" {
				e.lastError = "lease expired"
			}
			dying = append(dying, e)
			continue
		}
		if len(out) >= max {
			continue
		}
		e.attempt++
		e.state, e.visibleAt = stateLeased, now.Add(lease)
		out = append(out, delivery(e))
	}
	return out, dying, inFlight
}

// find returns the pending entry of a delivery if its lease is current.
// The caller holds q.mu.
func (q *Queue) find(d queue.Delivery) (*partition, *entry) {
	pn, off := splitID(d.ID)
	p := q.parts[pn]
	if p == nil {
		return nil, nil
	}
	e := p.pending[off]
	if e == nil || e.attempt != d.Attempt || e.state != stateLeased {
		return nil, nil
	}
	return p, e
}

// Ack implements queue.Queue. It returns after committing the offsets the
// acknowledgements made committable.
func (q *Queue) Ack(ctx context.Context, ds []queue.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var lost []string
	q.mu.Lock()
	for _, d := range ds {
		p, e := q.find(d)
		if e == nil {
			lost = append(lost, d.Key)
			continue
		}
		delete(p.pending, e.rec.Offset)
	}
	q.mu.Unlock()
	if err := q.commit(ctx); err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("kafka: ack %s: %w", strings.Join(lost, ", "), queue.ErrLeaseLost)
	}
	return nil
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, d queue.Delivery, reason string) error {
	q.mu.Lock()
	_, e := q.find(d)
	if e == nil {
		q.mu.Unlock()
		return fmt.Errorf("kafka: nack %s: %w", d.Key, queue.ErrLeaseLost)
	}
	e.lastError = reason
	if e.attempt < q.o.Queue.MaxAttempts {
		e.state, e.visibleAt = stateReady, time.Now().Add(q.o.Queue.RetryDelay(e.attempt))
		q.mu.Unlock()
		return nil
	}
	e.state = stateDying
	q.mu.Unlock()
	return q.deadLetter(ctx, e)
}

// deadLetter produces e to the dead-letter topic and then finishes it.
func (q *Queue) deadLetter(ctx context.Context, e *entry) error {
	r := &kgo.Record{Topic: q.dead, Key: e.rec.Key, Value: e.rec.Value, Headers: append(slices.Clip(e.rec.Headers),
		kgo.RecordHeader{Key: headerAttempts, Value: []byte(strconv.Itoa(e.attempt))},
		kgo.RecordHeader{Key: headerError, Value: []byte(e.lastError)})}
	err := q.cl.ProduceSync(ctx, r).FirstErr()
	q.mu.Lock()
	if err != nil {
		// Try again at the next Lease.
		e.state, e.visibleAt = stateLeased, time.Now()
		q.mu.Unlock()
		return fmt.Errorf("kafka: dead-letter %s: %w", messageKey(e.rec), err)
	}
	if p := q.parts[e.rec.Partition]; p != nil && p.pending[e.rec.Offset] == e {
		delete(p.pending, e.rec.Offset)
	}
	q.mu.Unlock()
	return q.commit(ctx)
}

// commit commits, for each partition, the offset of its oldest unfinished
// record (or the end of what was consumed).
func (q *Queue) commit(ctx context.Context) error {
	q.commitMu.Lock()
	defer q.commitMu.Unlock()
	offsets := map[int32]kgo.EpochOffset{}
	q.mu.Lock()
	for pn, p := range q.parts {
		if p.next < 0 {
			continue // nothing consumed yet
		}
		at := p.next
		for off := range p.pending {
			at = min(at, off)
		}
		offsets[pn] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	q.mu.Unlock()
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	q.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{q.o.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
						cerr = err
					}
				}
			}
		})
	if cerr != nil {
		return fmt.Errorf("kafka: commit: %w", cerr)
	}
	return nil
}

// Dead implements queue.Queue by reading the dead-letter topic from its
// start; DeadLetter.ID is the record's id in that topic.
func (q *Queue) Dead(ctx context.Context, limit int) ([]queue.DeadLetter, error) {
	ends, err := q.adm.ListEndOffsets(ctx, q.dead)
	if err != nil {
		return nil, fmt.Errorf("kafka: dead: %w", err)
	}
	starts, err := q.adm.ListStartOffsets(ctx, q.dead)
	if err != nil {
		return nil, fmt.Errorf("kafka: dead: %w", err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(lo kadm.ListedOffset) {
		if s, ok := starts.Lookup(lo.Topic, lo.Partition); ok && lo.Offset > s.Offset {
			remaining[lo.Partition] = lo.Offset
		}
	})
	var out []queue.DeadLetter
	if len(remaining) == 0 || limit <= 0 {
		return out, nil
	}
	r, err := kgo.NewClient(kgo.SeedBrokers(q.o.Brokers...), kgo.ConsumeTopics(q.dead),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("kafka: dead: %w", err)
	}
	defer r.Close()
	for len(remaining) > 0 {
		fs := r.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return out, fmt.Errorf("kafka: dead: %w", err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset+1 >= remaining[rec.Partition] {
				delete(remaining, rec.Partition)
			}
			d := queue.DeadLetter{ID: deliveryID(rec.Partition, rec.Offset), Key: messageKey(rec), Body: rec.Value}
			for _, h := range rec.Headers {
				switch h.Key {
				case headerAttempts:
					d.Attempts, _ = strconv.Atoi(string(h.Value))
				case headerError:
					d.LastError = string(h.Value)
				}
			}
			out = append(out, d)
		})
	}
	slices.SortFunc(out, func(a, b queue.DeadLetter) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Stats implements queue.Queue. Ready is the group's lag less the records
// this process holds or has finished without being able to commit yet;
// Leased counts this process's current leases; Dead is the size of the
// dead-letter topic.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	var s queue.Stats
	ends, err := q.adm.ListEndOffsets(ctx, q.o.Topic, q.dead)
	if err != nil {
		return s, fmt.Errorf("kafka: stats: %w", err)
	}
	starts, err := q.adm.ListStartOffsets(ctx, q.o.Topic, q.dead)
	if err != nil {
		return s, fmt.Errorf("kafka: stats: %w", err)
	}
	committed, err := q.adm.FetchOffsets(ctx, q.o.Group)
	if err != nil {
		return s, fmt.Errorf("kafka: stats: %w", err)
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	ends.Each(func(lo kadm.ListedOffset) {
		start := int64(0)
		if so, ok := starts.Lookup(lo.Topic, lo.Partition); ok {
			start = so.Offset
		}
		if lo.Topic == q.dead {
			s.Dead += int(lo.Offset - start)
			return
		}
		at := start
		if c, ok := committed.Lookup(lo.Topic, lo.Partition); ok && c.At >= 0 {
			at = c.At
		}
		lag := lo.Offset - at
		if p := q.parts[lo.Partition]; p != nil && p.next > at {
			// Consumed here but not committed: finished records behind an
			// unfinished one, and the ones held here.
			lag -= p.next - at
			for _, e := range p.pending {
				if e.state == stateLeased && e.visibleAt.After(now) {
					s.Leased++
				} else {
					s.Ready++
				}
			}
		}
		s.Ready += int(max(lag, 0))
	})
	return s, nil
}
