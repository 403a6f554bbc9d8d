//go:build !cairncli

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/clickhouse"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/kafka"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/memcached"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/s3blob"
)

// backends are the production stores one process opened: only those its
// role uses, so an ingest node never holds ClickHouse connections and a
// snuba node never touches PostgreSQL.
type backends struct {
	meta meta.Store
	// events is the primary events store (PostgreSQL): event bodies and
	// the workers' idempotency checks.
	events events.Store
	// analytics is ClickHouse, nil when not configured.
	analytics *clickhouse.Store
	// ingested carries events from ingest to the workers; ingest holds a
	// producer only, the workers a member of kafka.GroupWorkers.
	ingested queue.Queue
	// processed is the workers' side of the processed-events topic (a
	// producer), processedIn the snuba writers' side (a member of
	// kafka.GroupEventWriters); nil without ClickHouse.
	processed, processedIn queue.Queue
	blobs                  blob.Store
	keyCache               cache.Cache

	// metaPing asks the metadata database for any answer; nil when the
	// role has none.
	metaPing func(context.Context) error

	checks  []readyCheck
	closers []func() error
}

// readyCheck is one backend /readyz asks.
type readyCheck struct {
	name string
	fn   func(context.Context) error
}

// needs are the stores a role uses.
type needs struct {
	meta, events, analytics, blobs, keyCache bool
	// ingestProducer opens the ingest queue for producing only;
	// ingestConsumer joins the workers' group (and may produce too).
	ingestProducer, ingestConsumer       bool
	processedProducer, processedConsumer bool
}

func needsOf(cfg config.Config) needs {
	ch := cfg.Storage.ClickHouse != ""
	switch cfg.Role {
	case config.RoleIngest:
		return needs{meta: true, blobs: true, keyCache: true, ingestProducer: true}
	case config.RoleWorker:
		return needs{meta: true, events: true, blobs: true, ingestConsumer: true, processedProducer: ch}
	case config.RoleSnuba:
		return needs{analytics: true, processedConsumer: true}
	case config.RoleWeb:
		return needs{meta: true, events: true, blobs: true, keyCache: true, analytics: ch}
	}
	return needs{meta: true, events: true, blobs: true, keyCache: true, ingestConsumer: true,
		analytics: ch, processedProducer: ch, processedConsumer: ch}
}

// openBackends connects to the configured production storage the role
// needs. Nothing is migrated here beyond what the stores' Open functions
// do (they apply pending migrations under a lock, so racing roles are
// safe); `cairn migrate` is the explicit step.
func openBackends(ctx context.Context, cfg config.Config, log *slog.Logger) (*backends, error) {
	b := &backends{}
	if err := b.open(ctx, cfg, needsOf(cfg), log); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *backends) open(ctx context.Context, cfg config.Config, n needs, log *slog.Logger) error {
	st := cfg.Storage
	if n.meta {
		m, err := postgres.OpenMeta(ctx, st.Postgres, postgres.Options{})
		if err != nil {
			return err
		}
		b.meta = m
		b.closers = append(b.closers, m.Close)
		b.metaPing = func(ctx context.Context) error {
			// Any answer from the server will do; a missing row is one.
			if _, err := m.OrgBySlug(ctx, "readyz-probe"); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			return nil
		}
		b.checks = append(b.checks, readyCheck{"postgres", b.metaPing})
	}
	if n.events {
		e, err := postgres.OpenEvents(ctx, st.Postgres, postgres.Options{})
		if err != nil {
			return err
		}
		b.events = e
		b.closers = append(b.closers, e.Close)
	}
	if n.analytics {
		a, err := openClickHouse(ctx, st.ClickHouse)
		if err != nil {
			return err
		}
		b.analytics = a
		b.closers = append(b.closers, a.Close)
		b.checks = append(b.checks, readyCheck{"clickhouse", func(ctx context.Context) error {
			if _, err := a.Get(ctx, 0, "readyz-probe"); err != nil && !errors.Is(err, events.ErrNotFound) {
				return err
			}
			return nil
		}})
	}
	if n.ingestProducer || n.ingestConsumer {
		q, err := b.openQueue(ctx, cfg, kafka.TopicIngested, kafka.GroupWorkers, n.ingestConsumer)
		if err != nil {
			return err
		}
		b.ingested = q
	}
	if n.processedConsumer {
		q, err := b.openQueue(ctx, cfg, kafka.TopicProcessed, kafka.GroupEventWriters, true)
		if err != nil {
			return err
		}
		b.processedIn = q
		b.processed = q // one process running both sides publishes through its member
	}
	if n.processedProducer && b.processed == nil {
		q, err := b.openQueue(ctx, cfg, kafka.TopicProcessed, "", false)
		if err != nil {
			return err
		}
		b.processed = q
	}
	if n.blobs {
		bs, err := openBlobs(ctx, cfg, false)
		if err != nil {
			return err
		}
		b.blobs = bs
		if st.S3.Bucket != "" {
			b.checks = append(b.checks, readyCheck{"s3", func(ctx context.Context) error {
				if _, err := bs.Size(ctx, "readyz-probe"); err != nil && !errors.Is(err, blob.ErrNotFound) {
					return err
				}
				return nil
			}})
		}
	}
	if n.keyCache {
		if len(st.Memcached) > 0 {
			c, err := memcached.New(memcached.Options{Servers: st.Memcached, Prefix: "cairn:"})
			if err != nil {
				return err
			}
			b.keyCache = c
			b.closers = append(b.closers, c.Close)
		} else {
			b.keyCache = memcache.New(10_000)
		}
	}
	return nil
}

// openQueue opens one queue: a Kafka topic when brokers are configured,
// else the PostgreSQL queue (which has one topic, the ingest queue).
// consume joins group; otherwise the queue only produces.
func (b *backends) openQueue(ctx context.Context, cfg config.Config, topic, group string, consume bool) (queue.Queue, error) {
	st := cfg.Storage
	if len(st.Kafka) == 0 {
		if topic != kafka.TopicIngested {
			return nil, fmt.Errorf("queue %s: needs storage.kafka", topic)
		}
		q, err := postgres.OpenQueue(ctx, st.Postgres, postgres.Options{}, queue.Options{})
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, q.Close)
		b.checks = append(b.checks, readyCheck{"postgres queue", func(ctx context.Context) error { _, err := q.Stats(ctx); return err }})
		return q, nil
	}
	if consume {
		q, err := kafka.OpenQueue(ctx, kafka.Options{Brokers: st.Kafka, Topic: topic, Group: group})
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, q.Close)
		b.checks = append(b.checks, readyCheck{"kafka " + topic, func(ctx context.Context) error { _, err := q.Stats(ctx); return err }})
		return q, nil
	}
	p, err := openKafkaProducer(ctx, st.Kafka, topic)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, p.Close)
	b.checks = append(b.checks, readyCheck{"kafka " + topic, p.ping})
	return p, nil
}

// openBlobs opens the S3 bucket when one is configured (creating it only
// when create is set: `cairn migrate`), else the data directory's blobs,
// which several processes share only on a shared file system.
func openBlobs(ctx context.Context, cfg config.Config, create bool) (blob.Store, error) {
	s3 := cfg.Storage.S3
	if s3.Bucket == "" {
		return fsblob.Open(cfg.BlobDir())
	}
	return s3blob.Open(ctx, s3blob.Config{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, Prefix: s3.Prefix,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Insecure: s3.Insecure, CreateBucket: create})
}

// openClickHouse reads "[user[:password]@]host:port[/database]".
func openClickHouse(ctx context.Context, spec string) (*clickhouse.Store, error) {
	var c clickhouse.Config
	if at := strings.LastIndexByte(spec, '@'); at >= 0 {
		c.Username, c.Password, _ = strings.Cut(spec[:at], ":")
		spec = spec[at+1:]
	}
	c.Addr, c.Database, _ = strings.Cut(spec, "/")
	s, err := clickhouse.Open(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("storage.clickhouse %s: %w", c.Addr, err)
	}
	return s, nil
}

// close closes what was opened, newest first.
func (b *backends) close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	b.closers = nil
	return errors.Join(errs...)
}

// ready runs every check, each bounded by timeout, and returns the
// failures by backend name.
func (b *backends) ready(ctx context.Context, timeout time.Duration) map[string]error {
	failed := map[string]error{}
	for _, c := range b.checks {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		if err := c.fn(cctx); err != nil {
			failed[c.name] = err
		}
		cancel()
	}
	return failed
}

// kafkaProducer is the queue of a process that only produces to a topic
// (ingest, the workers' processed-events publisher). kafka.Queue always
// joins a consumer group, and a producer in the consumers' group would
// take partitions it never reads, stalling them until it left; one
// outside it would leave a group of its own behind per process. Its
// records are laid out as storage/kafka reads them: keyed by the message
// key (kafka.Options' default partition key), with the key repeated in
// the cairn-key header.
type kafkaProducer struct {
	cl    *kgo.Client
	adm   *kadm.Client
	topic string
}

var _ queue.Queue = (*kafkaProducer)(nil)

// errProduceOnly is returned by the consuming methods of a producer.
var errProduceOnly = errors.New("kafka: this process only produces to the topic")

// kafkaMaxMessageBytes matches storage/kafka's default message bound.
const kafkaMaxMessageBytes = 16 << 20

func openKafkaProducer(ctx context.Context, brokers []string, topic string) (*kafkaProducer, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(kafkaMaxMessageBytes),
		kgo.BrokerMaxWriteBytes(2*kafkaMaxMessageBytes),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: producer for %s: %w", topic, err)
	}
	p := &kafkaProducer{cl: cl, adm: kadm.NewClient(cl), topic: topic}
	if err := p.createTopics(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return p, nil
}

// createTopics makes the topic and its dead-letter topic as storage/kafka
// would, so whichever role starts first finds them configured alike.
func (p *kafkaProducer) createTopics(ctx context.Context) error {
	maxBytes := strconv.Itoa(kafkaMaxMessageBytes)
	for _, t := range []string{p.topic, p.topic + ".dead"} {
		_, err := p.adm.CreateTopic(ctx, 12, -1, map[string]*string{"max.message.bytes": &maxBytes}, t)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t, err)
		}
	}
	return nil
}

// Enqueue implements queue.Queue: it returns once every record is
// acknowledged by all in-sync replicas.
func (p *kafkaProducer) Enqueue(ctx context.Context, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Key: []byte(m.Key), Value: m.Body,
			Headers: []kgo.RecordHeader{{Key: "cairn-key", Value: []byte(m.Key)}}}
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: enqueue to %s: %w", p.topic, err)
	}
	return nil
}

// Lease implements queue.Queue; a producer has nothing to lease.
func (p *kafkaProducer) Lease(context.Context, int, time.Duration) ([]queue.Delivery, error) {
	return nil, errProduceOnly
}

// Ack implements queue.Queue.
func (p *kafkaProducer) Ack(context.Context, []queue.Delivery) error { return errProduceOnly }

// Nack implements queue.Queue.
func (p *kafkaProducer) Nack(context.Context, queue.Delivery, string) error { return errProduceOnly }

// Dead implements queue.Queue.
func (p *kafkaProducer) Dead(context.Context, int) ([]queue.DeadLetter, error) {
	return nil, errProduceOnly
}

// Stats implements queue.Queue: lag belongs to consumer groups.
func (p *kafkaProducer) Stats(context.Context) (queue.Stats, error) {
	return queue.Stats{}, errProduceOnly
}

// Close flushes nothing (Enqueue is synchronous) and disconnects.
func (p *kafkaProducer) Close() error {
	p.cl.Close()
	return nil
}

// ping asks a broker for metadata.
func (p *kafkaProducer) ping(ctx context.Context) error {
	if err := p.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}
