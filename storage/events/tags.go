package events

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Bounds on the tags one event contributes to a tag index, as Sentry bounds
// tags: a client sending thousands of tags or huge values must not grow
// the index without limit.
const (
	MaxTags        = 64
	MaxTagKeyLen   = 64
	MaxTagValueLen = 200
)

// Tags returns the tags a store indexes for an event: TagList of its
// columns and of the payload's "tags". The payload is the only place tags
// live, so it is decoded here; a payload that does not decode contributes
// no tags rather than an error, since tags only feed search and facets and
// must not block storing.
func Tags(ev *Event) [][2]string {
	var payload [][2]string
	if bytes.Contains(ev.Data, []byte(`"tags"`)) {
		var doc struct {
			Tags json.RawMessage `json:"tags"`
		}
		if json.Unmarshal(ev.Data, &doc) == nil {
			payload = parseTags(doc.Tags)
		}
	}
	return TagList(ev.Release, ev.Environment, ev.Level, payload)
}

// TagList returns the tags of an event with the given columns and payload
// tags: release, environment and level, which Sentry also treats as tags,
// then the payload's, each key once (the first non-empty value wins),
// empty keys and values and keys over MaxTagKeyLen skipped, at most
// MaxTags, values cut to MaxTagValueLen bytes on a rune boundary. Stores
// that keep payload tags in their own form (ClickHouse's arrays) apply it
// when reading, so every backend counts the same tags.
func TagList(release, environment, level string, payload [][2]string) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if k == "" || v == "" || len(k) > MaxTagKeyLen || len(out) >= MaxTags {
			return
		}
		if len(v) > MaxTagValueLen {
			v = v[:MaxTagValueLen]
			for !utf8.ValidString(v) {
				v = v[:len(v)-1]
			}
		}
		for _, kv := range out {
			if kv[0] == k {
				return
			}
		}
		out = append(out, [2]string{k, v})
	}
	add("release", release)
	add("environment", environment)
	add("level", level)
	for _, kv := range payload {
		add(kv[0], kv[1])
	}
	return out
}

// parseTags reads the spellings clients send: an object (keys sorted, so
// the result does not depend on map order), a list of pairs, or a list of
// {"key", "value"} objects.
func parseTags(b json.RawMessage) [][2]string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	var out [][2]string
	if b[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, [2]string{k, tagText(m[k])})
		}
		return out
	}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	for _, item := range list {
		var pair []json.RawMessage
		if json.Unmarshal(item, &pair) == nil && len(pair) == 2 {
			out = append(out, [2]string{tagText(pair[0]), tagText(pair[1])})
			continue
		}
		var kv struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(item, &kv) == nil && kv.Key != nil {
			out = append(out, [2]string{tagText(kv.Key), tagText(kv.Value)})
		}
	}
	return out
}

// tagText is a JSON string's text, or the JSON text of any other value;
// null yields "", which Tags skips.
func tagText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}
