package issues

import (
	"fmt"
	"strings"
	"time"
)

// maxClockDrift is how far in the future a client's timestamp may be
// before the event is dated at reception instead; maxEventAge is how far in
// the past. Both follow Sentry's defaults, so events sort and expire the
// way users of Sentry expect.
const (
	maxClockDrift = time.Minute
	maxEventAge   = 30 * 24 * time.Hour
)

var levels = map[string]string{
	"fatal": "fatal", "critical": "fatal", "error": "error", "warning": "warning", "warn": "warning",
	"info": "info", "log": "info", "debug": "debug", "sample": "info",
}

// Normalize fills the defaults and fixes the spellings of an event decoded
// by DecodeEvent: the id ingest assigned, timestamps (clamped to reception
// time when they drift), level, platform, the legacy top-level stack trace.
// It is idempotent.
func Normalize(ev *Event, eventID string, received time.Time) {
	if eventID != "" {
		ev.EventID = eventID
	}
	ev.EventID = strings.ToLower(strings.ReplaceAll(ev.EventID, "-", ""))
	received = received.UTC()
	if ev.Received.IsZero() {
		ev.Received = Time{received}
	}
	switch ts := ev.Timestamp.Time; {
	case ts.IsZero():
		ev.Timestamp = Time{received}
	case ts.After(received.Add(maxClockDrift)):
		ev.Errors = append(ev.Errors, EventError{Type: "clock_drift", Name: "timestamp", Value: Time{ts}})
		ev.Timestamp = Time{received}
	case ts.Before(received.Add(-maxEventAge)):
		ev.Errors = append(ev.Errors, EventError{Type: "past_timestamp", Name: "timestamp", Value: Time{ts}})
		ev.Timestamp = Time{received}
	}
	if l, ok := levels[strings.ToLower(strings.TrimSpace(ev.Level))]; ok {
		ev.Level = l
	} else {
		if ev.Level != "" {
			ev.Errors = append(ev.Errors, EventError{Type: "invalid_data", Name: "level", Value: ev.Level})
		}
		ev.Level = "error"
	}
	if ev.Platform == "" {
		ev.Platform = "other"
	}
	if ev.LogEntry != nil && ev.LogEntry.Formatted == "" && ev.LogEntry.Message != "" {
		ev.LogEntry.Formatted = formatMessage(ev.LogEntry.Message, ev.LogEntry.Params)
	}
	// A top-level stack trace belongs to the only exception when there is
	// one without its own, as Sentry's normalization moves it.
	if ev.Stacktrace != nil && ev.Exception != nil && len(ev.Exception.Values) == 1 && ev.Exception.Values[0].Stacktrace == nil {
		ev.Exception.Values[0].Stacktrace = ev.Stacktrace
		ev.Stacktrace = nil
	}
	if ev.Exception != nil {
		vals := ev.Exception.Values[:0]
		for _, e := range ev.Exception.Values {
			if e != nil && (e.Type != "" || e.Value != "" || e.Stacktrace != nil) {
				vals = append(vals, e)
			}
		}
		ev.Exception.Values = vals
		if len(vals) == 0 {
			ev.Exception = nil
		}
	}
}

// formatMessage substitutes printf-style %s (and positional %1$s) params
// into a log template, as SDKs that send "message" + "params" expect.
func formatMessage(tmpl string, params []any) string {
	if len(params) == 0 {
		return tmpl
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		switch tmpl[i+1] {
		case '%':
			b.WriteByte('%')
			i++
		case 's', 'd', 'i', 'f', 'v':
			if next < len(params) {
				fmt.Fprint(&b, params[next])
				next++
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UserKey identifies the event's user for distinct-user counts: the first
// of id, email, username and IP address that is present.
func (e *Event) UserKey() string {
	for _, k := range []string{"id", "email", "username", "ip_address"} {
		if v, ok := e.User[k]; ok && v != nil && fmt.Sprint(v) != "" {
			return k + ":" + fmt.Sprint(v)
		}
	}
	return ""
}

// Message is the event's message text.
func (e *Event) Message() string { return e.LogEntry.Text() }

// ContextValue returns contexts[ctx][key] as a string.
func (e *Event) ContextValue(ctx, key string) string {
	if v, ok := e.Contexts[ctx][key]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}
