package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cairn-dev/cairn/storage/kafka"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// cluster starts an in-process broker for one test.
func cluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func open(t testing.TB, o kafka.Options) *kafka.Queue {
	t.Helper()
	q, err := kafka.OpenQueue(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// The suite runs on one partition: Kafka orders records within a
// partition, and with one partition that is the whole queue, which is what
// the suite's ordering checks look at.
func TestQueueConformance(t *testing.T) {
	storagetest.TestQueue(t, func(t *testing.T, o queue.Options) queue.Queue {
		return open(t, kafka.Options{Brokers: cluster(t), Topic: "events", Group: "workers", Partitions: 1, Queue: o})
	})
}

// Messages are partitioned by the partition key (the project), in order
// within each project, across several partitions.
func TestPartitionByProject(t *testing.T) {
	ctx := context.Background()
	brokers := cluster(t)
	o := kafka.Options{Brokers: brokers, Topic: "events", Group: "workers", Partitions: 8,
		PartitionKey: func(m queue.Message) []byte { return m.Body[:1] }}
	q := open(t, o)
	var msgs []queue.Message
	for i := range 200 {
		msgs = append(msgs, queue.Message{Key: strconv.Itoa(i), Body: []byte{byte('a' + i%5), byte(i)}})
	}
	if err := q.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	last := map[byte]int{}
	partOf := map[byte]int64{}
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	for got < 200 && time.Now().Before(deadline) {
		ds, err := q.Lease(ctx, 50, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			project := d.Body[0]
			i, _ := strconv.Atoi(d.Key)
			if prev, ok := last[project]; ok && i < prev {
				t.Errorf("project %c: message %d after %d", project, i, prev)
			}
			last[project] = i
			p := d.ID >> 40
			if prev, ok := partOf[project]; ok && prev != p {
				t.Errorf("project %c on partitions %d and %d", project, prev, p)
			}
			partOf[project] = p
		}
		got += len(ds)
		if err := q.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	if got != 200 {
		t.Fatalf("consumed %d of 200", got)
	}
}

// Unacknowledged messages of a consumer that goes away are delivered to
// the next member of the group; acknowledged ones are not.
func TestRedeliveryAfterMemberLeaves(t *testing.T) {
	ctx := context.Background()
	o := kafka.Options{Brokers: cluster(t), Topic: "events", Group: "workers", Partitions: 1}
	q1, err := kafka.OpenQueue(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []queue.Message
	for i := range 10 {
		msgs = append(msgs, queue.Message{Key: fmt.Sprint(i), Body: []byte("x")})
	}
	if err := q1.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	ds, err := q1.Lease(ctx, 10, time.Minute)
	if err != nil || len(ds) != 10 {
		t.Fatalf("Lease = %d, %v", len(ds), err)
	}
	// Acknowledge 0-3 and 5: only 0-3 are committable, 4 is unfinished.
	if err := q1.Ack(ctx, append(ds[:4:4], ds[5])); err != nil {
		t.Fatal(err)
	}
	q1.Close()
	q2 := open(t, o)
	var keys []string
	deadline := time.Now().Add(10 * time.Second)
	for len(keys) < 6 && time.Now().Before(deadline) {
		ds, err := q2.Lease(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			keys = append(keys, d.Key)
		}
	}
	want := []string{"4", "5", "6", "7", "8", "9"}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		st, err := q2.Stats(ctx)
		t.Logf("stats %+v %v", st, err)
		t.Fatalf("redelivered %v, want %v", keys, want)
	}
}

func BenchmarkEnqueueLeaseAck(b *testing.B) {
	ctx := context.Background()
	q := open(b, kafka.Options{Brokers: cluster(b), Topic: "events", Group: "workers", Partitions: 4})
	batch := make([]queue.Message, 100)
	for i := range batch {
		batch[i] = queue.Message{Key: fmt.Sprintf("%032x", i), Body: make([]byte, 2048)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := q.Enqueue(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < len(batch); {
			ds, err := q.Lease(ctx, len(batch)-n, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Ack(ctx, ds); err != nil {
				b.Fatal(err)
			}
			n += len(ds)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}
