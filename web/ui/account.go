package ui

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/web"
	"golang.org/x/crypto/bcrypt"
)

// tokenRow is one API token in the account page's list.
type tokenRow struct {
	meta.UserToken
	OrgSlug string
}

// accountData gathers the account page: the viewer's tokens and the
// organizations a new token may belong to.
func (u *UI) accountData(r *http.Request, a adminStore) (map[string]any, error) {
	v := viewerOf(r)
	toks, err := a.ListUserTokens(r.Context(), v.User.ID)
	if err != nil {
		return nil, err
	}
	var orgs []meta.Organization
	slugs := map[int64]string{}
	for _, id := range v.OrgIDs {
		o, err := u.cfg.Meta.Org(r.Context(), id)
		if err != nil {
			return nil, err
		}
		orgs = append(orgs, o)
		slugs[id] = o.Slug
	}
	rows := make([]tokenRow, len(toks))
	for i, t := range toks {
		rows[i] = tokenRow{t, slugs[t.OrgID]}
	}
	return map[string]any{"V": v, "Tokens": rows, "Orgs": orgs, "Scopes": web.KnownScopes,
		"Default": web.DefaultScopes, "Notice": noticeOf(r)}, nil
}

func (u *UI) account(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	data, err := u.accountData(r, a)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "account", http.StatusOK, data)
}

// accountError shows the account page again with an error on one form.
func (u *UI) accountError(w http.ResponseWriter, r *http.Request, a adminStore, field, msg string) {
	data, err := u.accountData(r, a)
	if err != nil {
		u.fail(w, err)
		return
	}
	data[field] = msg
	u.render(w, "account", http.StatusBadRequest, data)
}

// changePassword asks for the current password, so a browser left signed
// in cannot lock its owner out; every session ends, then this browser
// signs in again.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	v := viewerOf(r)
	if bcrypt.CompareHashAndPassword([]byte(v.User.PasswordHash), []byte(r.PostFormValue("current"))) != nil {
		u.accountError(w, r, a, "PasswordError", "The current password is wrong.")
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		u.accountError(w, r, a, "PasswordError", "The new passwords differ.")
		return
	}
	hash, err := HashPassword(pw)
	if err != nil {
		u.accountError(w, r, a, "PasswordError", "The new password is too short: "+err.Error()+".")
		return
	}
	if err := a.SetPassword(r.Context(), v.User.ID, hash); err != nil {
		u.fail(w, err)
		return
	}
	v.User.PasswordHash = hash
	if err := u.startSession(w, r, v.User); err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, "/account", "password")
}

// createToken makes a token acting for the viewer in one of their
// organizations; the secret is shown on this response only.
func (u *UI) createToken(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	v := viewerOf(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 100 {
		u.accountError(w, r, a, "TokenError", "Give the token a name of up to 100 characters.")
		return
	}
	orgID, _ := strconv.ParseInt(r.PostFormValue("org"), 10, 64)
	if !v.member(orgID) {
		u.accountError(w, r, a, "TokenError", "Choose one of your organizations.")
		return
	}
	scopes := r.PostForm["scope"]
	if len(scopes) == 0 {
		u.accountError(w, r, a, "TokenError", "Choose at least one scope.")
		return
	}
	for _, s := range scopes {
		if !slices.Contains(web.KnownScopes, s) {
			u.accountError(w, r, a, "TokenError", "Unknown scope "+s+".")
			return
		}
	}
	secret, err := web.NewToken()
	if err != nil {
		u.fail(w, err)
		return
	}
	t, err := a.CreateUserToken(r.Context(), meta.Token{OrgID: orgID, Hash: web.HashToken(secret), Name: name, Scopes: scopes},
		v.User.ID, secret[len(secret)-4:])
	if err != nil {
		u.fail(w, err)
		return
	}
	data, err := u.accountData(r, a)
	if err != nil {
		u.fail(w, err)
		return
	}
	data["NewToken"], data["NewTokenName"] = secret, t.Name
	u.render(w, "account", http.StatusOK, data)
}

// revokeToken deletes one of the viewer's tokens; another user's token
// id answers 404.
func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	owner, err := a.TokenOwner(r.Context(), id)
	if errors.Is(err, meta.ErrNotFound) || err == nil && owner != viewerOf(r).User.ID {
		http.NotFound(w, r)
		return
	}
	if err == nil {
		err = a.RevokeToken(r.Context(), id)
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, "/account", "revoked")
}
