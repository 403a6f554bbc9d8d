// Package ui serves Cairn's server-rendered web interface: sign-in, the
// first administrator's setup, issue lists and issue details. Pages are
// html/template, assets are embedded, and no page needs JavaScript; one
// small script only adds "copy as text".
package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"golang.org/x/crypto/bcrypt"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the interface needs of the metadata store: the whole
// meta.Store plus accounts and issue search (SQLite and PostgreSQL).
type Store interface {
	meta.Store
	meta.Users
	meta.IssueSearcher
}

// Config wires the interface to its stores.
type Config struct {
	Meta   Store
	Events events.Store
	// Blobs holds event attachments (minidumps); without it the issue
	// page offers no downloads.
	Blobs blob.Store
	Log   *slog.Logger
	// SecureCookies marks cookies Secure even when the request did not
	// arrive over TLS, for servers behind a TLS-terminating proxy.
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts; zero means 14 days.
	SessionTTL time.Duration
	// Now returns the current time; tests set it.
	Now func() time.Time
	// Notifier, with a store implementing meta.Alerts, enables the Alerts
	// settings page and the issue page's GitHub button.
	Notifier Notifier
	// BaseURL is the address SDKs reach the server at, for the DSNs the
	// project settings show; "" uses the address of the request.
	BaseURL string
	// Keys, when set, forgets cached DSN keys after an edit in the
	// settings, so a disabled key is refused at once by this node's
	// ingest; other nodes follow within their cache's lifetime.
	Keys KeyCache
	// InviteTTL is how long an invitation link works; zero means 7 days.
	InviteTTL time.Duration
	// AllowPrivateSources lets "Test connection" reach symbol sources on
	// loopback and private addresses. Tests set it; the worker always
	// applies the SSRF guard to project sources.
	AllowPrivateSources bool
}

// UI is the web interface's http.Handler, meant to be mounted at "/".
type UI struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux
}

const (
	sessionCookie = "cairn_session"
	// preCSRFCookie carries the CSRF token of forms shown before a session
	// exists (sign-in and setup): the form must echo the cookie's value,
	// which another site can neither read nor set.
	preCSRFCookie = "cairn_csrf"
	csrfField     = "csrf"
)

// New parses the templates and builds the routes.
func New(cfg Config) (*UI, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 14 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u := &UI{cfg: cfg, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, name := range []string{"login", "setup", "projects", "issues", "issue", "confirm", "releases"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		u.pages[name] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /setup", u.setupForm)
	u.mux.HandleFunc("POST /setup", u.setup)
	u.mux.HandleFunc("GET /login", u.loginForm)
	u.mux.HandleFunc("POST /login", u.login)
	u.mux.HandleFunc("POST /logout", u.authed(u.logout))
	u.mux.HandleFunc("GET /{$}", u.authed(u.projects))
	u.mux.HandleFunc("GET /o/{org}/{project}/{$}", u.authed(u.issueList))
	u.mux.HandleFunc("POST /o/{org}/{project}/bulk", u.authed(u.bulk))
	u.mux.HandleFunc("GET /o/{org}/{project}/issues/{id}/{$}", u.authed(u.issueDetail))
	u.mux.HandleFunc("GET /o/{org}/{project}/releases/{$}", u.authed(u.releases))
	u.mux.HandleFunc("GET /o/{org}/{project}/issues/{id}/events/{event}/attachments/{n}", u.authed(u.download))
	if err := u.alertRoutes(); err != nil {
		return nil, err
	}
	if err := u.settingsRoutes(); err != nil {
		return nil, err
	}
	return u, nil
}

// ServeHTTP implements http.Handler. Every page forbids framing and
// sniffing, and keeps referrers on this site.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	u.mux.ServeHTTP(w, r)
}

// HashPassword returns the bcrypt hash stored for a password.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("the password must have at least 8 characters")
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(b), err
}

// CreateUser creates an account and makes it a member of the given
// organizations; the first account of an installation is always an
// administrator, so setup cannot leave it without one.
func CreateUser(ctx context.Context, m Store, email, password string, admin bool, orgIDs []int64) (meta.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !strings.Contains(email, "@") {
		return meta.User{}, errors.New("the email address is not valid")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return meta.User{}, err
	}
	n, err := m.CountUsers(ctx)
	if err != nil {
		return meta.User{}, err
	}
	user, err := m.CreateUser(ctx, meta.User{Email: email, PasswordHash: hash, Admin: admin || n == 0})
	if err != nil {
		return user, err
	}
	for _, id := range orgIDs {
		if err := m.AddMember(ctx, user.ID, id); err != nil {
			return user, err
		}
	}
	return user, nil
}

// viewer is the signed-in user of a request.
type viewer struct {
	User    meta.User
	Session meta.Session
	OrgIDs  []int64
}

type viewerKey struct{}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (u *UI) secure(r *http.Request) bool { return u.cfg.SecureCookies || r.TLS != nil }

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
}

// authed resolves the session cookie and checks the CSRF token of POSTs;
// without a session it sends browsers to sign-in (or to setup when no
// account exists yet).
func (u *UI) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var v viewer
		c, err := r.Cookie(sessionCookie)
		if err == nil {
			v.Session, err = u.cfg.Meta.SessionByHash(ctx, hashSecret(c.Value), u.cfg.Now())
		}
		if err == nil {
			v.User, err = u.cfg.Meta.User(ctx, v.Session.UserID)
		}
		if err == nil {
			v.OrgIDs, err = u.cfg.Meta.UserOrgs(ctx, v.User.ID)
		}
		if err != nil {
			if !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, http.ErrNoCookie) {
				u.fail(w, err)
				return
			}
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusForbidden)
				return
			}
			if n, err := u.cfg.Meta.CountUsers(ctx); err == nil && n == 0 {
				http.Redirect(w, r, "/setup", http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !tokenEqual(r.PostFormValue(csrfField), v.Session.CSRF) {
			http.Error(w, "invalid or missing CSRF token; reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r.WithContext(context.WithValue(ctx, viewerKey{}, &v)))
	}
}

func tokenEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func viewerOf(r *http.Request) *viewer { return r.Context().Value(viewerKey{}).(*viewer) }

// member reports whether the viewer belongs to the organization.
func (v *viewer) member(orgID int64) bool { return slices.Contains(v.OrgIDs, orgID) }

// preCSRF returns the pre-session CSRF token, setting its cookie when the
// browser has none.
func (u *UI) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCSRFCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	t := randomToken()
	u.setCookie(w, r, preCSRFCookie, t, 0)
	return t
}

func (u *UI) checkPreCSRF(r *http.Request) bool {
	c, err := r.Cookie(preCSRFCookie)
	return err == nil && tokenEqual(r.PostFormValue(csrfField), c.Value)
}

// startSession signs the user in. A fresh random cookie on every sign-in
// keeps a cookie planted before sign-in from being promoted (session
// fixation).
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, user meta.User) error {
	secret := randomToken()
	now := u.cfg.Now()
	s := meta.Session{Hash: hashSecret(secret), UserID: user.ID, CSRF: randomToken(), ExpiresAt: now.Add(u.cfg.SessionTTL), CreatedAt: now}
	if err := u.cfg.Meta.CreateSession(r.Context(), s); err != nil {
		return err
	}
	u.setCookie(w, r, sessionCookie, secret, int(u.cfg.SessionTTL/time.Second))
	return nil
}

func (u *UI) render(w http.ResponseWriter, page string, status int, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	u.decorate(page, data)
	var b strings.Builder
	if err := u.pages[page].Execute(&b, data); err != nil {
		u.fail(w, err)
		return
	}
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

func (u *UI) fail(w http.ResponseWriter, err error) {
	u.cfg.Log.Error("web ui", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// safeNext keeps post-sign-in redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}
