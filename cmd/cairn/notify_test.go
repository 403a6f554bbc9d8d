//go:build !cairncli

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/notify/smtptest"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/getsentry/sentry-go"
)

// The all-in-one server notifies: a new issue sends an email and a Slack
// message (Slack fails twice first), a regression after resolving through
// the API fires the regression rule, the frequency rule fires once, and a
// channel that keeps failing ends as failed with its reason on the Alerts
// page.
func TestServeNotifications(t *testing.T) {
	smtpd, err := smtptest.Start(smtptest.Options{Username: "cairn", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer smtpd.Close()
	var slackCalls atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slackCalls.Add(1) <= 2 {
			http.Error(w, "internal_error", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer slack.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "channel_on_fire", http.StatusServiceUnavailable)
	}))
	defer broken.Close()

	host, port, _ := net.SplitHostPort(smtpd.Addr)
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	cfg.Notify = config.Notify{SMTPHost: host, SMTPFrom: "cairn@example.com", SMTPUsername: "cairn", SMTPPassword: "pw",
		Backoff: 50 * time.Millisecond, MaxAttempts: 3}
	cfg.Notify.SMTPPort, _ = strconv.Atoi(port)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	ctx := context.Background()
	m := s.stores.meta
	mk := func(r meta.AlertRule) meta.AlertRule {
		r.ProjectID, r.Enabled = s.ProjectID, true
		out, err := m.CreateAlertRule(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	newRule := mk(meta.AlertRule{Name: "new issues", Trigger: meta.TriggerNewIssue, Actions: []meta.AlertAction{
		{Type: meta.ActionEmail, Emails: []string{"dev@example.com"}}, {Type: meta.ActionSlack, WebhookURL: slack.URL}}})
	mk(meta.AlertRule{Name: "regressions", Trigger: meta.TriggerRegression, MinLevel: "error",
		Actions: []meta.AlertAction{{Type: meta.ActionEmail, Emails: []string{"oncall@example.com"}}}})
	spike := mk(meta.AlertRule{Name: "spike", Trigger: meta.TriggerFrequency, Threshold: 3, Window: 24 * time.Hour,
		Actions: []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: broken.URL}}})

	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: s.DSN, Release: "game@1.0", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	send := func() {
		hub.CaptureException(errors.New("level file is corrupt"))
		if !hub.Flush(10 * time.Second) {
			t.Fatal("the SDK did not flush")
		}
	}
	receive := func() (smtptest.Message, string) {
		t.Helper()
		select {
		case msg := <-smtpd.Messages:
			pm, err := mail.ReadMessage(strings.NewReader(string(msg.Data)))
			if err != nil {
				t.Fatal(err)
			}
			subj, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
			return msg, subj
		case <-time.After(20 * time.Second):
			t.Fatal("no email arrived")
		}
		return smtptest.Message{}, ""
	}

	send()
	msg, subj := receive()
	if subj != "[Cairn] New issue: *errors.errorString: level file is corrupt — default" || msg.To[0] != "dev@example.com" || msg.Auth != "cairn" {
		t.Fatalf("first email: %q to %v", subj, msg.To)
	}
	tok := createToken(t, cfg.DataDir)
	list := waitIssues(t, s.URL, tok, func(l []apiIssue) bool { return len(l) == 1 })
	link := s.URL + "/o/default/default/issues/" + list[0].ID + "/"
	if !strings.Contains(string(msg.Data), link) {
		t.Errorf("the email lacks the link %s:\n%s", link, msg.Data)
	}
	waitDeliveries(t, m, s.ProjectID, newRule.ID, func(ds []meta.Delivery) bool {
		for _, d := range ds {
			if d.Action.Type == meta.ActionSlack {
				return d.Status == meta.DeliverySent && d.Attempts == 3
			}
		}
		return false
	})

	req, _ := http.NewRequest(http.MethodPut, s.URL+"/api/0/issues/"+list[0].ID+"/", strings.NewReader(`{"status":"resolved"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("resolve: %v %v", resp, err)
	}
	resp.Body.Close()
	send()
	msg, subj = receive()
	if subj != "[Cairn] Regression: *errors.errorString: level file is corrupt — default" || msg.To[0] != "oncall@example.com" {
		t.Fatalf("regression email: %q to %v", subj, msg.To)
	}

	for range 3 {
		send()
	}
	ds := waitDeliveries(t, m, s.ProjectID, spike.ID, func(ds []meta.Delivery) bool {
		return len(ds) == 1 && ds[0].Status == meta.DeliveryFailed
	})
	if ds[0].Attempts != 3 || !strings.Contains(ds[0].LastError, "HTTP 503 channel_on_fire") {
		t.Fatalf("failed delivery %+v", ds[0])
	}
	send() // more events in the same window fire nothing more
	waitIssues(t, s.URL, tok, func(l []apiIssue) bool { return totalCount(l) == 6 })
	time.Sleep(200 * time.Millisecond)
	if ds, _ := m.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: s.ProjectID, RuleID: spike.ID}); len(ds) != 1 {
		t.Fatalf("the frequency rule fired %d times", len(ds))
	}
	select {
	case extra := <-smtpd.Messages:
		t.Errorf("unexpected email: %s", extra.Data)
	default:
	}

	// The Alerts page shows the rules and the failure's reason.
	user, err := m.CreateUser(ctx, meta.User{Email: "dev@example.com", PasswordHash: "x", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	org, _ := m.OrgBySlug(ctx, "default")
	m.AddMember(ctx, user.ID, org.ID)
	secret := strings.Repeat("ab", 32)
	h := sha256.Sum256([]byte(secret))
	if err := m.CreateSession(ctx, meta.Session{Hash: hex.EncodeToString(h[:]), UserID: user.ID, CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/o/default/default/alerts", nil)
	req.AddCookie(&http.Cookie{Name: "cairn_session", Value: secret})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("alerts page: HTTP %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"new issues", "regressions", "spike", "Failed deliveries", "HTTP 503 channel_on_fire", "Send test notification"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the alerts page lacks %q", want)
		}
	}
}

func waitDeliveries(t *testing.T, m meta.Alerts, projectID, ruleID int64, ok func([]meta.Delivery) bool) []meta.Delivery {
	t.Helper()
	var ds []meta.Delivery
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if ds, err = m.ListDeliveries(context.Background(), meta.DeliveryQuery{ProjectID: projectID, RuleID: ruleID}); err != nil {
			t.Fatal(err)
		}
		if ok(ds) {
			return ds
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("deliveries never matched: %+v", ds)
	return nil
}
