package issues

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// messageVersion is the version of the queue message layout; a worker
// refuses messages from a newer producer instead of misreading them.
// Version 2 added standalone items (Kind); event messages are still
// written as version 1, so that workers of the previous release keep
// reading them during an upgrade.
const messageVersion = 2

// Message is what ingest hands the worker through the queue: the event as
// the client sent it (after ingest's scrubbing), with its attachments
// already in the blob store.
type Message struct {
	ProjectID   int64           `json:"project_id"`
	EventID     string          `json:"event_id"`
	ReceivedAt  time.Time       `json:"received_at"`
	RemoteAddr  string          `json:"remote_addr,omitempty"`
	UserAgent   string          `json:"user_agent,omitempty"`
	Attachments []AttachmentRef `json:"attachments,omitempty"`
	// Kind is empty for an event, or the type of a standalone envelope
	// item ("session", "sessions", "user_report", "client_report"), whose
	// payload is then in Event.
	Kind string `json:"kind,omitempty"`
	// ItemID is the idempotency digest of a standalone item (ItemID).
	ItemID string `json:"item_id,omitempty"`
	// EventSize is the length of Event when inline attachments follow it
	// in the message body.
	EventSize int `json:"event_size,omitempty"`
	// Event is the event JSON; it is stored after the header line, not
	// inside it, so it is neither re-escaped nor re-validated on the way.
	Event []byte `json:"-"`
}

// AttachmentRef is an attachment stored in the blob store under Key, or,
// when Inline, carried in the message itself until the worker stores it
// there: a small dump then costs ingest no file of its own, only its share
// of a grouped queue commit, and is as durable once that commit returns.
type AttachmentRef struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Key         string `json:"key"`
	Inline      bool   `json:"inline,omitempty"`
	// Data holds the bytes of an inline attachment; they follow the event
	// in the message body, in attachment order.
	Data []byte `json:"-"`
}

type messageHeader struct {
	V int `json:"v"`
	*Message
}

// QueueKey is the idempotency key of an event in the queue.
func QueueKey(projectID int64, eventID string) string {
	return fmt.Sprintf("%d:%s", projectID, eventID)
}

// ItemQueueKey is the idempotency key of a standalone item in the queue.
func ItemQueueKey(projectID int64, itemID string) string {
	return fmt.Sprintf("%d:item:%s", projectID, itemID)
}

// ItemID is the stable digest of a standalone envelope item: its project,
// type, the event id of the envelope that carried it (empty when none) and
// its bytes. A retried envelope yields the same ids, so its sessions and
// client reports are counted once. Two genuinely distinct items are never
// byte-identical in practice: session updates carry their sequence number
// and timestamp, aggregates and client reports their times.
func ItemID(projectID int64, envelopeEventID, itemType string, payload []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00", projectID, envelopeEventID, itemType)
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// EncodeMessage lays a message out as one JSON header line followed by the
// raw event bytes.
func EncodeMessage(m *Message) ([]byte, error) {
	v, size := 1, len(m.Event)
	m.EventSize = 0
	for _, a := range m.Attachments {
		if a.Inline {
			if int64(len(a.Data)) != a.Size {
				return nil, fmt.Errorf("issues: encode message: inline attachment %q has %d bytes, size says %d", a.Name, len(a.Data), a.Size)
			}
			m.EventSize = len(m.Event)
			size += len(a.Data)
		}
	}
	if m.Kind != "" || m.EventSize > 0 || size > len(m.Event) {
		v = messageVersion
	}
	h, err := json.Marshal(messageHeader{V: v, Message: m})
	if err != nil {
		return nil, fmt.Errorf("issues: encode message: %w", err)
	}
	b := make([]byte, 0, len(h)+1+size)
	b = append(b, h...)
	b = append(b, '\n')
	b = append(b, m.Event...)
	for _, a := range m.Attachments {
		if a.Inline {
			b = append(b, a.Data...)
		}
	}
	return b, nil
}

// DecodeMessage reads what EncodeMessage wrote.
func DecodeMessage(b []byte) (*Message, error) {
	head, body, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("issues: decode message: no header line")
	}
	m := &Message{}
	h := messageHeader{Message: m}
	if err := json.Unmarshal(head, &h); err != nil {
		return nil, fmt.Errorf("issues: decode message: %w", err)
	}
	if h.V < 1 || h.V > messageVersion {
		return nil, fmt.Errorf("issues: decode message: version %d, want 1 to %d", h.V, messageVersion)
	}
	inline := false
	for _, a := range m.Attachments {
		inline = inline || a.Inline
	}
	if !inline {
		m.Event = body
		return m, nil
	}
	if m.EventSize < 0 || m.EventSize > len(body) {
		return nil, fmt.Errorf("issues: decode message: event of %d bytes in a body of %d", m.EventSize, len(body))
	}
	m.Event, body = body[:m.EventSize], body[m.EventSize:]
	for i := range m.Attachments {
		a := &m.Attachments[i]
		if !a.Inline {
			continue
		}
		if a.Size < 0 || a.Size > int64(len(body)) {
			return nil, fmt.Errorf("issues: decode message: inline attachment %q of %d bytes, %d left", a.Name, a.Size, len(body))
		}
		a.Data, body = body[:a.Size], body[a.Size:]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("issues: decode message: %d bytes after the inline attachments", len(body))
	}
	return m, nil
}
