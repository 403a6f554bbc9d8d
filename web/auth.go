package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/storage/meta"
)

// DefaultScopes are the scopes of a token created without --scopes: what
// scripts and sentry-cli need to read issues and events and upload debug
// files and releases.
var DefaultScopes = []string{"org:read", "project:read", "project:write", "project:releases", "event:read", "event:write"}

// KnownScopes are the Sentry scopes Cairn recognizes.
var KnownScopes = []string{
	"org:read", "org:write", "org:admin",
	"project:read", "project:write", "project:admin", "project:releases",
	"team:read", "team:write", "team:admin",
	"event:read", "event:write", "event:admin",
	"member:read", "member:write", "member:admin",
}

// NewToken makes a token secret: 64 lowercase hex digits, the form of
// Sentry's classic auth tokens, which sentry-cli accepts without warnings.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("web: new token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// HashToken is what the metadata store keeps of a token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token for an organization and stores its hash; the
// secret is returned once and never stored.
func CreateToken(ctx context.Context, m meta.Store, orgSlug, name string, scopes []string) (string, meta.Token, error) {
	for _, s := range scopes {
		if !slices.Contains(KnownScopes, s) {
			return "", meta.Token{}, fmt.Errorf("web: unknown scope %q (known: %s)", s, strings.Join(KnownScopes, ", "))
		}
	}
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	org, err := m.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return "", meta.Token{}, fmt.Errorf("web: organization %q: %w", orgSlug, err)
	}
	secret, err := NewToken()
	if err != nil {
		return "", meta.Token{}, err
	}
	t, err := m.CreateToken(ctx, meta.Token{OrgID: org.ID, Hash: HashToken(secret), Name: name, Scopes: scopes})
	if err != nil {
		return "", meta.Token{}, fmt.Errorf("web: %w", err)
	}
	return secret, t, nil
}

// hasScope reports whether scopes grant need; as in Sentry, write and
// admin on a resource imply read (and admin implies write).
func hasScope(scopes []string, need string) bool {
	res, level, _ := strings.Cut(need, ":")
	implied := map[string][]string{"read": {"read", "write", "admin"}, "write": {"write", "admin"}, "admin": {"admin"}}[level]
	if implied == nil {
		return slices.Contains(scopes, need)
	}
	for _, l := range implied {
		if slices.Contains(scopes, res+":"+l) {
			return true
		}
	}
	return false
}

var errUnauthenticated = errors.New("authentication credentials were not provided")

// authenticate returns the token of the request's Bearer header.
func (a *API) authenticate(r *http.Request) (meta.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return meta.Token{}, errUnauthenticated
	}
	t, err := a.meta.TokenByHash(r.Context(), HashToken(strings.TrimSpace(secret)))
	if err != nil {
		return meta.Token{}, err
	}
	if err := a.checkUserToken(r.Context(), t); err != nil {
		return meta.Token{}, err
	}
	return t, nil
}
