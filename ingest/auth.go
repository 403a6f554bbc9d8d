package ingest

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// maxKeyLen bounds what is handed to the KeyStore: real public keys are 32
// hex digits, so anything much longer is garbage not worth a lookup.
const maxKeyLen = 64

// keyFromRequest finds the DSN public key in the request itself, in the
// order Sentry's SDKs and uploaders use: the X-Sentry-Auth header, an
// Authorization header of the "Sentry" or "DSN" scheme, the sentry_key
// query parameter. It returns "" when none carries one; the envelope
// header's dsn is looked at later, by the envelope endpoint.
func keyFromRequest(h headerGetter, query url.Values) string {
	if v := h.Get("X-Sentry-Auth"); v != "" {
		if k := authParam(v, "sentry_key"); k != "" {
			return k
		}
	}
	if v := h.Get("Authorization"); v != "" {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch {
		case strings.EqualFold(scheme, "Sentry"):
			if k := authParam(rest, "sentry_key"); k != "" {
				return k
			}
		case strings.EqualFold(scheme, "DSN"):
			if k, _, err := parseDSN(strings.TrimSpace(rest)); err == nil {
				return k
			}
		}
	}
	return query.Get("sentry_key")
}

type headerGetter interface{ Get(string) string }

// authParam extracts one parameter from a Sentry auth header value such as
// `Sentry sentry_key=abc, sentry_version=7, sentry_client=x/1.0`. The
// "Sentry " prefix is optional and values may be quoted.
func authParam(v, name string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "sentry ") {
		v = v[7:]
	}
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return ""
}

// parseDSN splits {scheme}://{public_key}[:secret]@{host}[:port]/[path/]{project_id}
// into its public key and project id.
func parseDSN(dsn string) (key string, projectID int64, err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", 0, err
	}
	if u.User == nil || u.User.Username() == "" {
		return "", 0, errors.New("DSN has no public key")
	}
	path := strings.TrimRight(u.Path, "/")
	last := path[strings.LastIndexByte(path, '/')+1:]
	pid, err := strconv.ParseInt(last, 10, 64)
	if err != nil || pid <= 0 {
		return "", 0, errors.New("DSN has no numeric project id")
	}
	return u.User.Username(), pid, nil
}

// authenticate resolves public to a key of project pid and loads the
// project. Unknown, disabled or foreign keys are 401; a disabled project
// is 403; a KeyStore failure is 503 so that clients retry.
func (h *handler) authenticate(ctx context.Context, rq *request, public string) error {
	if public == "" {
		return unauthorized("missing DSN key: send X-Sentry-Auth: Sentry sentry_key=<key>, or ?sentry_key=<key>")
	}
	if len(public) > maxKeyLen || !isKeyText(public) {
		return unauthorized("malformed DSN key")
	}
	key, err := h.keys.Key(ctx, public)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return unauthorized("unknown DSN key")
	case err != nil:
		return unavailable(err, 10, "key lookup failed, retry later")
	}
	if key.Disabled {
		return unauthorized("DSN key is disabled")
	}
	if key.ProjectID != rq.pid {
		return unauthorized("DSN key does not belong to project %d", rq.pid)
	}
	project, err := h.keys.Project(ctx, rq.pid)
	switch {
	case errors.Is(err, ErrUnknownProject):
		return unauthorized("unknown project %d", rq.pid)
	case err != nil:
		return unavailable(err, 10, "project lookup failed, retry later")
	}
	if project.Disabled {
		return forbidden("project %d is disabled", rq.pid)
	}
	rq.key, rq.project = key, project
	return nil
}

// isKeyText accepts the characters a public key can have; it keeps control
// characters and the like out of logs and KeyStore queries.
func isKeyText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
