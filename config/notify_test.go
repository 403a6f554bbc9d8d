package config

import (
	"testing"
	"time"
)

func TestNotifySettings(t *testing.T) {
	env := map[string]string{"CAIRN_SMTP_HOST": "mail.example.com", "CAIRN_SMTP_PORT": "587", "CAIRN_SMTP_FROM": "cairn@example.com",
		"CAIRN_SMTP_USERNAME": "u", "CAIRN_SMTP_PASSWORD": "p", "CAIRN_GITHUB_TOKEN": "ghp_x",
		"CAIRN_GITHUB_API_URL": "https://ghe.example.com/api/v3", "CAIRN_NOTIFY_BACKOFF": "10s", "CAIRN_NOTIFY_MAX_ATTEMPTS": "4"}
	c, err := FromEnv(Default(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	n := c.Notify
	if n.SMTPHost != "mail.example.com" || n.SMTPPort != 587 || n.SMTPFrom != "cairn@example.com" || n.SMTPUsername != "u" ||
		n.SMTPPassword != "p" || n.GitHubToken != "ghp_x" || n.GitHubAPIURL != "https://ghe.example.com/api/v3" ||
		n.Backoff != 10*time.Second || n.MaxAttempts != 4 {
		t.Fatalf("notify %+v", n)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Notify){
		"no sender":     func(n *Notify) { n.SMTPFrom = "" },
		"bad port":      func(n *Notify) { n.SMTPPort = 70000 },
		"user, no pass": func(n *Notify) { n.SMTPPassword = "" },
		"bad api url":   func(n *Notify) { n.GitHubAPIURL = "ghe.example.com" },
	} {
		c2 := c
		mod(&c2.Notify)
		if c2.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := FromEnv(Default(), func(k string) string { return map[string]string{"CAIRN_SMTP_PORT": "smtp"}[k] }); err == nil {
		t.Error("CAIRN_SMTP_PORT=smtp accepted")
	}
}
