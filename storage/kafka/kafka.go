// Package kafka is a queue.Queue on Apache Kafka through
// github.com/twmb/franz-go, for deployments where ingest and the workers
// are many processes on many hosts.
//
// # Mapping
//
// Enqueue produces to one topic with acks=all and the idempotent producer
// (franz-go's default), so a nil return means every in-sync replica has
// the messages and a retried produce does not duplicate them. Records are
// routed by Options.PartitionKey (the message key by default; ingest sets
// the project id), which keeps one project's events in order on one
// partition.
//
// Consumers of a role share a consumer group. Offsets are committed by
// hand, after acknowledgements, and only up to the oldest message of a
// partition that is not finished yet, so a crash redelivers everything
// unacknowledged: delivery is at least once, and the consumers' writes are
// idempotent by event id.
//
// Leases, retries and attempts are kept in the consuming process: a
// leased record whose lease ends is handed out again by the same Queue, a
// nacked one after its backoff, and a record that has failed MaxAttempts
// times is produced to the dead-letter topic (Topic + ".dead") and
// acknowledged.
//
// # What it cannot do that the SQLite and PostgreSQL queues can
//
//   - Leases do not move between processes. A partition belongs to one
//     group member; its expired leases are redelivered by that member only,
//     and another process takes over only when the member leaves the group
//     (shutdown, crash, or a missed session timeout).
//   - Attempts are not durable. After a rebalance or a restart the new
//     owner sees Attempt 1 again, so a message that kills its consumer
//     process every time is never dead-lettered; it stalls its partition
//     behind it until an operator intervenes.
//   - Order is per partition: Lease hands out the oldest messages of each
//     partition, not the oldest of the whole topic.
//   - An acknowledgement is durable only once the messages before it on its
//     partition are finished too: committed offsets cannot skip holes.
//   - Stats counts this process's leases only; Ready is the group's lag
//     minus what this process holds.
package kafka

import (
	"time"

	"github.com/cairn-dev/cairn/storage/queue"
)

// Topics and consumer groups of Cairn's pipeline, one group per role.
const (
	// TopicIngested carries accepted envelopes from ingest to the workers.
	TopicIngested = "cairn.ingest.events"
	// TopicAttachments carries metadata of uploaded attachments (minidumps)
	// whose bytes are already in the blob store.
	TopicAttachments = "cairn.ingest.attachments"
	// TopicProcessed carries processed events to their consumers (the
	// events store writer, notifications).
	TopicProcessed = "cairn.events.processed"

	// GroupWorkers processes ingested events and attachments.
	GroupWorkers = "cairn-workers"
	// GroupEventWriters stores processed events.
	GroupEventWriters = "cairn-event-writers"
)

// Options configure a Queue.
type Options struct {
	// Brokers are seed host:port addresses.
	Brokers []string
	// Topic is the topic of the queue; its dead letters go to Topic+".dead".
	Topic string
	// Group is the consumer group of the consuming role.
	Group string
	// Partitions and ReplicationFactor are used when the topics have to be
	// created (defaults 12 and the broker's default). Existing topics are
	// left as they are.
	Partitions        int32
	ReplicationFactor int16
	// PartitionKey chooses the bytes a message is partitioned by (default:
	// its Key). Messages with equal partition keys keep their order.
	PartitionKey func(queue.Message) []byte
	// PollWait is how long Lease waits for new records when nothing is
	// ready locally (default 200ms).
	PollWait time.Duration
	// FetchLinger is how long Lease keeps collecting records after the
	// first ones arrive, while fewer than it was asked for came (default
	// 20ms).
	FetchLinger time.Duration
	// MaxInFlight bounds the records held by this process, leased or
	// waiting for a retry (default 10000); Lease stops fetching beyond it.
	MaxInFlight int
	// JoinWait bounds how long OpenQueue waits for its first partition
	// assignment (default 10s).
	JoinWait time.Duration
	// MaxMessageBytes is the largest message accepted (default 16 MiB).
	MaxMessageBytes int32
	// Queue is the retry policy.
	Queue queue.Options
}

func (o Options) withDefaults() Options {
	if o.Partitions <= 0 {
		o.Partitions = 12
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.PartitionKey == nil {
		o.PartitionKey = func(m queue.Message) []byte { return []byte(m.Key) }
	}
	if o.PollWait <= 0 {
		o.PollWait = 200 * time.Millisecond
	}
	if o.FetchLinger <= 0 {
		o.FetchLinger = 20 * time.Millisecond
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 10000
	}
	if o.JoinWait <= 0 {
		o.JoinWait = 10 * time.Second
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 16 << 20
	}
	o.Queue = o.Queue.WithDefaults()
	return o
}
