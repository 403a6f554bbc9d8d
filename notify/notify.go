package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

// Store is what notify needs of the metadata store.
type Store interface {
	meta.Store
	meta.Alerts
}

// Options configure a Service; zero fields take the defaults.
type Options struct {
	// PublicURL prefixes the links to issues ("https://crash.example.com").
	PublicURL string
	SMTP      SMTP
	GitHub    GitHub
	// HTTPClient posts to Slack (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Events, when set, supplies stack frames for notifications built
	// outside the worker (tests, manual GitHub issues).
	Events events.Store
	// MaxAttempts bounds the attempts of a delivery (default 6).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff (defaults 30s and 1h).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Poll is how often the sender looks for due deliveries when nobody
	// wakes it (default 5s).
	Poll time.Duration
	// Lease is how long a claimed delivery is hidden from other senders
	// (default 2m); it bounds one attempt.
	Lease time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.GitHub.Client == nil {
		o.GitHub.Client = o.HTTPClient
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
	return o
}

// Service evaluates rules and runs the sender.
type Service struct {
	store Store
	opts  Options
	wake  chan struct{}
	// mu serializes frequency evaluation per process, so two batches of
	// one issue do not both see the threshold crossed; across processes
	// the idempotency key still allows one delivery per slot.
	mu sync.Mutex
}

// New returns a service; Run starts its sender.
func New(store Store, o Options) *Service {
	return &Service{store: store, opts: o.withDefaults(), wake: make(chan struct{}, 1)}
}

// maxWindow bounds frequency windows; older per-minute counts are pruned.
const maxWindow = 24 * time.Hour

// levelRank orders levels for the "level at least" filter.
var levelRank = map[string]int{"debug": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}

// ValidateRule reports rule settings that cannot work.
func ValidateRule(r meta.AlertRule) error {
	if strings.TrimSpace(r.Name) == "" {
		return errors.New("the rule needs a name")
	}
	switch r.Trigger {
	case meta.TriggerNewIssue, meta.TriggerRegression:
	case meta.TriggerFrequency:
		if r.Threshold < 1 {
			return errors.New("the event threshold must be at least 1")
		}
		if r.Window < time.Minute || r.Window > maxWindow {
			return errors.New("the window must be between 1 minute and 24 hours")
		}
	default:
		return fmt.Errorf("unknown trigger %q", r.Trigger)
	}
	if _, ok := levelRank[r.MinLevel]; r.MinLevel != "" && !ok {
		return fmt.Errorf("unknown level %q", r.MinLevel)
	}
	if len(r.Actions) == 0 {
		return errors.New("the rule needs at least one action")
	}
	for _, a := range r.Actions {
		switch a.Type {
		case meta.ActionEmail:
			if len(a.Emails) == 0 && !a.AllMembers {
				return errors.New("an email action needs addresses or all members")
			}
			for _, e := range a.Emails {
				if !strings.Contains(e, "@") {
					return fmt.Errorf("%q is not an email address", e)
				}
			}
		case meta.ActionSlack:
			u, err := url.Parse(a.WebhookURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("the Slack webhook %q is not an http(s) URL", a.WebhookURL)
			}
		case meta.ActionGitHub:
			if !IsRepo(a.Repo) {
				return fmt.Errorf("the GitHub repository %q is not owner/name", a.Repo)
			}
		default:
			return fmt.Errorf("unknown action %q", a.Type)
		}
	}
	return nil
}

// OnIssue evaluates the project's rules against what a worker batch did to
// an issue and writes the deliveries of those that fire. It is the
// worker's issues.WorkerOptions.OnIssue; errors are logged, since the
// event is stored either way.
func (s *Service) OnIssue(ctx context.Context, c issues.IssueChange) {
	if err := s.evaluate(ctx, c); err != nil {
		s.opts.Log.Error("notification rules failed", "issue", c.IssueID, "err", err)
	}
}

func (s *Service) evaluate(ctx context.Context, c issues.IssueChange) error {
	rules, err := s.store.ListAlertRules(ctx, c.ProjectID)
	if err != nil {
		return err
	}
	rules = slices.DeleteFunc(rules, func(r meta.AlertRule) bool { return !r.Enabled })
	if len(rules) == 0 {
		return nil
	}
	level, env := s.eventFacts(ctx, c)
	now := s.opts.Now()
	var fire []firing
	counted := false
	for _, r := range rules {
		if r.MinLevel != "" && levelRank[level] < levelRank[r.MinLevel] {
			continue
		}
		if r.Environment != "" && r.Environment != env {
			continue
		}
		switch r.Trigger {
		case meta.TriggerNewIssue:
			if c.New {
				fire = append(fire, firing{r, fmt.Sprintf("rule:%d/issue:%d/new", r.ID, c.IssueID)})
			}
		case meta.TriggerRegression:
			if c.Regressed {
				is, err := s.store.Issue(ctx, c.IssueID)
				if err != nil {
					return err
				}
				// Each regression follows a resolution; its time names
				// the occurrence.
				fire = append(fire, firing{r, fmt.Sprintf("rule:%d/issue:%d/regression:%d", r.ID, c.IssueID, is.ResolvedAt.UnixMicro())})
			}
		case meta.TriggerFrequency:
			n := 0
			if !counted {
				n, counted = c.Count, true
			}
			s.mu.Lock()
			total, err := s.store.CountIssueEvents(ctx, c.IssueID, now, n, now.Add(-r.Window), now.Add(-maxWindow))
			s.mu.Unlock()
			if err != nil {
				return err
			}
			if total > int64(r.Threshold) {
				slot := now.UnixMilli() / r.Window.Milliseconds()
				fire = append(fire, firing{r, fmt.Sprintf("rule:%d/issue:%d/frequency:%d", r.ID, c.IssueID, slot)})
			}
		}
	}
	if len(fire) == 0 {
		return nil
	}
	is, err := s.store.Issue(ctx, c.IssueID)
	if err != nil {
		return err
	}
	n, org, err := s.notice(ctx, is, c.Event)
	if err != nil {
		return err
	}
	if n.Environment == "" {
		n.Environment = env
	}
	var ds []meta.Delivery
	for _, f := range fire {
		n := n
		n.Trigger, n.Rule = f.rule.Trigger, f.rule.Name
		n.Threshold, n.Window = f.rule.Threshold, f.rule.Window
		more, err := s.deliveries(ctx, f.rule, org, f.key, &n)
		if err != nil {
			return err
		}
		ds = append(ds, more...)
	}
	added, err := s.store.EnqueueDeliveries(ctx, ds)
	if err != nil {
		return err
	}
	if len(added) > 0 {
		s.Wake()
	}
	return nil
}

type firing struct {
	rule meta.AlertRule
	key  string
}

// eventFacts returns the level and environment the filters compare.
func (s *Service) eventFacts(ctx context.Context, c issues.IssueChange) (level, env string) {
	if c.Event != nil {
		return c.Event.Level, c.Event.Environment
	}
	if s.opts.Events != nil && c.EventID != "" {
		if ev, err := s.opts.Events.Get(ctx, c.ProjectID, c.EventID); err == nil {
			return ev.Level, ev.Environment
		}
	}
	if is, err := s.store.Issue(ctx, c.IssueID); err == nil {
		return is.Level, ""
	}
	return "", ""
}

// deliveries makes one delivery per action of a fired rule.
func (s *Service) deliveries(ctx context.Context, r meta.AlertRule, org meta.Organization, key string, n *Notice) ([]meta.Delivery, error) {
	payload, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("notify: encode notice: %w", err)
	}
	var out []meta.Delivery
	for i, a := range r.Actions {
		if a.Type == meta.ActionEmail && a.AllMembers {
			// Recipients are fixed now: the message goes to those who were
			// members when the rule fired.
			members, err := s.store.OrgMemberEmails(ctx, org.ID)
			if err != nil {
				return nil, err
			}
			a.Emails = append(slices.Clone(a.Emails), members...)
			slices.Sort(a.Emails)
			a.Emails = slices.Compact(a.Emails)
		}
		out = append(out, meta.Delivery{RuleID: r.ID, ProjectID: r.ProjectID, IssueID: n.IssueID, Trigger: r.Trigger,
			Key: fmt.Sprintf("%s/action:%d", key, i), Action: a, Payload: payload, NextAttempt: s.opts.Now()})
	}
	return out, nil
}

// notice describes an issue; ev, when nil, is loaded from the events
// store.
func (s *Service) notice(ctx context.Context, is meta.Issue, ev *issues.Event) (Notice, meta.Organization, error) {
	p, err := s.store.Project(ctx, is.ProjectID)
	if err != nil {
		return Notice{}, meta.Organization{}, err
	}
	org, err := s.store.Org(ctx, p.OrgID)
	if err != nil {
		return Notice{}, org, err
	}
	if ev == nil && s.opts.Events != nil && is.LastEventID != "" {
		if row, err := s.opts.Events.Get(ctx, is.ProjectID, is.LastEventID); err == nil {
			var e issues.Event
			if json.Unmarshal(row.Data, &e) == nil {
				ev = &e
			}
		}
	}
	n := Notice{Org: org.Slug, Project: p.Slug, IssueID: is.ID, Title: is.Title, Culprit: is.Culprit, Level: is.Level,
		FirstSeen: is.FirstSeen, Count: is.TimesSeen, Release: is.FirstRelease, URL: s.IssueURL(org.Slug, p.Slug, is.ID)}
	if ev != nil {
		n.Frames = topFrames(ev)
		n.Environment = ev.Environment
	}
	if rs, ok := s.store.(meta.Releases); ok && n.Release != "" {
		if rel, err := rs.Release(ctx, org.ID, n.Release); err == nil {
			if cs, err := rs.ReleaseCommits(ctx, rel.ID); err == nil {
				n.Commits = cs[:min(len(cs), maxCommits)]
			}
		}
	}
	return n, org, nil
}

// IssueURL is the web interface's page of an issue.
func (s *Service) IssueURL(org, project string, id int64) string {
	return fmt.Sprintf("%s/o/%s/%s/issues/%d/", s.opts.PublicURL, url.PathEscape(org), url.PathEscape(project), id)
}

// SendTest queues one delivery per action of the rule with a sample
// notice (the project's newest issue when it has one), so the page can
// show whether each channel works.
func (s *Service) SendTest(ctx context.Context, ruleID int64) error {
	r, err := s.store.AlertRule(ctx, ruleID)
	if err != nil {
		return err
	}
	p, err := s.store.Project(ctx, r.ProjectID)
	if err != nil {
		return err
	}
	org, err := s.store.Org(ctx, p.OrgID)
	if err != nil {
		return err
	}
	var n Notice
	if list, _, err := s.store.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID, Limit: 1}); err == nil && len(list) > 0 {
		if n, _, err = s.notice(ctx, list[0], nil); err != nil {
			return err
		}
	} else {
		n = Notice{Org: org.Slug, Project: p.Slug, Title: "This is a test notification", Culprit: "rule " + r.Name,
			Level: "info", FirstSeen: s.opts.Now(), URL: fmt.Sprintf("%s/o/%s/%s/alerts", s.opts.PublicURL, org.Slug, p.Slug)}
	}
	n.Test, n.Trigger, n.Rule = true, r.Trigger, r.Name
	key := fmt.Sprintf("rule:%d/test:%d", r.ID, s.opts.Now().UnixNano())
	ds, err := s.deliveries(ctx, r, org, key, &n)
	if err != nil {
		return err
	}
	for i := range ds {
		ds[i].IssueID = 0 // a test is no occurrence of the issue
		ds[i].Trigger = "test"
	}
	if _, err := s.store.EnqueueDeliveries(ctx, ds); err != nil {
		return err
	}
	s.Wake()
	return nil
}

// CreateGitHubIssue opens a GitHub issue for a Cairn issue right away
// and links it; repo empty takes the first GitHub action of the project's
// rules.
func (s *Service) CreateGitHubIssue(ctx context.Context, issueID int64, repo string) (string, error) {
	is, err := s.store.Issue(ctx, issueID)
	if err != nil {
		return "", err
	}
	if repo == "" {
		repo = s.DefaultRepo(ctx, is.ProjectID)
	}
	if repo == "" {
		return "", errors.New("notify: github: no repository given and no rule names one")
	}
	n, _, err := s.notice(ctx, is, nil)
	if err != nil {
		return "", err
	}
	created, err := s.opts.GitHub.CreateIssue(ctx, repo, n.Title, n.Markdown(), nil)
	if err != nil {
		return "", err
	}
	if err := s.store.AddIssueLink(ctx, meta.IssueLink{IssueID: is.ID, Kind: "github", URL: created.HTMLURL,
		Title: fmt.Sprintf("%s#%d", repo, created.Number)}); err != nil {
		return created.HTMLURL, err
	}
	return created.HTMLURL, nil
}

// DefaultRepo is the repository of the first GitHub action among the
// project's rules, or "".
func (s *Service) DefaultRepo(ctx context.Context, projectID int64) string {
	rules, err := s.store.ListAlertRules(ctx, projectID)
	if err != nil {
		return ""
	}
	for _, r := range rules {
		for _, a := range r.Actions {
			if a.Type == meta.ActionGitHub && a.Repo != "" {
				return a.Repo
			}
		}
	}
	return ""
}

// Commits fetches the commits of a release's ref from GitHub; it is the
// commit source of the release API.
func (s *Service) Commits(ctx context.Context, repo, base, head string) ([]meta.Commit, error) {
	if !s.opts.GitHub.Configured() {
		return nil, ErrGitHubDisabled
	}
	return s.opts.GitHub.Commits(ctx, repo, base, head)
}

// ValidateRule is ValidateRule, for callers that hold the service.
func (s *Service) ValidateRule(r meta.AlertRule) error { return ValidateRule(r) }
