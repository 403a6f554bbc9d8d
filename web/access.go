package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/storage/meta"
)

// tokenUser returns the user a token acts for, or ok false for an
// organization token (cairn token create), which keeps its own
// organization and project scoping only.
func (a *API) tokenUser(ctx context.Context, tok meta.Token) (meta.User, bool, error) {
	acc, ok1 := a.meta.(meta.Accounts)
	users, ok2 := a.meta.(meta.Users)
	if !ok1 || !ok2 {
		return meta.User{}, false, nil
	}
	id, err := acc.TokenOwner(ctx, tok.ID)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.User{}, false, nil
	}
	if err != nil {
		return meta.User{}, false, fmt.Errorf("web: token owner: %w", err)
	}
	u, err := users.User(ctx, id)
	if err != nil {
		return u, false, fmt.Errorf("web: token owner: %w", err)
	}
	return u, true, nil
}

// checkUserToken refuses, as an unknown token, a user's token whose user
// has left the token's organization.
func (a *API) checkUserToken(ctx context.Context, tok meta.Token) error {
	u, ok, err := a.tokenUser(ctx, tok)
	if err != nil || !ok {
		return err
	}
	acc, ok := a.meta.(meta.Access)
	if !ok {
		return nil
	}
	if _, err := acc.MemberRole(ctx, tok.OrgID, u.ID); err != nil {
		return fmt.Errorf("web: token of a former member: %w", err)
	}
	return nil
}

// canRead reports errNotFound when a user's token may not read the
// project: the user's role and teams apply to their tokens, so a member
// of another team gets the same 404 as for a missing project.
func (a *API) canRead(ctx context.Context, tok meta.Token, p meta.Project) error {
	acc, ok := a.meta.(meta.Access)
	if !ok {
		return nil
	}
	u, ok, err := a.tokenUser(ctx, tok)
	if err != nil || !ok {
		return err
	}
	see, err := meta.CanSeeProject(ctx, acc, u, p)
	if err != nil {
		return fmt.Errorf("web: project access: %w", err)
	}
	if !see {
		return errNotFound
	}
	return nil
}
