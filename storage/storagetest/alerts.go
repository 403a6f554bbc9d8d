package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// AlertStore is what TestAlerts needs: rules refer to projects and issues.
type AlertStore interface {
	meta.Store
	meta.Alerts
	meta.Releases
}

// TestAlerts checks meta.Alerts and meta.Releases: rules round-trip,
// enqueuing is idempotent by key, claims hide deliveries for their lease,
// attempts are recorded, minute counts sum over a window, links and
// releases are kept.
func TestAlerts(t *testing.T, newStore func(t *testing.T) AlertStore) {
	ctx := context.Background()
	s := newStore(t)
	org, err := s.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "demo", Name: "Demo"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateAlertRule(ctx, meta.AlertRule{ProjectID: p.ID, Name: "spike", Enabled: true, Trigger: meta.TriggerFrequency,
		Threshold: 10, Window: 5 * time.Minute, MinLevel: "error", Environment: "production",
		Actions: []meta.AlertAction{{Type: meta.ActionEmail, Emails: []string{"a@example.com"}, AllMembers: true}, {Type: meta.ActionGitHub, Repo: "acme/game", Labels: []string{"crash"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AlertRule(ctx, r.ID)
	if err != nil || got.Window != 5*time.Minute || got.Threshold != 10 || len(got.Actions) != 2 || !got.Actions[0].AllMembers ||
		got.Actions[1].Labels[0] != "crash" || got.MinLevel != "error" || !got.Enabled {
		t.Fatalf("rule %+v, %v", got, err)
	}
	got.Name, got.Enabled = "renamed", false
	if _, err := s.UpdateAlertRule(ctx, got); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ListAlertRules(ctx, p.ID); err != nil || len(l) != 1 || l[0].Name != "renamed" || l[0].Enabled {
		t.Fatalf("rules %+v, %v", l, err)
	}
	if _, err := s.UpdateAlertRule(ctx, meta.AlertRule{ID: r.ID, ProjectID: p.ID + 1, Name: "x"}); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("update in another project: %v", err)
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	d := meta.Delivery{RuleID: r.ID, ProjectID: p.ID, IssueID: 7, Key: "rule:1/issue:7/new/action:0", Trigger: meta.TriggerNewIssue,
		Action: meta.AlertAction{Type: meta.ActionSlack, WebhookURL: "https://hooks.example.com/x"}, Payload: []byte(`{"title":"t"}`), NextAttempt: now}
	added, err := s.EnqueueDeliveries(ctx, []meta.Delivery{d, d})
	if err != nil || len(added) != 1 {
		t.Fatalf("enqueue: %d added, %v", len(added), err)
	}
	if again, err := s.EnqueueDeliveries(ctx, []meta.Delivery{d}); err != nil || len(again) != 0 {
		t.Fatalf("enqueue again: %d added, %v", len(again), err)
	}
	claimed, err := s.ClaimDeliveries(ctx, now, 10, time.Minute)
	if err != nil || len(claimed) != 1 || string(claimed[0].Payload) != `{"title":"t"}` || claimed[0].Action.WebhookURL != d.Action.WebhookURL {
		t.Fatalf("claim %+v, %v", claimed, err)
	}
	if more, _ := s.ClaimDeliveries(ctx, now.Add(30*time.Second), 10, time.Minute); len(more) != 0 {
		t.Fatal("a claimed delivery was claimed again within its lease")
	}
	c := claimed[0]
	c.Status, c.Attempts, c.LastError, c.NextAttempt = meta.DeliveryFailed, 3, "HTTP 500", now
	if err := s.FinishAttempt(ctx, c); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: p.ID, Status: meta.DeliveryFailed}); err != nil || len(l) != 1 ||
		l[0].Attempts != 3 || l[0].LastError != "HTTP 500" {
		t.Fatalf("failed deliveries %+v, %v", l, err)
	}
	if more, _ := s.ClaimDeliveries(ctx, now.Add(time.Hour), 10, time.Minute); len(more) != 0 {
		t.Fatal("a failed delivery was claimed")
	}

	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, n := range []int{2, 3, 4} {
		at := base.Add(time.Duration(i) * 2 * time.Minute)
		total, err := s.CountIssueEvents(ctx, 7, at, n, at.Add(-3*time.Minute), at.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{2, 5, 7}[i]; total != want {
			t.Errorf("count %d: %d, want %d", i, total, want)
		}
	}

	for range 2 {
		if err := s.AddIssueLink(ctx, meta.IssueLink{IssueID: 7, Kind: "github", URL: "https://github.com/acme/game/issues/1"}); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := s.IssueLinks(ctx, 7); err != nil || len(l) != 1 {
		t.Fatalf("links %+v, %v", l, err)
	}

	rel, err := s.UpsertRelease(ctx, meta.Release{OrgID: org.ID, Version: "game@1.0", Projects: []string{"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	refs := []meta.ReleaseRef{{Repository: "acme/game", Commit: "b", PreviousCommit: "a"}}
	if rel2, err := s.UpsertRelease(ctx, meta.Release{OrgID: org.ID, Version: "game@1.0", Refs: refs}); err != nil || rel2.ID != rel.ID ||
		len(rel2.Refs) != 1 || len(rel2.Projects) != 1 {
		t.Fatalf("upsert %+v, %v", rel2, err)
	}
	cs := []meta.Commit{{Repository: "acme/game", SHA: "b1", Message: "fix", AuthorName: "Ada"}, {Repository: "acme/game", SHA: "b2"}}
	if err := s.SetReleaseCommits(ctx, rel.ID, "acme/game", cs); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReleaseCommits(ctx, rel.ID); err != nil || len(got) != 2 || got[0].SHA != "b1" || got[0].AuthorName != "Ada" {
		t.Fatalf("commits %+v, %v", got, err)
	}
	if err := s.DeleteAlertRule(ctx, p.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AlertRule(ctx, r.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("deleted rule: %v", err)
	}
}
