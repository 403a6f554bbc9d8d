package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// parseEventID accepts an event id as Sentry does: 32 hex digits, or the
// dashed UUID form, in either case. It returns the canonical form, 32
// lowercase hex digits.
func parseEventID(s string) (string, bool) {
	switch len(s) {
	case 32:
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	default:
		return "", false
	}
	var out [32]byte
	for i := 0; i < 32; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", false
		}
		out[i] = c
	}
	return string(out[:]), true
}

// newEventID returns a random (version 4) UUID in canonical form.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// dashedEventID formats a canonical id as a dashed UUID, the form the
// minidump and Unreal endpoints answer with.
func dashedEventID(id string) string {
	if len(id) != 32 {
		return id
	}
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// prepareEvent checks that raw is one JSON object and makes its event_id
// canonical: want when given (the envelope header's id wins over the
// payload's, as in Sentry), else the payload's own id normalized, else a
// new one. The common case — an object with a canonical id, or with none —
// is handled without decoding the event.
func prepareEvent(raw []byte, want string) ([]byte, string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, "", badRequest(nil, "empty event payload")
	}
	if raw[0] != '{' {
		return nil, "", badRequest(nil, "event payload must be a JSON object")
	}
	var probe struct {
		EventID json.RawMessage `json:"event_id"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, "", badRequest(err, "invalid event JSON: %v", err)
	}
	hasField := len(probe.EventID) > 0 && string(probe.EventID) != "null"
	if hasField {
		var s string
		if err := json.Unmarshal(probe.EventID, &s); err != nil {
			return nil, "", badRequest(err, "invalid event_id: must be a string")
		}
		id, ok := parseEventID(s)
		if !ok {
			return nil, "", badRequest(nil, "invalid event_id %q: want 32 hex digits or a UUID", truncate(s, 64))
		}
		if want == "" || want == id {
			if s == id {
				return raw, id, nil
			}
			return setEventID(raw, id)
		}
		return setEventID(raw, want)
	}
	id := want
	if id == "" {
		id = newEventID()
	}
	if len(probe.EventID) > 0 {
		// "event_id": null is present; splicing would duplicate the key.
		return setEventID(raw, id)
	}
	// Splice the id in after the opening brace.
	rest := bytes.TrimLeft(raw[1:], " \t\r\n")
	out := make([]byte, 0, len(raw)+48)
	out = append(out, `{"event_id":"`...)
	out = append(out, id...)
	out = append(out, '"')
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	out = append(out, rest...)
	return out, id, nil
}

// setEventID rewrites the top-level event_id of a valid JSON object.
func setEventID(raw []byte, id string) ([]byte, string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", badRequest(err, "invalid event JSON: %v", err)
	}
	m["event_id"] = json.RawMessage(`"` + id + `"`)
	out, err := marshalJSON(m)
	if err != nil {
		return nil, "", fmt.Errorf("ingest: re-encoding event: %w", err)
	}
	return out, id, nil
}

// marshalJSON encodes v without HTML escaping, so that re-encoded events
// keep their strings byte-for-byte where possible.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	return m, nil
}

// mergeValues merges src into dst the way Sentry merges event fragments
// sent beside a minidump: objects merge key by key, recursively; any other
// value replaces what was there.
func mergeValues(dst, src map[string]any) {
	for k, sv := range src {
		if so, ok := sv.(map[string]any); ok {
			if do, ok := dst[k].(map[string]any); ok {
				mergeValues(do, so)
				continue
			}
		}
		dst[k] = sv
	}
}

// setPath sets obj[path[0]][path[1]]... = value, creating (or replacing
// non-object values with) objects on the way.
func setPath(obj map[string]any, path []string, value any) {
	for _, p := range path[:len(path)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = value
}

// object returns obj[k] as an object, creating it when absent or not an
// object.
func object(obj map[string]any, k string) map[string]any {
	if o, ok := obj[k].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	obj[k] = o
	return o
}

// setDefault sets obj[k] = v unless obj already has a non-empty value.
func setDefault(obj map[string]any, k string, v any) {
	if cur, ok := obj[k]; ok && cur != nil && cur != "" {
		return
	}
	obj[k] = v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
