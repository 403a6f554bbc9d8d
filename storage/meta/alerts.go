package meta

import (
	"context"
	"encoding/json"
	"time"
)

// Alert triggers: what must happen to an issue for a rule to fire.
const (
	TriggerNewIssue   = "new_issue"
	TriggerRegression = "regression"
	// TriggerFrequency fires when an issue gets more than Threshold events
	// within Window, at most once per window.
	TriggerFrequency = "frequency"
)

// Alert action kinds.
const (
	ActionEmail  = "email"
	ActionSlack  = "slack"
	ActionGitHub = "github"
)

// AlertAction is one thing a rule does when it fires.
type AlertAction struct {
	// Type is ActionEmail, ActionSlack or ActionGitHub.
	Type string `json:"type"`
	// Emails are the recipients of an email action; AllMembers adds every
	// member of the project's organization.
	Emails     []string `json:"emails,omitempty"`
	AllMembers bool     `json:"all_members,omitempty"`
	// WebhookURL is a Slack incoming webhook.
	WebhookURL string `json:"webhook_url,omitempty"`
	// Repo is the GitHub repository ("owner/name") issues are created in;
	// Labels are put on them.
	Repo   string   `json:"repo,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// AlertRule is a project's notification rule: a trigger, optional filters
// and the actions run when an issue matches.
type AlertRule struct {
	ID        int64
	ProjectID int64
	Name      string
	Enabled   bool
	// Trigger is TriggerNewIssue, TriggerRegression or TriggerFrequency.
	Trigger string
	// Threshold and Window parameterize TriggerFrequency.
	Threshold int
	Window    time.Duration
	// MinLevel, when set, ignores events below it (debug < info <
	// warning < error < fatal); Environment, when set, ignores events of
	// other environments.
	MinLevel    string
	Environment string
	Actions     []AlertAction
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Delivery states.
const (
	DeliveryPending = "pending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
)

// Delivery is one action of one fired rule: a row of the outbox that the
// sender works through. Key makes enqueuing idempotent: a rule firing
// twice for the same trigger occurrence (a retried worker) finds its
// deliveries already there.
type Delivery struct {
	ID        int64
	RuleID    int64
	ProjectID int64
	// IssueID is 0 for test notifications.
	IssueID int64
	// Key is unique over all deliveries, e.g.
	// "rule:3/issue:9/regression:1700000000000000/action:0".
	Key     string
	Trigger string
	// Action is a copy of the rule's action at the time it fired, so
	// editing a rule does not change what was already decided.
	Action AlertAction
	// Payload is what to say, rendered by the sender at each attempt.
	Payload []byte
	// Status is DeliveryPending, DeliverySent or DeliveryFailed.
	Status   string
	Attempts int
	// NextAttempt is when a pending delivery is due; a sender claiming it
	// pushes it forward by its lease, so a crashed sender's delivery is
	// tried again later.
	NextAttempt time.Time
	LastError   string
	// Result is what the peer answered on success (a GitHub issue URL).
	Result    string
	CreatedAt time.Time
	SentAt    time.Time
}

// DeliveryQuery selects the newest deliveries of a project or a rule.
type DeliveryQuery struct {
	ProjectID int64
	// RuleID, when not 0, restricts to one rule.
	RuleID int64
	// Status, when set, restricts to one state.
	Status string
	Limit  int
}

// IssueLink ties a Cairn issue to an issue of an external tracker.
type IssueLink struct {
	IssueID int64
	// Kind is "github".
	Kind      string
	URL       string
	Title     string
	CreatedAt time.Time
}

// Alerts stores notification rules, their outbox of deliveries, the
// per-issue event counts the frequency trigger reads, and links to
// external issues. It is its own interface, not part of Store, so backends
// gain it one at a time.
type Alerts interface {
	CreateAlertRule(ctx context.Context, r AlertRule) (AlertRule, error)
	// UpdateAlertRule replaces the rule's settings; ErrNotFound when the
	// rule does not exist in r.ProjectID.
	UpdateAlertRule(ctx context.Context, r AlertRule) (AlertRule, error)
	// DeleteAlertRule deletes the rule; its deliveries stay as history.
	DeleteAlertRule(ctx context.Context, projectID, id int64) error
	AlertRule(ctx context.Context, id int64) (AlertRule, error)
	ListAlertRules(ctx context.Context, projectID int64) ([]AlertRule, error)

	// EnqueueDeliveries adds pending deliveries in one transaction,
	// skipping those whose Key exists, and returns the ones added.
	EnqueueDeliveries(ctx context.Context, ds []Delivery) ([]Delivery, error)
	// ClaimDeliveries returns up to limit pending deliveries due at now,
	// oldest first, and moves their NextAttempt to now+lease so that no
	// other sender takes them meanwhile.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Delivery, error)
	// FinishAttempt stores the outcome of an attempt: Status, Attempts,
	// NextAttempt, LastError, Result and SentAt of d.
	FinishAttempt(ctx context.Context, d Delivery) error
	Delivery(ctx context.Context, id int64) (Delivery, error)
	// ListDeliveries returns deliveries newest first.
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)

	// CountIssueEvents adds n events to the issue's count of the minute
	// holding at, forgets counts older than keep, and returns the number of
	// events of the issue since since.
	CountIssueEvents(ctx context.Context, issueID int64, at time.Time, n int, since, keep time.Time) (int64, error)

	// AddIssueLink records a link; adding the same URL twice is not an
	// error.
	AddIssueLink(ctx context.Context, l IssueLink) error
	IssueLinks(ctx context.Context, issueID int64) ([]IssueLink, error)

	// OrgMemberEmails lists the emails of an organization's members.
	OrgMemberEmails(ctx context.Context, orgID int64) ([]string, error)
}

// Release is a version of an organization's software, as sentry-cli
// creates it.
type Release struct {
	ID        int64
	OrgID     int64
	Version   string
	Projects  []string
	Refs      []ReleaseRef
	CreatedAt time.Time
}

// ReleaseRef names the commit range of one repository in a release.
type ReleaseRef struct {
	Repository     string `json:"repository"`
	Commit         string `json:"commit"`
	PreviousCommit string `json:"previousCommit,omitempty"`
}

// Commit is one commit of a release.
type Commit struct {
	Repository  string
	SHA         string
	Message     string
	AuthorName  string
	AuthorEmail string
	URL         string
	Time        time.Time
}

// Releases stores releases and their commits.
type Releases interface {
	// UpsertRelease creates the release or, when the version exists in
	// the organization, merges projects and replaces refs that are given.
	UpsertRelease(ctx context.Context, r Release) (Release, error)
	Release(ctx context.Context, orgID int64, version string) (Release, error)
	// SetReleaseCommits replaces the release's commits of repository.
	SetReleaseCommits(ctx context.Context, releaseID int64, repository string, cs []Commit) error
	ReleaseCommits(ctx context.Context, releaseID int64) ([]Commit, error)
}

// EncodeActions is a rule's actions as the stores keep them: JSON, and an
// empty array rather than null for none, so readers always find a list.
func EncodeActions(as []AlertAction) (string, error) {
	if len(as) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(as)
	return string(b), err
}
