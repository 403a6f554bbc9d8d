package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/storage/meta"
)

// DefaultSlug is the slug of the organization and project a fresh server
// creates, so a newcomer has a DSN without configuring anything.
const DefaultSlug = "default"

// EnsureDefaults creates the default organization, its default project and
// a DSN key when they are missing, and returns them. It is idempotent: a
// restarted server finds and reuses them, so its DSN never changes.
func EnsureDefaults(ctx context.Context, m meta.Store) (meta.Organization, meta.Project, meta.Key, error) {
	org, err := m.OrgBySlug(ctx, DefaultSlug)
	if errors.Is(err, meta.ErrNotFound) {
		org, err = m.CreateOrg(ctx, meta.Organization{Slug: DefaultSlug, Name: "Default"})
	}
	if err != nil {
		return org, meta.Project{}, meta.Key{}, fmt.Errorf("web: default organization: %w", err)
	}
	p, err := m.ProjectBySlug(ctx, org.ID, DefaultSlug)
	if errors.Is(err, meta.ErrNotFound) {
		p, err = m.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: DefaultSlug, Name: "Default", Platform: "native"})
	}
	if err != nil {
		return org, p, meta.Key{}, fmt.Errorf("web: default project: %w", err)
	}
	keys, err := m.ListKeys(ctx, p.ID)
	if err != nil {
		return org, p, meta.Key{}, fmt.Errorf("web: default key: %w", err)
	}
	for _, k := range keys {
		if !k.Disabled {
			return org, p, k, nil
		}
	}
	k, err := CreateKey(ctx, m, p.ID, "Default")
	return org, p, k, err
}

// CreateKey makes a new DSN key for a project.
func CreateKey(ctx context.Context, m meta.Store, projectID int64, label string) (meta.Key, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return meta.Key{}, fmt.Errorf("web: new key: %w", err)
	}
	k, err := m.CreateKey(ctx, meta.Key{ProjectID: projectID, Public: hex.EncodeToString(b[:]), Label: label})
	if err != nil {
		return k, fmt.Errorf("web: new key: %w", err)
	}
	return k, nil
}
