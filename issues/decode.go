package issues

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// eventKeys are the top-level keys Event models, from its json tags.
var eventKeys = sync.OnceValue(func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[Event]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
})

// eventJSON is Event without its methods, for the default encoding.
type eventJSON Event

// MarshalJSON writes the modelled fields, then the kept unknown ones.
func (e *Event) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal((*eventJSON)(e))
	if err != nil || len(e.Other) == 0 {
		return b, err
	}
	known := eventKeys()
	buf := bytes.NewBuffer(b[:len(b)-1])
	for k, v := range e.Other {
		if known[k] || len(v) == 0 {
			continue
		}
		kb, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// DecodeEvent reads a client's event payload leniently, as Sentry does: a
// field of the wrong shape is dropped and reported as an "invalid_data"
// error instead of failing the event, legacy spellings (a message string,
// exception and thread lists without "values", tags as an object) are
// converted, and unknown keys are kept. Only input that is not a JSON
// object fails.
func DecodeEvent(b []byte) (*Event, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("issues: event is not a JSON object: %w", err)
	}
	ev := &Event{}
	known := eventKeys()
	invalid := func(name string, err error) {
		ev.Errors = append(ev.Errors, EventError{Type: "invalid_data", Name: name, Message: err.Error()})
	}
	field := func(name string, dst any) {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			invalid(name, err)
			// A half-decoded value is worse than none.
			reflect.ValueOf(dst).Elem().SetZero()
		}
	}
	for k, v := range raw {
		switch k {
		case "message", "logentry", "sentry.interfaces.Message", "exception", "sentry.interfaces.Exception",
			"threads", "breadcrumbs", "fingerprint", "errors", "user", "extra", "contexts":
			continue // handled below
		}
		if !known[k] {
			if ev.Other == nil {
				ev.Other = map[string]json.RawMessage{}
			}
			ev.Other[k] = v
		}
	}
	// Plain string fields.
	for name, dst := range map[string]*string{
		"event_id": &ev.EventID, "platform": &ev.Platform, "level": &ev.Level, "logger": &ev.Logger,
		"transaction": &ev.Transaction, "server_name": &ev.ServerName, "release": &ev.Release, "dist": &ev.Dist,
		"environment": &ev.Environment, "culprit": &ev.Culprit,
	} {
		if v, ok := raw[name]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				// Numbers are common for release and dist; keep their text.
				if t := bytes.TrimSpace(v); len(t) > 0 && (t[0] >= '0' && t[0] <= '9' || t[0] == '-') {
					*dst = string(t)
				} else {
					invalid(name, err)
				}
			}
		}
	}
	field("timestamp", &ev.Timestamp)
	field("received", &ev.Received)
	field("stacktrace", &ev.Stacktrace)
	field("debug_meta", &ev.DebugMeta)
	field("tags", &ev.Tags)
	field("modules", &ev.Modules)
	field("attachments", &ev.Attachments)
	field("title", &ev.Title)
	field("type", &ev.Type)
	field("metadata", &ev.Metadata)
	field("hashes", &ev.Hashes)
	field("grouping", &ev.Grouping)
	field("user", &ev.User)
	field("extra", &ev.Extra)
	field("contexts", &ev.Contexts)
	field("errors", &ev.Errors)
	for _, name := range []string{"request", "sdk"} {
		if v, ok := raw[name]; ok && string(v) != "null" {
			if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
				invalid(name, fmt.Errorf("want an object"))
				continue
			}
			if name == "request" {
				ev.Request = v
			} else {
				ev.SDK = v
			}
		}
	}

	// message: a string (legacy), or the logentry object under either name.
	for _, name := range []string{"logentry", "sentry.interfaces.Message", "message"} {
		v, ok := raw[name]
		if !ok || string(v) == "null" || ev.LogEntry != nil {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			if s != "" {
				ev.LogEntry = &LogEntry{Formatted: s}
			}
			continue
		}
		var le LogEntry
		if err := json.Unmarshal(v, &le); err != nil {
			invalid(name, err)
			continue
		}
		if le.Text() != "" {
			ev.LogEntry = &le
		}
	}
	// exception: {"values": [...]}, a bare list, or a single exception.
	for _, name := range []string{"exception", "sentry.interfaces.Exception"} {
		v, ok := raw[name]
		if !ok || string(v) == "null" || ev.Exception != nil {
			continue
		}
		vals, err := valuesList[*Exception](v)
		if err != nil {
			invalid(name, err)
			continue
		}
		if len(vals) > 0 {
			ev.Exception = &Exceptions{Values: vals}
		}
	}
	if v, ok := raw["threads"]; ok && string(v) != "null" {
		if vals, err := valuesList[*Thread](v); err != nil {
			invalid("threads", err)
		} else if len(vals) > 0 {
			ev.Threads = &Threads{Values: vals}
		}
	}
	if v, ok := raw["breadcrumbs"]; ok && string(v) != "null" {
		if vals, err := valuesList[json.RawMessage](v); err != nil {
			invalid("breadcrumbs", err)
		} else if len(vals) > 0 {
			ev.Breadcrumbs, _ = json.Marshal(map[string]any{"values": vals})
		}
	}
	if v, ok := raw["fingerprint"]; ok && string(v) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			invalid("fingerprint", err)
		} else {
			for _, item := range list {
				ev.Fingerprint = append(ev.Fingerprint, tagValue(item))
			}
		}
	}
	return ev, nil
}

// valuesList reads Sentry's {"values": [...]} container, a bare list, or a
// single object as a list of one.
func valuesList[T any](b json.RawMessage) ([]T, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []T
		err := json.Unmarshal(b, &list)
		return list, err
	}
	var c struct {
		Values *[]T `json:"values"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if c.Values != nil {
		return *c.Values, nil
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}
