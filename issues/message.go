package issues

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// messageVersion is the version of the queue message layout; a worker
// refuses messages from a newer producer instead of misreading them.
const messageVersion = 1

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
	// Event is the event JSON; it is stored after the header line, not
	// inside it, so it is neither re-escaped nor re-validated on the way.
	Event []byte `json:"-"`
}

// AttachmentRef is an attachment stored in the blob store.
type AttachmentRef struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Key         string `json:"key"`
}

type messageHeader struct {
	V int `json:"v"`
	*Message
}

// QueueKey is the idempotency key of an event in the queue.
func QueueKey(projectID int64, eventID string) string {
	return fmt.Sprintf("%d:%s", projectID, eventID)
}

// EncodeMessage lays a message out as one JSON header line followed by the
// raw event bytes.
func EncodeMessage(m *Message) ([]byte, error) {
	h, err := json.Marshal(messageHeader{V: messageVersion, Message: m})
	if err != nil {
		return nil, fmt.Errorf("issues: encode message: %w", err)
	}
	b := make([]byte, 0, len(h)+1+len(m.Event))
	b = append(b, h...)
	b = append(b, '\n')
	return append(b, m.Event...), nil
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
	if h.V != messageVersion {
		return nil, fmt.Errorf("issues: decode message: version %d, want %d", h.V, messageVersion)
	}
	m.Event = body
	return m, nil
}
