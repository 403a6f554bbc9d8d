package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/queue"
)

// TestQueue checks a queue.Queue. newQueue must honour the options it is
// given (the suite uses short backoffs to test retries).
func TestQueue(t *testing.T, newQueue func(t *testing.T, o queue.Options) queue.Queue) {
	ctx := context.Background()
	msgs := func(keys ...string) []queue.Message {
		var out []queue.Message
		for _, k := range keys {
			out = append(out, queue.Message{Key: k, Body: []byte("body of " + k)})
		}
		return out
	}
	t.Run("EnqueueLeaseAck", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		if err := q.Enqueue(ctx, msgs("a", "b")); err != nil {
			t.Fatal(err)
		}
		// Keys are not deduplicated: consumers are idempotent.
		if err := q.Enqueue(ctx, msgs("b", "c")); err != nil {
			t.Fatal(err)
		}
		ds, err := q.Lease(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 4 {
			t.Fatalf("leased %d messages, want 4", len(ds))
		}
		for _, d := range ds {
			if string(d.Body) != "body of "+d.Key || d.Attempt != 1 || d.EnqueuedAt.IsZero() {
				t.Errorf("delivery %+v", d)
			}
		}
		if err := q.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
		st, err := q.Stats(ctx)
		if err != nil || st != (queue.Stats{}) {
			t.Fatalf("Stats = %+v, %v; want an empty queue", st, err)
		}
		if again, _ := q.Lease(ctx, 10, time.Minute); len(again) != 0 {
			t.Fatalf("acknowledged messages delivered again: %+v", again)
		}
	})
	t.Run("LeaseHidesAndOrders", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		for i := range 5 {
			if err := q.Enqueue(ctx, msgs(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		first, _ := q.Lease(ctx, 2, time.Minute)
		second, _ := q.Lease(ctx, 10, time.Minute)
		if len(first) != 2 || len(second) != 3 {
			t.Fatalf("leased %d then %d, want 2 then 3", len(first), len(second))
		}
		if first[0].Key != "0" || first[1].Key != "1" {
			t.Errorf("first lease %s, %s; want the oldest messages 0, 1", first[0].Key, first[1].Key)
		}
		if none, _ := q.Lease(ctx, 10, time.Minute); len(none) != 0 {
			t.Fatalf("leased %d messages that are leased already", len(none))
		}
		st, _ := q.Stats(ctx)
		if st.Leased != 5 || st.Ready != 0 {
			t.Fatalf("Stats = %+v, want 5 leased", st)
		}
	})
	t.Run("ExpiredLeaseRedelivers", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		q.Enqueue(ctx, msgs("x"))
		d1, _ := q.Lease(ctx, 1, 50*time.Millisecond)
		if len(d1) != 1 {
			t.Fatal("no delivery")
		}
		time.Sleep(120 * time.Millisecond)
		d2, _ := q.Lease(ctx, 1, time.Minute)
		if len(d2) != 1 || d2[0].Attempt != 2 {
			t.Fatalf("redelivery %+v, want attempt 2", d2)
		}
		// The first consumer finishing late must not ack the new lease.
		if err := q.Ack(ctx, d1); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("late Ack = %v, want ErrLeaseLost", err)
		}
		if err := q.Ack(ctx, d2); err != nil {
			t.Fatal(err)
		}
		if err := q.Nack(ctx, d2[0], "late"); !errors.Is(err, queue.ErrLeaseLost) {
			t.Fatalf("Nack after Ack = %v, want ErrLeaseLost", err)
		}
	})
	t.Run("NackBacksOffThenDeadLetters", func(t *testing.T) {
		q := newQueue(t, queue.Options{MaxAttempts: 3, Backoff: 300 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
		q.Enqueue(ctx, msgs("poison"))
		for attempt := 1; attempt <= 3; attempt++ {
			var ds []queue.Delivery
			deadline := time.Now().Add(5 * time.Second)
			for len(ds) == 0 && time.Now().Before(deadline) {
				ds, _ = q.Lease(ctx, 1, time.Minute)
				if len(ds) == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if len(ds) != 1 || ds[0].Attempt != attempt {
				t.Fatalf("attempt %d: got %+v", attempt, ds)
			}
			if err := q.Nack(ctx, ds[0], fmt.Sprintf("failure %d", attempt)); err != nil {
				t.Fatal(err)
			}
			if attempt == 1 {
				// The backoff hides the message for a while.
				if again, _ := q.Lease(ctx, 1, time.Minute); len(again) != 0 {
					t.Fatal("a nacked message was redelivered before its backoff")
				}
			}
		}
		dead, err := q.Dead(ctx, 10)
		if err != nil || len(dead) != 1 || dead[0].Key != "poison" || dead[0].Attempts != 3 || dead[0].LastError != "failure 3" {
			t.Fatalf("Dead = %+v, %v", dead, err)
		}
		if ds, _ := q.Lease(ctx, 1, time.Minute); len(ds) != 0 {
			t.Fatal("a dead message was delivered")
		}
		st, _ := q.Stats(ctx)
		if st.Dead != 1 || st.Ready != 0 {
			t.Fatalf("Stats = %+v", st)
		}
	})
	t.Run("ExpiredLeasesCountAsAttempts", func(t *testing.T) {
		q := newQueue(t, queue.Options{MaxAttempts: 2})
		q.Enqueue(ctx, msgs("crasher"))
		for range 2 {
			if ds, _ := q.Lease(ctx, 1, 20*time.Millisecond); len(ds) != 1 {
				t.Fatal("no delivery")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ds, _ := q.Lease(ctx, 1, time.Minute); len(ds) != 0 {
			t.Fatalf("delivered a third time: %+v", ds)
		}
		if dead, _ := q.Dead(ctx, 10); len(dead) != 1 {
			t.Fatalf("Dead = %+v, want the crashing message", dead)
		}
	})
	t.Run("ConcurrentConsumersDeliverOnce", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		const n = 500
		var all []queue.Message
		for i := range n {
			all = append(all, queue.Message{Key: fmt.Sprint(i), Body: []byte{byte(i)}})
		}
		var wg sync.WaitGroup
		for p := range 4 {
			wg.Go(func() {
				for i := p * 25; i < n; i += 4 * 25 {
					end := min(i+25, n)
					if err := q.Enqueue(ctx, all[i:end]); err != nil {
						t.Error(err)
					}
				}
			})
		}
		var mu sync.Mutex
		seen := map[string]int{}
		done := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					ds, err := q.Lease(ctx, 16, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ds) == 0 {
						select {
						case <-done:
							return
						case <-time.After(5 * time.Millisecond):
							continue
						}
					}
					mu.Lock()
					for _, d := range ds {
						seen[d.Key]++
					}
					mu.Unlock()
					if err := q.Ack(ctx, ds); err != nil {
						t.Error(err)
					}
				}
			})
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			k := len(seen)
			mu.Unlock()
			if k == n {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("consumed %d distinct messages, want %d", len(seen), n)
		}
		for k, c := range seen {
			if c != 1 {
				t.Errorf("message %s delivered %d times", k, c)
			}
		}
	})
	t.Run("LargeBodies", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		big := []byte(strings.Repeat(`{"frame":"pkg.function","line":42},`, 30_000))
		random := make([]byte, 50_000)
		for i := range random {
			random[i] = byte(i*7919 + i>>3)
		}
		if err := q.Enqueue(ctx, []queue.Message{{Key: "big", Body: big}, {Key: "random", Body: random}, {Key: "empty", Body: []byte{}}}); err != nil {
			t.Fatal(err)
		}
		ds, err := q.Lease(ctx, 10, time.Minute)
		if err != nil || len(ds) != 3 {
			t.Fatalf("Lease = %d deliveries, %v", len(ds), err)
		}
		want := map[string][]byte{"big": big, "random": random, "empty": {}}
		for _, d := range ds {
			if !bytes.Equal(d.Body, want[d.Key]) {
				t.Errorf("%s: body of %d bytes, want %d", d.Key, len(d.Body), len(want[d.Key]))
			}
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		q := newQueue(t, queue.Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := q.Enqueue(cctx, msgs("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Enqueue with canceled context: %v", err)
		}
	})
}
