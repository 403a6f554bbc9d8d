// Package scrub removes sensitive data from Sentry events before they are
// stored, like Sentry's default server-side data scrubber.
//
// Two rules apply anywhere in the event:
//   - Values whose key looks sensitive are replaced by "[Filtered]". A key is
//     sensitive when, lowercased with '-' read as '_', it contains one of
//     the built-in words (password, passwd, secret, api_key, apikey, auth,
//     credential, mysql_pwd, privatekey, private_key, token, cookie,
//     session, csrf, xsrf, phpsessid, connect.sid) or one of the project's
//     extra fields, or is exactly otp, two_factor or sid. Keys are object
//     keys, and the first element of [key, value] pairs, the form Sentry
//     events use for headers, cookies, query strings and tags.
//   - Inside every string, credit-card numbers (13 to 19 digits, optionally
//     grouped by single spaces or dashes, with a card network's prefix and
//     a valid Luhn check digit) and "Bearer <token>" credentials are
//     replaced by "[Filtered]". Query strings and URLs (keys query_string,
//     query, url, and form-encoded request data) have the values of their
//     sensitive parameters replaced, and passwords in URL user info.
//
// Replacing a whole sensitive value, containers included, errs on the side
// of removing too much: a scrubber that misses a nested password leaks it
// for the life of the event.
package scrub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Filtered replaces every scrubbed value or substring.
const Filtered = "[Filtered]"

// defaultWords are the built-in sensitive key fragments, in normalized form
// (lowercase, '-' as '_').
var defaultWords = []string{
	"password", "passwd", "secret", "api_key", "apikey", "auth", "credential",
	"mysql_pwd", "privatekey", "private_key", "token", "cookie", "session",
	"csrf", "xsrf", "phpsessid", "connect.sid",
}

// exactKeys are sensitive only as whole keys: as fragments they would
// match too much ("sid" is in "side", "otp" in "footprint").
var exactKeys = []string{"otp", "two_factor", "sid"}

// Scrubber applies the rules of the package documentation. It is safe for
// concurrent use once built.
type Scrubber struct {
	words []string
}

// New returns a Scrubber with the built-in sensitive keys plus extra
// (matched the same way: case-insensitive substrings).
func New(extra []string) *Scrubber {
	s := &Scrubber{words: append([]string(nil), defaultWords...)}
	for _, f := range extra {
		if f = normalizeKey(strings.TrimSpace(f)); f != "" {
			s.words = append(s.words, f)
		}
	}
	return s
}

func normalizeKey(k string) string {
	k = strings.ToLower(k)
	if strings.IndexByte(k, '-') >= 0 {
		k = strings.ReplaceAll(k, "-", "_")
	}
	return k
}

// SensitiveKey reports whether values under key k are scrubbed.
func (s *Scrubber) SensitiveKey(k string) bool {
	if k == "" {
		return false
	}
	n := normalizeKey(k)
	for _, w := range s.words {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, e := range exactKeys {
		if n == e {
			return true
		}
	}
	return false
}

// Event scrubs one JSON event. It returns the input itself when nothing was
// scrubbed, so the common case costs one decode and no re-encode.
func (s *Scrubber) Event(raw []byte) ([]byte, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, fmt.Errorf("scrub: decoding event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, fmt.Errorf("scrub: decoding event: trailing data after the JSON value")
	}
	nv, changed := s.Value(v)
	if !changed {
		return raw, false, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(nv); err != nil {
		return nil, false, fmt.Errorf("scrub: encoding event: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true, nil
}

// Value scrubs a decoded JSON value (map[string]any, []any, string,
// json.Number, float64, bool, nil) in place where it can, and returns the
// result and whether anything changed.
func (s *Scrubber) Value(v any) (any, bool) {
	return s.walk("", v, 0)
}

// maxDepth stops the walk on absurdly nested input; encoding/json already
// refuses nesting deeper than 10000, this keeps the stack small anyway.
const maxDepth = 512

func (s *Scrubber) walk(key string, v any, depth int) (any, bool) {
	if depth > maxDepth {
		return v, false
	}
	switch t := v.(type) {
	case map[string]any:
		changed := false
		for k, val := range t {
			if s.SensitiveKey(k) {
				if filterable(val) {
					t[k] = Filtered
					changed = true
				}
				continue
			}
			if nv, c := s.walk(k, val, depth+1); c {
				t[k] = nv
				changed = true
			}
		}
		return t, changed
	case []any:
		changed := false
		for i, el := range t {
			if pair, ok := el.([]any); ok && len(pair) == 2 {
				if pk, ok := pair[0].(string); ok && looksLikeKey(pk) {
					if s.SensitiveKey(pk) {
						if filterable(pair[1]) {
							pair[1] = Filtered
							changed = true
						}
						continue
					}
					if nv, c := s.walk(pk, pair[1], depth+1); c {
						pair[1] = nv
						changed = true
					}
					continue
				}
			}
			if nv, c := s.walk(key, el, depth+1); c {
				t[i] = nv
				changed = true
			}
		}
		return t, changed
	case string:
		return s.scrubString(key, t)
	case json.Number:
		if digitsOnlyCard(string(t)) {
			return Filtered, true
		}
		return t, false
	case float64:
		// Decoders without UseNumber lose digits past 2^53, so a card
		// number arriving as a float cannot be checked reliably; leave it.
		return t, false
	default:
		return v, false
	}
}

// filterable reports whether a sensitive key's value carries data: null
// and "" are left alone, as Sentry does, so their absence stays visible.
func filterable(v any) bool {
	if v == nil {
		return false
	}
	if s, ok := v.(string); ok && (s == "" || s == Filtered) {
		return false
	}
	return true
}

// looksLikeKey tells a [key, value] pair from any two-element list (source
// context lines, fingerprints): keys are short and have no spaces.
func looksLikeKey(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return strings.IndexAny(s, " \t\r\n") < 0
}

func (s *Scrubber) scrubString(key, v string) (any, bool) {
	changed := false
	switch normalizeKey(key) {
	case "query_string", "query", "http.query":
		if nv, c := s.scrubQuery(v); c {
			v, changed = nv, true
		}
	case "url", "http.url", "request_url", "from", "to":
		if nv, c := s.scrubURL(v); c {
			v, changed = nv, true
		}
	case "data", "body":
		if looksLikeForm(v) {
			if nv, c := s.scrubQuery(v); c {
				v, changed = nv, true
			}
		}
	}
	if nv, c := scrubBearer(v); c {
		v, changed = nv, true
	}
	if nv, c := scrubCards(v); c {
		v, changed = nv, true
	}
	return v, changed
}

// scrubQuery replaces the values of sensitive parameters of a
// form-encoded query ("a=1&password=x"), keeping everything else as it was.
func (s *Scrubber) scrubQuery(q string) (string, bool) {
	prefix := ""
	if strings.HasPrefix(q, "?") {
		prefix, q = "?", q[1:]
	}
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		k, val, ok := strings.Cut(p, "=")
		if !ok || val == "" || val == Filtered {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if s.SensitiveKey(name) {
			parts[i] = k + "=" + Filtered
			changed = true
		}
	}
	if !changed {
		return prefix + q, false
	}
	return prefix + strings.Join(parts, "&"), true
}

// scrubURL scrubs a URL's query and the password of its user info.
func (s *Scrubber) scrubURL(u string) (string, bool) {
	changed := false
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 && rest[colon+1:at] != Filtered {
				u = u[:i+3] + rest[:colon+1] + Filtered + rest[at:]
				changed = true
			}
		}
	}
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return u, changed
	}
	frag := ""
	query := u[q+1:]
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	if nq, c := s.scrubQuery(query); c {
		return u[:q+1] + nq + frag, true
	}
	return u, changed
}

// looksLikeForm tells a form-encoded body from free text: it has a '=' and
// no whitespace or JSON braces.
func looksLikeForm(v string) bool {
	return strings.IndexByte(v, '=') > 0 && strings.IndexAny(v, " \t\r\n{}[]") < 0
}

// scrubBearer replaces "Bearer <token>" (case-insensitive) by Filtered.
func scrubBearer(v string) (string, bool) {
	const word = "bearer"
	if len(v) < len(word)+2 {
		return v, false
	}
	var out strings.Builder
	changed := false
	last := 0
	for i := 0; i+len(word) < len(v); i++ {
		if !strings.EqualFold(v[i:i+len(word)], word) {
			continue
		}
		if i > 0 && isWordByte(v[i-1]) {
			continue
		}
		j := i + len(word)
		k := j
		for k < len(v) && (v[k] == ' ' || v[k] == '\t') {
			k++
		}
		if k == j {
			continue
		}
		e := k
		for e < len(v) && !isSpace(v[e]) {
			e++
		}
		if e == k || v[k:e] == Filtered {
			continue
		}
		out.WriteString(v[last:i])
		out.WriteString(Filtered)
		last, i, changed = e, e-1, true
	}
	if !changed {
		return v, false
	}
	out.WriteString(v[last:])
	return out.String(), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
