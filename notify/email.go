package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// SMTP is the mail relay notifications go through.
type SMTP struct {
	Host string
	// Port defaults to 25.
	Port int
	// From is the sender address.
	From string
	// Username and Password, when set, authenticate with AUTH PLAIN, which
	// net/smtp only allows over TLS or to localhost.
	Username string
	Password string
	// TLS configures STARTTLS; nil verifies the relay's certificate for
	// Host against the system roots.
	TLS *tls.Config
	// HelloName is the EHLO domain (default "localhost").
	HelloName string
	// Timeout bounds one whole conversation (default 30s).
	Timeout time.Duration
}

// Configured reports whether email can be sent at all.
func (s *SMTP) Configured() bool { return s != nil && s.Host != "" && s.From != "" }

// Send delivers msg to the recipients in one SMTP transaction.
func (s *SMTP) Send(ctx context.Context, to []string, msg []byte) error {
	if !s.Configured() {
		return permanent(errors.New("notify: email: no SMTP relay configured"))
	}
	port, timeout := s.Port, s.Timeout
	if port == 0 {
		port = 25
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(port))
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("notify: smtp %s: %w", addr, err)
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return smtpErr(addr, "greeting", err)
	}
	defer c.Close()
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return smtpErr(addr, "EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLS
		if cfg == nil {
			cfg = &tls.Config{}
		}
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = s.Host
		}
		if err := c.StartTLS(cfg); err != nil {
			return smtpErr(addr, "STARTTLS", err)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(fmt.Errorf("notify: smtp %s: the relay offers no AUTH", addr))
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return smtpErr(addr, "AUTH", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return smtpErr(addr, "MAIL FROM", err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return smtpErr(addr, "RCPT TO <"+r+">", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(addr, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpErr(addr, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(addr, "end of DATA", err)
	}
	if err := c.Quit(); err != nil {
		return smtpErr(addr, "QUIT", err)
	}
	return nil
}

// smtpErr wraps a failed command; 5xx replies are permanent (RFC 5321
// §4.2.1), everything else is worth retrying.
func smtpErr(addr, cmd string, err error) error {
	err = fmt.Errorf("notify: smtp %s: %s: %w", addr, cmd, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(err)
	}
	return err
}

// Message builds a MIME message with text and HTML alternatives.
func Message(from string, to []string, n *Notice, now time.Time) ([]byte, error) {
	html, err := n.HTML()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var id [12]byte
	rand.Read(id[:])
	domain := "cairn"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	h := []string{
		"From: " + from,
		"To: " + strings.Join(to, ", "),
		"Subject: " + mime.QEncoding.Encode("utf-8", n.Subject()),
		"Date: " + now.Format(time.RFC1123Z),
		"Message-ID: <" + hex.EncodeToString(id[:]) + "@" + domain + ">",
		"MIME-Version: 1.0",
		"Auto-Submitted: auto-generated",
		`Content-Type: multipart/alternative; boundary="` + mw.Boundary() + `"`,
	}
	var head bytes.Buffer
	for _, l := range h {
		head.WriteString(l + "\r\n")
	}
	head.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", n.Text()}, {"text/html", html}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("notify: build message: %w", err)
		}
		qw := quotedprintable.NewWriter(pw)
		qw.Write([]byte(strings.ReplaceAll(p.body, "\n", "\r\n")))
		if err := qw.Close(); err != nil {
			return nil, fmt.Errorf("notify: build message: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("notify: build message: %w", err)
	}
	return append(head.Bytes(), buf.Bytes()...), nil
}
