package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// Notifier is what the alerts page and the issue page need of the
// notification service.
type Notifier interface {
	// ValidateRule reports settings that cannot work, in words for users.
	ValidateRule(r meta.AlertRule) error
	// SendTest queues a test notification through every action of a rule.
	SendTest(ctx context.Context, ruleID int64) error
	// CreateGitHubIssue opens a GitHub issue for a Cairn issue and links
	// it; repo empty means the project's default repository.
	CreateGitHubIssue(ctx context.Context, issueID int64, repo string) (string, error)
	// DefaultRepo is the GitHub repository the project's rules name, or "".
	DefaultRepo(ctx context.Context, projectID int64) string
}

// alertRoutes adds the project's Alerts settings page and the issue
// page's GitHub button; without a notifier or an alerts store there is
// nothing to serve.
func (u *UI) alertRoutes() error {
	if _, ok := u.cfg.Meta.(meta.Alerts); !ok || u.cfg.Notifier == nil {
		return nil
	}
	t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/alerts.html")
	if err != nil {
		return err
	}
	u.pages["alerts"] = t
	u.mux.HandleFunc("GET /o/{org}/{project}/alerts", u.authed(u.alertsPage))
	u.mux.HandleFunc("POST /o/{org}/{project}/alerts", u.authed(u.saveRule))
	u.mux.HandleFunc("POST /o/{org}/{project}/alerts/{rule}/delete", u.authed(u.deleteRule))
	u.mux.HandleFunc("POST /o/{org}/{project}/alerts/{rule}/test", u.authed(u.testRule))
	u.mux.HandleFunc("POST /o/{org}/{project}/issues/{id}/github", u.authed(u.githubIssue))
	return nil
}

func (u *UI) alerts() meta.Alerts { a, _ := u.cfg.Meta.(meta.Alerts); return a }

// ruleView is a rule as the page shows and edits it.
type ruleView struct {
	meta.AlertRule
	Minutes                             int
	EmailTo, SlackURL, Repo, Labels     string
	EmailAll, HasEmail, HasSlack, HasGH bool
	Deliveries                          []meta.Delivery
}

func viewRule(r meta.AlertRule) ruleView {
	v := ruleView{AlertRule: r, Minutes: int(r.Window / time.Minute)}
	for _, a := range r.Actions {
		switch a.Type {
		case meta.ActionEmail:
			v.HasEmail, v.EmailTo, v.EmailAll = true, strings.Join(a.Emails, ", "), a.AllMembers
		case meta.ActionSlack:
			v.HasSlack, v.SlackURL = true, a.WebhookURL
		case meta.ActionGitHub:
			v.HasGH, v.Repo, v.Labels = true, a.Repo, strings.Join(a.Labels, ", ")
		}
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == ';' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ruleFromForm reads the rule form; an action is added for each channel
// whose fields are filled in.
func ruleFromForm(r *http.Request, projectID int64) meta.AlertRule {
	rule := meta.AlertRule{ProjectID: projectID, Name: strings.TrimSpace(r.PostFormValue("name")),
		Enabled: r.PostFormValue("enabled") != "", Trigger: r.PostFormValue("trigger"),
		MinLevel: r.PostFormValue("min_level"), Environment: strings.TrimSpace(r.PostFormValue("environment"))}
	rule.ID, _ = strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if rule.Trigger == meta.TriggerFrequency {
		rule.Threshold, _ = strconv.Atoi(r.PostFormValue("threshold"))
		m, _ := strconv.Atoi(r.PostFormValue("minutes"))
		rule.Window = time.Duration(m) * time.Minute
	}
	if to, all := splitList(r.PostFormValue("email_to")), r.PostFormValue("email_all") != ""; len(to) > 0 || all {
		rule.Actions = append(rule.Actions, meta.AlertAction{Type: meta.ActionEmail, Emails: to, AllMembers: all})
	}
	if s := strings.TrimSpace(r.PostFormValue("slack_url")); s != "" {
		rule.Actions = append(rule.Actions, meta.AlertAction{Type: meta.ActionSlack, WebhookURL: s})
	}
	if s := strings.TrimSpace(r.PostFormValue("github_repo")); s != "" {
		rule.Actions = append(rule.Actions, meta.AlertAction{Type: meta.ActionGitHub, Repo: s, Labels: splitList(r.PostFormValue("github_labels"))})
	}
	return rule
}

func (u *UI) alertsPage(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	var edit *ruleView
	if id, err := strconv.ParseInt(r.URL.Query().Get("edit"), 10, 64); err == nil {
		if rule, err := u.alerts().AlertRule(r.Context(), id); err == nil && rule.ProjectID == p.ID {
			v := viewRule(rule)
			edit = &v
		}
	}
	u.renderAlerts(w, r, o, p, edit, "", http.StatusOK)
}

func (u *UI) renderAlerts(w http.ResponseWriter, r *http.Request, o meta.Organization, p meta.Project, edit *ruleView, msg string, status int) {
	ctx := r.Context()
	rules, err := u.alerts().ListAlertRules(ctx, p.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	views := make([]ruleView, len(rules))
	for i, rule := range rules {
		views[i] = viewRule(rule)
		if views[i].Deliveries, err = u.alerts().ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: p.ID, RuleID: rule.ID, Limit: 10}); err != nil {
			u.fail(w, err)
			return
		}
	}
	failed, err := u.alerts().ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: p.ID, Status: meta.DeliveryFailed, Limit: 20})
	if err != nil {
		u.fail(w, err)
		return
	}
	if edit == nil {
		edit = &ruleView{AlertRule: meta.AlertRule{Enabled: true, Trigger: meta.TriggerNewIssue}}
	}
	names := map[int64]string{}
	for _, rule := range rules {
		names[rule.ID] = rule.Name
	}
	u.render(w, "alerts", status, map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Rules": views, "Failed": failed,
		"Edit": edit, "Message": msg, "RuleNames": names, "Base": fmt.Sprintf("/o/%s/%s", o.Slug, p.Slug),
		"Levels": []string{"debug", "info", "warning", "error", "fatal"}})
}

func (u *UI) saveRule(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	rule := ruleFromForm(r, p.ID)
	if err := u.cfg.Notifier.ValidateRule(rule); err != nil {
		v := viewRule(rule)
		u.renderAlerts(w, r, o, p, &v, err.Error(), http.StatusBadRequest)
		return
	}
	var err error
	if rule.ID != 0 {
		_, err = u.alerts().UpdateAlertRule(r.Context(), rule)
	} else {
		_, err = u.alerts().CreateAlertRule(r.Context(), rule)
	}
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/o/%s/%s/alerts", o.Slug, p.Slug), http.StatusSeeOther)
}

// ruleOf loads {rule} of the project.
func (u *UI) ruleOf(w http.ResponseWriter, r *http.Request, p meta.Project) (meta.AlertRule, bool) {
	id, err := strconv.ParseInt(r.PathValue("rule"), 10, 64)
	var rule meta.AlertRule
	if err == nil {
		rule, err = u.alerts().AlertRule(r.Context(), id)
	}
	if err != nil || rule.ProjectID != p.ID {
		if err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, strconv.ErrSyntax) && !errors.Is(err, strconv.ErrRange) {
			u.fail(w, err)
		} else {
			http.NotFound(w, r)
		}
		return rule, false
	}
	return rule, true
}

func (u *UI) deleteRule(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	rule, ok := u.ruleOf(w, r, p)
	if !ok {
		return
	}
	if err := u.alerts().DeleteAlertRule(r.Context(), p.ID, rule.ID); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/o/%s/%s/alerts", o.Slug, p.Slug), http.StatusSeeOther)
}

func (u *UI) testRule(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	rule, ok := u.ruleOf(w, r, p)
	if !ok {
		return
	}
	if err := u.cfg.Notifier.SendTest(r.Context(), rule.ID); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/o/%s/%s/alerts", o.Slug, p.Slug), http.StatusSeeOther)
}

// githubIssue is the issue page's "Create GitHub issue" button.
func (u *UI) githubIssue(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	is, ok := u.issueOf(w, r, p)
	if !ok {
		return
	}
	if _, err := u.cfg.Notifier.CreateGitHubIssue(r.Context(), is.ID, strings.TrimSpace(r.PostFormValue("repo"))); err != nil {
		u.cfg.Log.Warn("create GitHub issue", "issue", is.ID, "err", err)
		http.Error(w, "creating the GitHub issue failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/o/%s/%s/issues/%d/", o.Slug, p.Slug, is.ID), http.StatusSeeOther)
}

// decorate adds what the notification features show on pages rendered
// elsewhere: the issue page's links to external issues and its GitHub
// button.
func (u *UI) decorate(page string, data map[string]any) {
	if page != "issue" || u.alerts() == nil || u.cfg.Notifier == nil {
		return
	}
	is, ok := data["Issue"].(meta.Issue)
	if !ok {
		return
	}
	// render has no request context; the lookups are two indexed reads.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	links, err := u.alerts().IssueLinks(ctx, is.ID)
	if err != nil {
		u.cfg.Log.Warn("issue links", "issue", is.ID, "err", err)
	}
	data["Links"] = links
	data["GitHubRepo"] = u.cfg.Notifier.DefaultRepo(ctx, is.ProjectID)
	data["GitHub"] = true
}
