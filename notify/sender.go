package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// sendError classifies a failed attempt: permanent errors are not
// retried, and retryAfter (a peer's Retry-After) replaces the backoff.
type sendError struct {
	err        error
	retryAfter time.Duration
	permanent  bool
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func permanent(err error) error { return &sendError{err: err, permanent: true} }

// Wake tells the sender that deliveries are due.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := s.SendDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.opts.Log.Error("notification sender", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		// Retries shorter than the poll interval are not kept waiting.
		t := time.NewTimer(min(s.opts.Poll, s.opts.Backoff))
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// SendDue claims the deliveries due now, attempts each and records the
// outcome; it returns how many it attempted.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	ds, err := s.store.ClaimDeliveries(ctx, s.opts.Now(), 16, s.opts.Lease)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	for _, d := range ds {
		actx, cancel := context.WithTimeout(ctx, s.opts.Lease)
		result, err := s.attempt(actx, d)
		cancel()
		if ctx.Err() != nil {
			return len(ds), ctx.Err() // the lease expires and the next run retries
		}
		s.record(ctx, d, result, err)
	}
	return len(ds), nil
}

func (s *Service) record(ctx context.Context, d meta.Delivery, result string, err error) {
	now := s.opts.Now()
	d.Attempts++
	if err == nil {
		d.Status, d.SentAt, d.Result, d.LastError = meta.DeliverySent, now, result, ""
		if d.Action.Type == meta.ActionGitHub && d.IssueID != 0 && result != "" {
			if lerr := s.store.AddIssueLink(ctx, meta.IssueLink{IssueID: d.IssueID, Kind: "github", URL: result, Title: d.Action.Repo}); lerr != nil {
				s.opts.Log.Error("linking a GitHub issue failed", "issue", d.IssueID, "err", lerr)
			}
		}
	} else {
		d.LastError = err.Error()
		var se *sendError
		isSend := errors.As(err, &se)
		switch {
		case isSend && se.permanent, d.Attempts >= s.opts.MaxAttempts:
			d.Status = meta.DeliveryFailed
		default:
			wait := s.opts.Backoff << min(d.Attempts-1, 20)
			if wait > s.opts.MaxBackoff || wait <= 0 {
				wait = s.opts.MaxBackoff
			}
			if isSend && se.retryAfter > 0 {
				wait = se.retryAfter
			}
			d.NextAttempt = now.Add(wait)
		}
		s.opts.Log.Warn("notification attempt failed", "delivery", d.ID, "action", d.Action.Type, "attempt", d.Attempts,
			"status", d.Status, "err", err)
	}
	if ferr := s.store.FinishAttempt(ctx, d); ferr != nil {
		s.opts.Log.Error("recording a notification attempt failed", "delivery", d.ID, "err", ferr)
	}
}

// attempt sends one delivery once; result is what the peer returned worth
// keeping (a GitHub issue URL).
func (s *Service) attempt(ctx context.Context, d meta.Delivery) (string, error) {
	var n Notice
	if err := json.Unmarshal(d.Payload, &n); err != nil {
		return "", permanent(fmt.Errorf("notify: delivery %d: bad payload: %w", d.ID, err))
	}
	switch d.Action.Type {
	case meta.ActionEmail:
		if len(d.Action.Emails) == 0 {
			return "", permanent(errors.New("notify: email: no recipients"))
		}
		msg, err := Message(s.opts.SMTP.From, d.Action.Emails, &n, s.opts.Now())
		if err != nil {
			return "", permanent(err)
		}
		return "", s.opts.SMTP.Send(ctx, d.Action.Emails, msg)
	case meta.ActionSlack:
		return "", postSlack(ctx, s.opts.HTTPClient, d.Action.WebhookURL, Slack(&n))
	case meta.ActionGitHub:
		created, err := s.opts.GitHub.CreateIssue(ctx, d.Action.Repo, n.Title, n.Markdown(), d.Action.Labels)
		return created.HTMLURL, err
	}
	return "", permanent(fmt.Errorf("notify: unknown action %q", d.Action.Type))
}
