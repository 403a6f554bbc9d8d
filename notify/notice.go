package notify

import (
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/meta"
)

// Notice is what one notification says, fixed when the rule fires and
// stored with the delivery, so a retry days later sends the same message.
type Notice struct {
	Trigger string `json:"trigger"`
	Rule    string `json:"rule"`
	// Threshold and Window describe a frequency rule.
	Threshold int           `json:"threshold,omitempty"`
	Window    time.Duration `json:"window,omitempty"`
	Org       string        `json:"org"`
	Project   string        `json:"project"`
	IssueID   int64         `json:"issue_id"`
	Title     string        `json:"title"`
	Culprit   string        `json:"culprit"`
	Level     string        `json:"level"`
	FirstSeen time.Time     `json:"first_seen"`
	Count     int64         `json:"count"`
	// Release is the issue's first release; Commits are that release's
	// commits, when known.
	Release     string        `json:"release,omitempty"`
	Environment string        `json:"environment,omitempty"`
	Frames      []string      `json:"frames,omitempty"`
	Commits     []meta.Commit `json:"commits,omitempty"`
	URL         string        `json:"url"`
	Test        bool          `json:"test,omitempty"`
}

// maxFrames is how many in-app frames a notification shows: enough to
// recognize the crash, few enough to read on a phone.
const maxFrames = 5

// maxCommits bounds the commits listed in a notification.
const maxCommits = 10

// Headline is the trigger in words, as the subject starts.
func (n *Notice) Headline() string {
	switch {
	case n.Test:
		return "Test notification"
	case n.Trigger == meta.TriggerNewIssue:
		return "New issue"
	case n.Trigger == meta.TriggerRegression:
		return "Regression"
	case n.Trigger == meta.TriggerFrequency:
		return "Frequent issue"
	}
	return "Issue"
}

// Subject is the email subject and the Slack and GitHub title:
// "[Cairn] New issue: EXC_BAD_ACCESS in crash_null — demo".
func (n *Notice) Subject() string {
	return fmt.Sprintf("[Cairn] %s: %s — %s", n.Headline(), n.Title, n.Project)
}

// why explains a frequency trigger; empty for the others.
func (n *Notice) why() string {
	if n.Trigger != meta.TriggerFrequency || n.Threshold == 0 {
		return ""
	}
	return fmt.Sprintf("More than %d events in %s.", n.Threshold, fmtWindow(n.Window))
}

func fmtWindow(d time.Duration) string {
	if m := int(d / time.Minute); d%time.Minute == 0 && m > 0 {
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	}
	return d.String()
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// topFrames lists the crashing stack's in-app frames, innermost first.
// Sentry orders frames oldest first, so the list is read from its end;
// when no frame is marked in-app every frame counts.
func topFrames(ev *issues.Event) []string {
	st := crashStack(ev)
	if st == nil {
		return nil
	}
	var inApp, all []string
	for i := len(st.Frames) - 1; i >= 0; i-- {
		f := st.Frames[i]
		s := frameText(f)
		if s == "" {
			continue
		}
		all = append(all, s)
		if f.InApp != nil && *f.InApp {
			inApp = append(inApp, s)
		}
	}
	if len(inApp) == 0 {
		inApp = all
	}
	return inApp[:min(len(inApp), maxFrames)]
}

func crashStack(ev *issues.Event) *issues.Stacktrace {
	if ev == nil {
		return nil
	}
	if ev.Exception != nil {
		for i := len(ev.Exception.Values) - 1; i >= 0; i-- {
			if st := ev.Exception.Values[i].Stacktrace; st != nil && len(st.Frames) > 0 {
				return st
			}
		}
	}
	if ev.Stacktrace != nil && len(ev.Stacktrace.Frames) > 0 {
		return ev.Stacktrace
	}
	if ev.Threads != nil {
		for _, t := range ev.Threads.Values {
			if t.Crashed && t.Stacktrace != nil && len(t.Stacktrace.Frames) > 0 {
				return t.Stacktrace
			}
		}
	}
	return nil
}

func frameText(f *issues.Frame) string {
	fn := f.Function
	if fn == "" {
		fn = f.Symbol
	}
	file := f.Filename
	if file == "" {
		file = f.AbsPath
	}
	switch {
	case fn != "" && file != "" && f.Lineno > 0:
		return fmt.Sprintf("%s (%s:%d)", fn, file, f.Lineno)
	case fn != "" && file != "":
		return fmt.Sprintf("%s (%s)", fn, file)
	case fn != "":
		return fn
	case f.InstructionAddr.Set:
		return fmt.Sprintf("0x%x", f.InstructionAddr.N)
	}
	return ""
}

// Text renders the plain-text body.
func (n *Notice) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s/%s\n\n%s\n", n.Headline(), n.Org, n.Project, n.Title)
	if n.Culprit != "" {
		fmt.Fprintf(&b, "%s\n", n.Culprit)
	}
	if w := n.why(); w != "" {
		fmt.Fprintf(&b, "\n%s\n", w)
	}
	fmt.Fprintf(&b, "\nLevel:      %s\nFirst seen: %s\nEvents:     %d\n", n.Level, fmtTime(n.FirstSeen), n.Count)
	if n.Release != "" {
		fmt.Fprintf(&b, "Release:    %s\n", n.Release)
	}
	if n.Environment != "" {
		fmt.Fprintf(&b, "Environment: %s\n", n.Environment)
	}
	if len(n.Frames) > 0 {
		b.WriteString("\nStack (most recent call first):\n")
		for _, f := range n.Frames {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	if len(n.Commits) > 0 {
		fmt.Fprintf(&b, "\nCommits in %s:\n", n.Release)
		for _, c := range n.Commits[:min(len(n.Commits), maxCommits)] {
			fmt.Fprintf(&b, "  %s %s (%s)\n", shortSHA(c.SHA), firstLine(c.Message), c.AuthorName)
		}
	}
	fmt.Fprintf(&b, "\nView the issue: %s\n", n.URL)
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// htmlBody is parsed on first use: most processes that link this package
// (every cairn command) never send mail.
var htmlBody = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("mail").Funcs(template.FuncMap{"time": fmtTime, "sha": shortSHA, "line": firstLine}).Parse(`<!doctype html>
<html><body style="font-family: sans-serif; color: #222">
<p style="color: #666">{{.N.Headline}} in {{.N.Org}}/{{.N.Project}}</p>
<h2 style="margin: 0"><a href="{{.N.URL}}">{{.N.Title}}</a></h2>
{{with .N.Culprit}}<p style="color: #666; margin-top: 4px">{{.}}</p>{{end}}
{{with .Why}}<p><strong>{{.}}</strong></p>{{end}}
<table cellpadding="2">
<tr><td>Level</td><td><strong>{{.N.Level}}</strong></td></tr>
<tr><td>First seen</td><td>{{time .N.FirstSeen}}</td></tr>
<tr><td>Events</td><td>{{.N.Count}}</td></tr>
{{with .N.Release}}<tr><td>Release</td><td>{{.}}</td></tr>{{end}}
{{with .N.Environment}}<tr><td>Environment</td><td>{{.}}</td></tr>{{end}}
</table>
{{with .N.Frames}}<h3>Stack</h3>
<pre style="background: #f6f6f6; padding: 8px">{{range .}}{{.}}
{{end}}</pre>{{end}}
{{with .Commits}}<h3>Commits in {{$.N.Release}}</h3>
<ul>{{range .}}<li>{{if .URL}}<a href="{{.URL}}"><code>{{sha .SHA}}</code></a>{{else}}<code>{{sha .SHA}}</code>{{end}} {{line .Message}} — {{.AuthorName}}</li>{{end}}</ul>{{end}}
<p><a href="{{.N.URL}}">View the issue in Cairn</a></p>
</body></html>
`))
})

// HTML renders the HTML body.
func (n *Notice) HTML() (string, error) {
	var b strings.Builder
	err := htmlBody().Execute(&b, map[string]any{"N": n, "Why": n.why(), "Commits": n.Commits[:min(len(n.Commits), maxCommits)]})
	if err != nil {
		return "", fmt.Errorf("notify: render html: %w", err)
	}
	return b.String(), nil
}

// Markdown renders the body of a GitHub issue.
func (n *Notice) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** in `%s/%s`\n\n", n.Headline(), n.Org, n.Project)
	if n.Culprit != "" {
		fmt.Fprintf(&b, "**Culprit:** `%s`\n\n", n.Culprit)
	}
	if w := n.why(); w != "" {
		fmt.Fprintf(&b, "%s\n\n", w)
	}
	fmt.Fprintf(&b, "| Level | First seen | Events |\n|---|---|---|\n| %s | %s | %d |\n\n", n.Level, fmtTime(n.FirstSeen), n.Count)
	if len(n.Frames) > 0 {
		b.WriteString("### Stack\n\n```\n")
		for _, f := range n.Frames {
			b.WriteString(f + "\n")
		}
		b.WriteString("```\n\n")
	}
	if len(n.Commits) > 0 {
		fmt.Fprintf(&b, "### Commits in %s\n\n", n.Release)
		for _, c := range n.Commits[:min(len(n.Commits), maxCommits)] {
			sha := "`" + shortSHA(c.SHA) + "`"
			if c.URL != "" {
				sha = "[" + sha + "](" + c.URL + ")"
			}
			fmt.Fprintf(&b, "- %s %s — %s\n", sha, firstLine(c.Message), c.AuthorName)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "[View the issue in Cairn](%s)\n", n.URL)
	return b.String()
}
