package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// TestMeta checks a meta.Store.
func TestMeta(t *testing.T, newStore func(t *testing.T) meta.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) (meta.Store, meta.Project) {
		s := newStore(t)
		o, err := s.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "game", Name: "Game", Platform: "native", Scrub: true, ScrubFields: []string{"secret"}, DropMinidumps: true})
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	}
	t.Run("OrgsProjectsKeysTokens", func(t *testing.T) {
		s, p := setup(t)
		o, err := s.OrgBySlug(ctx, "acme")
		if err != nil || o.ID != p.OrgID || o.Name != "Acme" || o.CreatedAt.IsZero() {
			t.Fatalf("OrgBySlug = %+v, %v", o, err)
		}
		if o2, err := s.Org(ctx, o.ID); err != nil || o2 != o {
			t.Fatalf("Org = %+v, %v; want %+v", o2, err, o)
		}
		if _, err := s.CreateOrg(ctx, meta.Organization{Slug: "acme"}); !errors.Is(err, meta.ErrExists) {
			t.Fatalf("duplicate org: %v", err)
		}
		if _, err := s.OrgBySlug(ctx, "nope"); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("missing org: %v", err)
		}
		got, err := s.Project(ctx, p.ID)
		if err != nil || got.Slug != "game" || !got.Scrub || !slices.Equal(got.ScrubFields, []string{"secret"}) || !got.DropMinidumps || got.Platform != "native" {
			t.Fatalf("Project = %+v, %v", got, err)
		}
		if got, err := s.ProjectBySlug(ctx, o.ID, "game"); err != nil || got.ID != p.ID {
			t.Fatalf("ProjectBySlug = %+v, %v", got, err)
		}
		if _, err := s.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "game"}); !errors.Is(err, meta.ErrExists) {
			t.Fatalf("duplicate project: %v", err)
		}
		if _, err := s.Project(ctx, 9999); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("missing project: %v", err)
		}
		if ps, err := s.ListProjects(ctx, o.ID); err != nil || len(ps) != 1 || !ps[0].DropMinidumps || !ps[0].Scrub {
			t.Fatalf("ListProjects = %+v, %v", ps, err)
		}

		k, err := s.CreateKey(ctx, meta.Key{ProjectID: p.ID, Public: "0123456789abcdef0123456789abcdef", RateLimitCount: 10, RateLimitWindow: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.KeyByPublic(ctx, k.Public); err != nil || got.ProjectID != p.ID || got.RateLimitWindow != time.Minute || got.RateLimitCount != 10 {
			t.Fatalf("KeyByPublic = %+v, %v", got, err)
		}
		if _, err := s.CreateKey(ctx, meta.Key{ProjectID: p.ID, Public: k.Public}); !errors.Is(err, meta.ErrExists) {
			t.Fatalf("duplicate key: %v", err)
		}
		if _, err := s.KeyByPublic(ctx, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
		if ks, err := s.ListKeys(ctx, p.ID); err != nil || len(ks) != 1 {
			t.Fatalf("ListKeys = %+v, %v", ks, err)
		}

		tok, err := s.CreateToken(ctx, meta.Token{OrgID: o.ID, Hash: "abc123", Name: "ci", Scopes: []string{"project:read", "event:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.TokenByHash(ctx, "abc123"); err != nil || got.ID != tok.ID || !slices.Equal(got.Scopes, tok.Scopes) {
			t.Fatalf("TokenByHash = %+v, %v", got, err)
		}
		if _, err := s.CreateToken(ctx, meta.Token{OrgID: o.ID, Hash: "abc123"}); !errors.Is(err, meta.ErrExists) {
			t.Fatalf("duplicate token: %v", err)
		}
		if _, err := s.TokenByHash(ctx, "zzz"); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("missing token: %v", err)
		}
	})
	t.Run("GroupAndRecord", func(t *testing.T) {
		s, p := setup(t)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		req := func(hash string, at time.Time) meta.GroupRequest {
			return meta.GroupRequest{ProjectID: p.ID, Hash: hash, Type: "error", Title: "crash " + hash, Culprit: "main",
				Level: "fatal", Platform: "native", Metadata: map[string]string{"type": "SIGSEGV"}, Time: at}
		}
		got, err := s.GroupIssues(ctx, []meta.GroupRequest{req("h1", t0), req("h2", t0), req("h1", t0)})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].ID != got[2].ID || got[0].ID == got[1].ID {
			t.Fatalf("grouping ids %d %d %d: want the same hash to give the same issue", got[0].ID, got[1].ID, got[2].ID)
		}
		if got[0].ShortSeq != 1 || got[1].ShortSeq != 2 {
			t.Errorf("short seqs %d, %d; want 1, 2", got[0].ShortSeq, got[1].ShortSeq)
		}
		if got[0].Status != meta.StatusUnresolved || got[0].TimesSeen != 0 || got[0].Metadata["type"] != "SIGSEGV" {
			t.Errorf("new issue %+v", got[0])
		}
		// Created but not yet recorded issues are not listed.
		if l, _, _ := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID}); len(l) != 0 {
			t.Fatalf("listed %d issues without occurrences", len(l))
		}
		i1, i2 := got[0].ID, got[1].ID
		occs := []meta.Occurrence{
			{IssueID: i1, EventID: "e1", Time: t0, Level: "error", Release: "app@1", Environment: "prod", NewUser: true},
			{IssueID: i1, EventID: "e2", Time: t0.Add(time.Hour), Level: "fatal", Release: "app@2", Environment: "staging", NewUser: true, Title: "newer title"},
			{IssueID: i1, EventID: "e0", Time: t0.Add(-time.Hour), Release: "app@0", Environment: "prod"},
			{IssueID: i2, EventID: "e3", Time: t0.Add(2 * time.Hour)},
		}
		for i := range occs {
			occs[i].ProjectID = p.ID
		}
		rec, err := s.RecordOccurrences(ctx, occs)
		if err != nil || len(rec) != 2 {
			t.Fatalf("RecordOccurrences = %+v, %v", rec, err)
		}
		is, err := s.Issue(ctx, i1)
		if err != nil {
			t.Fatal(err)
		}
		if is.TimesSeen != 3 || is.UserCount != 2 || !is.FirstSeen.Equal(t0.Add(-time.Hour)) || !is.LastSeen.Equal(t0.Add(time.Hour)) ||
			is.Level != "fatal" || is.FirstRelease != "app@1" || is.LastRelease != "app@2" || is.LastEventID != "e2" ||
			!slices.Equal(is.Environments, []string{"prod", "staging"}) || is.Title != "newer title" {
			t.Fatalf("issue after occurrences: %+v", is)
		}
		l, more, err := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID})
		if err != nil || more || len(l) != 2 || l[0].ID != i2 {
			t.Fatalf("ListIssues by date = %v ids, more %v, %v", ids(l), more, err)
		}
		if l, _, _ := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Sort: "freq"}); len(l) != 2 || l[0].ID != i1 {
			t.Fatalf("ListIssues by freq = %v", ids(l))
		}
		if l, more, _ := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Limit: 1}); len(l) != 1 || !more {
			t.Fatalf("ListIssues limit 1 = %v, more %v", ids(l), more)
		}
		if l, more, _ := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Limit: 1, Offset: 1}); len(l) != 1 || more || l[0].ID != i1 {
			t.Fatalf("ListIssues page 2 = %v, more %v", ids(l), more)
		}
		if _, _, err := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Sort: "bogus"}); err == nil {
			t.Error("unknown sort accepted")
		}
		// Recording the same events again (a redelivery) changes nothing.
		rec, err = s.RecordOccurrences(ctx, occs)
		if err != nil || len(rec) != 0 {
			t.Fatalf("second RecordOccurrences = %+v, %v; want nothing recorded", rec, err)
		}
		if again, _ := s.Issue(ctx, i1); again.TimesSeen != 3 || again.UserCount != 2 {
			t.Fatalf("counts changed by a repeated occurrence: %+v", again)
		}
	})
	t.Run("Regression", func(t *testing.T) {
		s, p := setup(t)
		t0 := time.Now().UTC().Truncate(time.Second)
		is, err := s.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: "h", Type: "error", Title: "t", Time: t0}})
		if err != nil {
			t.Fatal(err)
		}
		id := is[0].ID
		if _, err := s.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: id, ProjectID: p.ID, EventID: "a", Time: t0}}); err != nil {
			t.Fatal(err)
		}
		res, err := s.SetIssueStatus(ctx, id, meta.StatusResolved)
		if err != nil || res.Status != meta.StatusResolved || res.ResolvedAt.IsZero() {
			t.Fatalf("resolve: %+v, %v", res, err)
		}
		if l, _, _ := s.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Status: meta.StatusUnresolved}); len(l) != 0 {
			t.Fatal("resolved issue listed as unresolved")
		}
		rec, err := s.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: id, ProjectID: p.ID, EventID: "b", Time: t0.Add(time.Second)}})
		if err != nil || len(rec) != 1 || !rec[0].Regressed {
			t.Fatalf("occurrence on resolved issue: %+v, %v; want regressed", rec, err)
		}
		is2, _ := s.Issue(ctx, id)
		if is2.Status != meta.StatusUnresolved || is2.Substatus != meta.SubstatusRegressed || is2.TimesSeen != 2 {
			t.Fatalf("after regression: %+v", is2)
		}
		rec, _ = s.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: id, ProjectID: p.ID, EventID: "c", Time: t0.Add(2 * time.Second)}})
		if rec[0].Regressed {
			t.Fatal("an unresolved issue regressed again")
		}
		if _, err := s.SetIssueStatus(ctx, id, "bogus"); err == nil {
			t.Error("unknown status accepted")
		}
		if _, err := s.SetIssueStatus(ctx, 12345, meta.StatusResolved); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("status of a missing issue: %v", err)
		}
	})
	t.Run("GroupUnknownProject", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: 77, Hash: "h", Time: time.Now()}}); err == nil {
			t.Fatal("grouping into a missing project succeeded")
		}
	})
}

func ids(l []meta.Issue) []string {
	var out []string
	for _, is := range l {
		out = append(out, fmt.Sprint(is.ID))
	}
	return out
}
