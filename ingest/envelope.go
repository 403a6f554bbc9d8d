package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// The envelope format (https://develop.sentry.dev/sdk/envelopes/): a header
// line of JSON, then items, each an item-header line of JSON and a
// payload. A payload whose header has "length" is exactly that many bytes
// (it may hold newlines) followed by a newline or the end of the body;
// without "length" it runs to the next newline. sentry-native writes no
// newline after the last payload; blank lines between items are tolerated,
// as Sentry's parser skips whitespace before a header.

// envelopeHeader is the envelope's first line. Unknown fields (sdk, trace,
// ...) are ignored.
type envelopeHeader struct {
	EventID string `json:"event_id"`
	DSN     string `json:"dsn"`
	SentAt  string `json:"sent_at"`
}

// envelopeItem is one parsed item; Payload aliases the request body.
type envelopeItem struct {
	Type           string
	ContentType    string
	Filename       string
	AttachmentType string
	Payload        []byte
}

type itemHeader struct {
	Type           string `json:"type"`
	Length         *int64 `json:"length"`
	ContentType    string `json:"content_type"`
	Filename       string `json:"filename"`
	AttachmentType string `json:"attachment_type"`
}

// maxEnvelopeItems bounds the item count: an item costs at least a few
// bytes of header, so a 200 MiB body could otherwise hold tens of millions.
const maxEnvelopeItems = 10000

// attachmentRefType is the content type sentry-native gives attachment
// items that only reference a file uploaded elsewhere.
const attachmentRefType = "application/vnd.sentry.attachment-ref+json"

// parseEnvelopeHeader decodes the envelope header line.
func parseEnvelopeHeader(line []byte) (envelopeHeader, error) {
	var hdr envelopeHeader
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return hdr, badRequest(nil, "invalid envelope: missing header line")
	}
	if line[0] != '{' {
		return hdr, badRequest(nil, "invalid envelope: header is not a JSON object")
	}
	if err := json.Unmarshal(line, &hdr); err != nil {
		return hdr, badRequest(err, "invalid envelope header: %v", err)
	}
	return hdr, nil
}

// cutLine splits b at the first newline, dropping it and a preceding '\r'.
func cutLine(b []byte) (line, rest []byte, found bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, b[i+1:], true
}

// parseEnvelopeItems parses the items that follow the header line. It
// never allocates more than a slice header per item: payloads alias b.
func parseEnvelopeItems(b []byte) ([]envelopeItem, error) {
	var items []envelopeItem
	for n := 0; ; n++ {
		// Skip blank lines between items.
		for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
			b = b[1:]
		}
		if len(b) == 0 {
			return items, nil
		}
		if len(items) >= maxEnvelopeItems {
			return nil, badRequest(nil, "invalid envelope: more than %d items", maxEnvelopeItems)
		}
		line, rest, _ := cutLine(b)
		var ih itemHeader
		if len(line) == 0 || line[0] != '{' {
			return nil, badRequest(nil, "invalid envelope: item %d header is not a JSON object", n)
		}
		if err := json.Unmarshal(line, &ih); err != nil {
			return nil, badRequest(err, "invalid envelope: item %d header: %v", n, err)
		}
		if ih.Type == "" {
			return nil, badRequest(nil, "invalid envelope: item %d has no type", n)
		}
		var payload []byte
		if ih.Length != nil {
			l := *ih.Length
			if l < 0 {
				return nil, badRequest(nil, "invalid envelope: item %d (%s) has negative length %d", n, ih.Type, l)
			}
			if l > int64(len(rest)) {
				return nil, badRequest(nil, "invalid envelope: item %d (%s) is truncated: length %d, %d bytes left", n, ih.Type, l, len(rest))
			}
			payload, rest = rest[:l], rest[l:]
			switch {
			case len(rest) == 0:
			case rest[0] == '\n':
				rest = rest[1:]
			case len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n':
				rest = rest[2:]
			default:
				return nil, badRequest(nil, "invalid envelope: item %d (%s) payload is not followed by a newline", n, ih.Type)
			}
		} else {
			payload, rest, _ = cutLine(rest)
		}
		items = append(items, envelopeItem{
			Type:           ih.Type,
			ContentType:    ih.ContentType,
			Filename:       ih.Filename,
			AttachmentType: ih.AttachmentType,
			Payload:        payload,
		})
		b = rest
	}
}

// readEnvelopeHead reads from b until the header line is complete (or the
// body ends), so that an envelope authenticated only by its header's dsn
// is authenticated before the rest of a possibly large body is read. It
// returns the bytes read so far and the index of the header's newline (or
// -1 when the body has none).
func readEnvelopeHead(b *body, maxHeader, sizeHint int64) ([]byte, int, error) {
	buf := make([]byte, 0, initialCap(b, sizeHint))
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(4<<10, len(buf)))
		}
		start := len(buf)
		n, err := b.Read(buf[start:cap(buf)])
		buf = buf[:start+n]
		if i := bytes.IndexByte(buf[start:], '\n'); i >= 0 {
			return buf, start + i, nil
		}
		if int64(len(buf)) > maxHeader {
			return nil, 0, tooLarge("envelope header line exceeds %d bytes", maxHeader)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, -1, nil
			}
			return nil, 0, b.fail(err)
		}
	}
}

// envelope handles POST /api/{pid}/envelope/.
func (h *handler) envelope(rq *request) (*result, error) {
	public := keyFromRequest(rq.r.Header, rq.r.URL.Query())
	if public != "" {
		// Refuse bad keys before reading the body.
		if err := h.authenticate(rq.r.Context(), rq, public); err != nil {
			return nil, err
		}
	}
	b, err := h.openBody(rq, "envelope", h.cfg.MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	defer b.close()
	buf, nl, err := readEnvelopeHead(b, h.cfg.MaxEventSize, rq.r.ContentLength)
	if err != nil {
		return nil, err
	}
	headLine := buf
	if nl >= 0 {
		headLine = headLine[:nl]
	}
	hdr, err := parseEnvelopeHeader(headLine)
	if err != nil {
		return nil, err
	}
	if public == "" {
		if hdr.DSN == "" {
			return nil, unauthorized("missing DSN key: send X-Sentry-Auth, ?sentry_key=, or a dsn in the envelope header")
		}
		k, pid, err := parseDSN(hdr.DSN)
		if err != nil {
			return nil, unauthorized("invalid dsn in envelope header: %v", err)
		}
		if pid != rq.pid {
			return nil, unauthorized("envelope dsn names project %d, not %d", pid, rq.pid)
		}
		if err := h.authenticate(rq.r.Context(), rq, k); err != nil {
			return nil, err
		}
	}
	// A large body almost surely carries an event or attachments; when the
	// key is over its limit, refuse it before reading it.
	if rq.r.ContentLength > h.cfg.MaxEventSize {
		if wait, ok := h.limiters.peek(rq.key, h.cfg.Now()); !ok {
			return nil, rateLimited(retrySeconds(wait))
		}
	}
	data := buf
	if nl >= 0 {
		if data, err = readMore(b, buf); err != nil {
			return nil, err
		}
	}
	var items []envelopeItem
	if nl >= 0 {
		if items, err = parseEnvelopeItems(data[nl+1:]); err != nil {
			return nil, err
		}
	}
	acc, err := h.assembleEnvelope(rq, hdr, items)
	if err != nil {
		return nil, err
	}
	if acc.Event == nil && len(acc.Attachments) == 0 && len(acc.Items) == 0 {
		// Only ignored items (transactions, profiles, ...): nothing to
		// store, and the client must not retry.
		return &result{eventID: acc.EventID}, nil
	}
	if acc.Event != nil || len(acc.Attachments) > 0 {
		if wait, ok := h.limiters.take(rq.r.Context(), rq.key, h.cfg.Now()); !ok {
			limited := rateLimited(retrySeconds(wait))
			if len(acc.Items) == 0 {
				return nil, limited
			}
			// Keep the standalone items (sessions, reports), drop the
			// event, and still tell the client it was limited.
			acc = &Accepted{Items: acc.Items}
			if err := h.commit(rq, acc); err != nil {
				return nil, err
			}
			return nil, limited
		}
	}
	if err := h.commit(rq, acc); err != nil {
		return nil, err
	}
	return &result{eventID: acc.EventID, stored: true}, nil
}

// assembleEnvelope turns parsed items into what the Sink gets, applying
// the per-item limits.
func (h *handler) assembleEnvelope(rq *request, hdr envelopeHeader, items []envelopeItem) (*Accepted, error) {
	acc := &Accepted{}
	var headerID string
	if hdr.EventID != "" {
		id, ok := parseEventID(hdr.EventID)
		if !ok {
			return nil, badRequest(nil, "invalid event_id %q in envelope header", truncate(hdr.EventID, 64))
		}
		headerID = id
		rq.eventID = id
	}
	var eventPayload []byte
	hasEvent, hasMinidump := false, false
	for i, it := range items {
		switch it.Type {
		case "event":
			if hasEvent {
				return nil, badRequest(nil, "invalid envelope: more than one event item")
			}
			if int64(len(it.Payload)) > h.cfg.MaxEventSize {
				return nil, tooLarge("event item of %d bytes exceeds %d bytes", len(it.Payload), h.cfg.MaxEventSize)
			}
			hasEvent, eventPayload = true, it.Payload
			h.metrics.items.WithLabelValues(it.Type, "accepted").Inc()
		case "attachment":
			att, err := h.envelopeAttachment(i, it)
			if err != nil {
				return nil, err
			}
			hasMinidump = hasMinidump || att.Type == "event.minidump"
			acc.Attachments = append(acc.Attachments, att)
			h.metrics.items.WithLabelValues(it.Type, "accepted").Inc()
		case "session", "sessions", "user_report", "client_report":
			if int64(len(it.Payload)) > h.cfg.MaxEventSize {
				return nil, tooLarge("%s item of %d bytes exceeds %d bytes", it.Type, len(it.Payload), h.cfg.MaxEventSize)
			}
			if !json.Valid(it.Payload) {
				// Like Sentry, a broken secondary item is dropped without
				// failing the envelope.
				h.metrics.items.WithLabelValues(it.Type, "dropped").Inc()
				continue
			}
			acc.Items = append(acc.Items, Item{Type: it.Type, Payload: it.Payload})
			h.metrics.items.WithLabelValues(it.Type, "accepted").Inc()
		default:
			// Transactions are ignored: Cairn is a crash reporter and keeps
			// no performance data; they must not become issues. Other types
			// (profiles, replays, check-ins, logs, metrics, ...) likewise.
			h.metrics.items.WithLabelValues(itemTypeLabel(it.Type), "ignored").Inc()
		}
	}
	switch {
	case hasEvent:
		ev, id, err := prepareEvent(eventPayload, headerID)
		if err != nil {
			return nil, err
		}
		acc.EventID, acc.Event = id, ev
	case hasMinidump:
		// A minidump without an event item (some SDKs send only the dump)
		// still makes an event, as in Sentry; the worker fills it from the
		// dump.
		id := headerID
		if id == "" {
			id = newEventID()
		}
		acc.EventID = id
		acc.Event = []byte(`{"event_id":"` + id + `","platform":"native"}`)
	case len(acc.Attachments) > 0:
		if headerID == "" {
			return nil, badRequest(nil, "invalid envelope: attachments without an event need event_id in the envelope header")
		}
		acc.EventID = headerID
	default:
		acc.EventID = headerID
	}
	rq.eventID = acc.EventID
	return acc, nil
}

// knownItemTypes bounds the label values of the items metric.
var knownItemTypes = map[string]bool{
	"transaction": true, "profile": true, "profile_chunk": true, "replay_event": true, "replay_recording": true,
	"replay_video": true, "check_in": true, "statsd": true, "metric_buckets": true, "span": true, "log": true,
	"otel_log": true, "feedback": true, "security": true, "form_data": true, "raw_security": true, "nel": true,
	"trace_metric": true, "otel_span": true,
}

func itemTypeLabel(t string) string {
	if knownItemTypes[t] {
		return t
	}
	return "other"
}

// envelopeAttachment checks one attachment item against its limit and, for
// a minidump, that it is one.
func (h *handler) envelopeAttachment(i int, it envelopeItem) (Attachment, error) {
	typ := it.AttachmentType
	if typ == "" {
		typ = "event.attachment"
	}
	limit := h.cfg.MaxAttachmentSize
	if typ == "event.minidump" {
		limit = h.cfg.MaxMinidumpSize
	}
	name := it.Filename
	if name == "" {
		name = "attachment-" + strconv.Itoa(i)
	}
	if int64(len(it.Payload)) > limit {
		return Attachment{}, tooLarge("attachment %q (%s) of %d bytes exceeds %d bytes", truncate(name, 100), typ, len(it.Payload), limit)
	}
	data := it.Payload
	if typ == "event.minidump" && it.ContentType != attachmentRefType {
		var err error
		if data, err = h.minidumpBytes(data, fmt.Sprintf("attachment %q", truncate(name, 100))); err != nil {
			return Attachment{}, err
		}
		name = trimContainerExt(name)
	}
	return Attachment{Name: name, ContentType: it.ContentType, Type: typ, Data: data}, nil
}
