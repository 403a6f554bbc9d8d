package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestUsersSessionsMembers(t *testing.T) {
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if n, err := m.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("count %d %v", n, err)
	}
	u, err := m.CreateUser(ctx, meta.User{Email: " Ann@Example.COM ", PasswordHash: "h", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateUser(ctx, meta.User{Email: "ann@example.com", PasswordHash: "h"}); !errors.Is(err, meta.ErrExists) {
		t.Errorf("duplicate email: %v", err)
	}
	got, err := m.UserByEmail(ctx, "ANN@example.com")
	if err != nil || got.ID != u.ID || !got.Admin || got.Email != "ann@example.com" {
		t.Fatalf("by email %+v %v", got, err)
	}
	o, _ := m.CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	for range 2 {
		if err := m.AddMember(ctx, u.ID, o.ID); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := m.UserOrgs(ctx, u.ID); err != nil || len(ids) != 1 || ids[0] != o.ID {
		t.Errorf("orgs %v %v", ids, err)
	}
	now := time.Now()
	if err := m.CreateSession(ctx, meta.Session{Hash: "live", UserID: u.ID, CSRF: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateSession(ctx, meta.Session{Hash: "old", UserID: u.ID, CSRF: "c", ExpiresAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s, err := m.SessionByHash(ctx, "live", now); err != nil || s.UserID != u.ID || s.CSRF != "c" {
		t.Errorf("live session %+v %v", s, err)
	}
	if _, err := m.SessionByHash(ctx, "old", now); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
	if err := m.DeleteSession(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SessionByHash(ctx, "live", now); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
}

func TestAccountsConformance(t *testing.T) {
	storagetest.TestAccounts(t, func(t *testing.T) storagetest.AccountsStore {
		m, err := sqlite.OpenMeta(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
