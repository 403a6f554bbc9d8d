package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SlackMessage is an incoming-webhook payload: text is the fallback shown
// in notifications, blocks the Block Kit layout.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one Block Kit layout block (header, section, context,
// actions).
type SlackBlock struct {
	Type     string         `json:"type"`
	Text     *SlackText     `json:"text,omitempty"`
	Fields   []SlackText    `json:"fields,omitempty"`
	Elements []SlackElement `json:"elements,omitempty"`
}

// SlackText is a plain_text or mrkdwn text object.
type SlackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// SlackElement is a context element (a text object) or a button.
type SlackElement struct {
	Type     string `json:"type"`
	Text     any    `json:"text,omitempty"`
	URL      string `json:"url,omitempty"`
	Style    string `json:"style,omitempty"`
	ActionID string `json:"action_id,omitempty"`
}

// slackEscape escapes the three characters mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Slack builds the Block Kit message of a notice. Slack caps header text
// at 150 characters and section fields at 2000, so long titles are cut.
func Slack(n *Notice) SlackMessage {
	fields := []SlackText{
		{Type: "mrkdwn", Text: "*Level:*\n" + slackEscape(n.Level)},
		{Type: "mrkdwn", Text: "*Events:*\n" + strconv.FormatInt(n.Count, 10)},
		{Type: "mrkdwn", Text: "*First seen:*\n" + fmtTime(n.FirstSeen)},
		{Type: "mrkdwn", Text: "*Project:*\n" + slackEscape(n.Project)},
	}
	if n.Release != "" {
		fields = append(fields, SlackText{Type: "mrkdwn", Text: "*Release:*\n" + slackEscape(n.Release)})
	}
	if n.Environment != "" {
		fields = append(fields, SlackText{Type: "mrkdwn", Text: "*Environment:*\n" + slackEscape(n.Environment)})
	}
	body := "*" + slackEscape(n.Title) + "*"
	if n.Culprit != "" {
		body += "\n" + slackEscape(n.Culprit)
	}
	if w := n.why(); w != "" {
		body += "\n" + w
	}
	if len(n.Frames) > 0 {
		body += "\n```" + slackEscape(strings.Join(n.Frames, "\n")) + "```"
	}
	ctx := n.Headline() + " · " + slackEscape(n.Org) + "/" + slackEscape(n.Project)
	if len(n.Commits) > 0 {
		ctx += fmt.Sprintf(" · %d commits in %s", len(n.Commits), slackEscape(n.Release))
	}
	return SlackMessage{
		Text: clip(n.Subject(), 3000),
		Blocks: []SlackBlock{
			{Type: "header", Text: &SlackText{Type: "plain_text", Text: clip(n.Headline()+": "+n.Title, 150), Emoji: true}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: clip(body, 3000)}, Fields: fields},
			{Type: "context", Elements: []SlackElement{{Type: "mrkdwn", Text: ctx}}},
			{Type: "actions", Elements: []SlackElement{{Type: "button", Text: SlackText{Type: "plain_text", Text: "View issue"},
				URL: n.URL, Style: "primary", ActionID: "cairn_view_issue"}}},
		},
	}
}

// postSlack sends a message to an incoming webhook. Slack answers "ok"
// with 200; errors come as a plain-text code (invalid_payload, no_text,
// channel_not_found, ...), and 429 with Retry-After.
func postSlack(ctx context.Context, client *http.Client, webhook string, m SlackMessage) error {
	if webhook == "" {
		return permanent(fmt.Errorf("notify: slack: no webhook URL"))
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("notify: slack: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("notify: slack: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: slack: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	answer := strings.TrimSpace(string(b))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return &sendError{err: fmt.Errorf("notify: slack: rate limited (HTTP 429 %s)", answer), retryAfter: retryAfter(resp.Header)}
	case answer == "invalid_payload" || answer == "no_text":
		return permanent(fmt.Errorf("notify: slack: HTTP %d %s", resp.StatusCode, answer))
	case resp.StatusCode >= 500:
		return fmt.Errorf("notify: slack: HTTP %d %s", resp.StatusCode, clip(answer, 200))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return permanent(fmt.Errorf("notify: slack: HTTP %d %s", resp.StatusCode, clip(answer, 200)))
	}
	return nil
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
