package clickhouse

import (
	"bytes"
	"encoding/json"
	"slices"
)

// extractTags returns the "tags" of an event's JSON as parallel key and value
// arrays, in the two shapes Sentry accepts: an object {"k": "v"} (keys
// sorted, so the stored order does not depend on map iteration) and a list
// of pairs [["k", "v"]]. Non-string values keep their JSON text; nulls and
// malformed entries are dropped. Data that is not JSON yields no tags rather
// than an error, since tags only feed facets and must not block storing.
func extractTags(data []byte) (keys, values []string) {
	keys, values = []string{}, []string{}
	if !bytes.Contains(data, []byte(`"tags"`)) {
		return keys, values
	}
	var doc struct {
		Tags json.RawMessage `json:"tags"`
	}
	if json.Unmarshal(data, &doc) != nil || len(doc.Tags) == 0 {
		return keys, values
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(doc.Tags, &obj) == nil {
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := keys[:0]
		for _, k := range keys {
			if v, ok := tagValue(obj[k]); ok && k != "" {
				out = append(out, k)
				values = append(values, v)
			}
		}
		return out, values
	}
	var pairs [][]json.RawMessage
	if json.Unmarshal(doc.Tags, &pairs) == nil {
		for _, p := range pairs {
			if len(p) != 2 {
				continue
			}
			var k string
			if json.Unmarshal(p[0], &k) != nil || k == "" {
				continue
			}
			if v, ok := tagValue(p[1]); ok {
				keys = append(keys, k)
				values = append(values, v)
			}
		}
	}
	return keys, values
}

func tagValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}
