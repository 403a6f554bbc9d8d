package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// TestEvents checks an events.Store.
func TestEvents(t *testing.T, newStore func(t *testing.T) events.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	ev := func(id string, issue int64, at time.Time, user string) *events.Event {
		return &events.Event{ProjectID: 1, EventID: id, IssueID: issue, Timestamp: at, ReceivedAt: at.Add(time.Second),
			Level: "error", Platform: "native", Release: "app@1", Environment: "prod", Title: "title " + id, UserKey: user,
			Data: []byte(`{"event_id":"` + id + `"}`)}
	}
	t.Run("PutGetIdempotent", func(t *testing.T) {
		s := newStore(t)
		res, err := s.Put(ctx, []*events.Event{ev("aa", 1, t0, "u1"), ev("bb", 1, t0, "u1"), ev("cc", 1, t0, "")})
		if err != nil {
			t.Fatal(err)
		}
		want := []events.PutResult{{Inserted: true, NewUser: true}, {Inserted: true}, {Inserted: true}}
		for i := range want {
			if res[i] != want[i] {
				t.Errorf("Put[%d] = %+v, want %+v", i, res[i], want[i])
			}
		}
		changed := ev("aa", 2, t0, "u2")
		changed.Data = []byte(`{"changed":true}`)
		res, err = s.Put(ctx, []*events.Event{changed})
		if err != nil || res[0].Inserted || res[0].NewUser {
			t.Fatalf("second Put of the same id = %+v, %v", res, err)
		}
		got, err := s.Get(ctx, 1, "aa")
		if err != nil {
			t.Fatal(err)
		}
		if got.IssueID != 1 || string(got.Data) != `{"event_id":"aa"}` || !got.Timestamp.Equal(t0) || got.UserKey != "u1" ||
			got.Release != "app@1" || got.Environment != "prod" || got.Title != "title aa" || got.Platform != "native" ||
			!got.ReceivedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("Get = %+v", got)
		}
		if _, err := s.Get(ctx, 2, "aa"); !errors.Is(err, events.ErrNotFound) {
			t.Fatalf("event of another project: %v", err)
		}
		ex, err := s.Exists(ctx, []events.Ref{{ProjectID: 1, EventID: "aa"}, {ProjectID: 1, EventID: "zz"}, {ProjectID: 2, EventID: "bb"}})
		if err != nil || !ex[events.Ref{ProjectID: 1, EventID: "aa"}] || len(ex) != 1 {
			t.Fatalf("Exists = %v, %v", ex, err)
		}
	})
	t.Run("ListByIssue", func(t *testing.T) {
		s := newStore(t)
		var batch []*events.Event
		for i := range 25 {
			batch = append(batch, ev(fmt.Sprintf("%02d", i), 7, t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("user%d", i%3)))
		}
		batch = append(batch, ev("other", 8, t0, ""))
		res, err := s.Put(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		newUsers := 0
		for _, r := range res[:25] {
			if r.NewUser {
				newUsers++
			}
		}
		if newUsers != 3 {
			t.Errorf("%d new users, want 3", newUsers)
		}
		page, more, err := s.ListByIssue(ctx, 7, 0, 10)
		if err != nil || len(page) != 10 || !more || page[0].EventID != "24" || page[9].EventID != "15" {
			t.Fatalf("first page: %d events, more %v, %v", len(page), more, err)
		}
		page, more, _ = s.ListByIssue(ctx, 7, 20, 10)
		if len(page) != 5 || more || page[4].EventID != "00" {
			t.Fatalf("last page: %d events, more %v", len(page), more)
		}
	})
	t.Run("LargePayload", func(t *testing.T) {
		s := newStore(t)
		e := ev("big", 1, t0, "")
		e.Data = []byte(`{"exception":{"values":[` + strings.Repeat(`{"type":"E","value":"v"},`, 20_000) + `{}]}}`)
		if _, err := s.Put(ctx, []*events.Event{e}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, 1, "big")
		if err != nil || string(got.Data) != string(e.Data) {
			t.Fatalf("large payload: %d bytes back, %v", len(got.Data), err)
		}
	})
	t.Run("LargeBatchExists", func(t *testing.T) {
		s := newStore(t)
		var batch []*events.Event
		var refs []events.Ref
		for i := range 1000 {
			id := fmt.Sprintf("%032x", i)
			batch = append(batch, ev(id, 1, t0, ""))
			refs = append(refs, events.Ref{ProjectID: 1, EventID: id})
		}
		if _, err := s.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
		ex, err := s.Exists(ctx, refs)
		if err != nil || len(ex) != 1000 {
			t.Fatalf("Exists found %d of 1000, %v", len(ex), err)
		}
	})
}
