package issues

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/storage/blob"
)

// Processor turns a queue message into a processed event: normalized,
// with its minidump read and its native frames symbolicated, grouped and
// described. It writes nothing; the worker stores what it returns.
type Processor struct {
	Blobs        blob.Store
	Symbolicator Symbolicator
}

// Process processes one message. An error means the message could not be
// processed at all and should be retried (a blob store failure, a
// cancelled context); problems with the event's own content are recorded on
// the event instead.
func (p *Processor) Process(ctx context.Context, m *Message) (*Event, error) {
	ev := &Event{}
	if len(bytes.TrimSpace(m.Event)) > 0 {
		var err error
		if ev, err = DecodeEvent(m.Event); err != nil {
			ev = &Event{Errors: []EventError{{Type: "invalid_data", Message: err.Error()}}}
		}
	}
	Normalize(ev, m.EventID, m.ReceivedAt)
	if ip, ok := ev.User["ip_address"].(string); ok && ip == "{{auto}}" && m.RemoteAddr != "" {
		ev.User["ip_address"] = m.RemoteAddr
	}
	for _, a := range m.Attachments {
		ev.Attachments = append(ev.Attachments, AttachmentInfo{Name: a.Name, ContentType: a.ContentType, Type: a.Type, Size: a.Size, Key: a.Key})
	}
	if err := p.native(WithProject(ctx, m.ProjectID), ev, m); err != nil {
		return nil, err
	}
	hash, g := Group(ev)
	ev.Hashes, ev.Grouping = []string{hash}, g
	Describe(ev)
	return ev, nil
}

// native applies the symbolicator to minidumps and native frames.
func (p *Processor) native(ctx context.Context, ev *Event, m *Message) error {
	for _, a := range m.Attachments {
		if a.Type != "event.minidump" {
			continue
		}
		if err := p.minidump(ctx, ev, a); err != nil {
			return err
		}
		break // one crash per event; further dumps stay attachments
	}
	stacks := allStacks(ev)
	if len(stacks) == 0 || len(ev.images()) == 0 && ev.Platform != "native" {
		return nil
	}
	errs, err := p.Symbolicator.Symbolicate(ctx, stacks, ev.images())
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		ev.Errors = append(ev.Errors, EventError{Type: "native_symbolicator_failed", Message: err.Error()})
		return nil
	}
	ev.Errors = append(ev.Errors, errs...)
	return nil
}

func (p *Processor) minidump(ctx context.Context, ev *Event, a AttachmentRef) error {
	if a.Inline {
		return p.readMinidump(ctx, ev, a, a.Data)
	}
	rc, err := p.Blobs.Open(ctx, a.Key)
	if errors.Is(err, blob.ErrNotFound) {
		ev.Errors = append(ev.Errors, EventError{Type: "native_internal_failure", Name: a.Name, Message: "the minidump is missing from the blob store"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("issues: open minidump: %w", err)
	}
	defer rc.Close()
	// Dumps are bounded by ingest's attachment limit; reading one whole
	// gives the minidump reader the random access it needs whatever the
	// blob backend.
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return fmt.Errorf("issues: read minidump: %w", err)
	}
	return p.readMinidump(ctx, ev, a, buf.Bytes())
}

// readMinidump stackwalks and symbolicates a dump into the event.
func (p *Processor) readMinidump(ctx context.Context, ev *Event, a AttachmentRef, data []byte) error {
	crash, err := p.Symbolicator.Minidump(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		ev.Errors = append(ev.Errors, EventError{Type: "native_bad_minidump", Name: a.Name, Message: err.Error()})
		ev.Platform = "native"
		return nil
	}
	ev.Platform = "native"
	if crash.Exception != nil {
		ev.Exception = &Exceptions{Values: []*Exception{crash.Exception}}
		ev.Level = "fatal"
	}
	if len(crash.Threads) > 0 {
		ev.Threads = &Threads{Values: crash.Threads}
	}
	if len(crash.Images) > 0 {
		ev.DebugMeta = &DebugMeta{Images: crash.Images}
	}
	for name, c := range crash.Contexts {
		if ev.Contexts == nil {
			ev.Contexts = map[string]map[string]any{}
		}
		if ev.Contexts[name] == nil {
			ev.Contexts[name] = c
		}
	}
	ev.Errors = append(ev.Errors, crash.Errors...)
	return nil
}

// allStacks lists every stack of the event once: exceptions, the
// top-level one and the threads' (a crashed thread often shares its stack
// with the exception).
func allStacks(ev *Event) []*Stacktrace {
	var out []*Stacktrace
	add := func(s *Stacktrace) {
		if s == nil || len(s.Frames) == 0 {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if ev.Exception != nil {
		for _, e := range ev.Exception.Values {
			add(e.Stacktrace)
		}
	}
	add(ev.Stacktrace)
	if ev.Threads != nil {
		for _, t := range ev.Threads.Values {
			add(t.Stacktrace)
		}
	}
	return out
}
