package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTPConfig configures an HTTP symbol server source.
type HTTPConfig struct {
	ID      string
	URL     string
	Layout  DirectoryLayout
	Filters Filters
	// Headers are sent with every request (for example an API key).
	Headers map[string]string
	// Username and Password, when Username is set, are sent as basic auth.
	Username, Password string
	// BearerToken, when set, is sent as "Authorization: Bearer …".
	BearerToken string
	// Timeout bounds one whole download; zero means 5 minutes.
	Timeout time.Duration
	// AllowPrivate lets the source reach loopback, private and link-local
	// addresses; off by default so request-supplied sources cannot probe
	// the internal network.
	AllowPrivate bool
}

// HTTP is a symbol server reached over HTTP(S).
type HTTP struct {
	cfg    HTTPConfig
	base   *url.URL
	client *http.Client
}

// NewHTTP validates cfg and returns the source.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sources: %s: url: %w", cfg.ID, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sources: %s: url scheme %q not http(s)", cfg.ID, u.Scheme)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	// debuginfod serves files under /buildid/; accept the server's root
	// URL as well as the /buildid/ one.
	if cfg.Layout.Type == LayoutDebuginfod && !strings.HasSuffix(u.Path, "/buildid/") {
		u.Path += "buildid/"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	return &HTTP{cfg: cfg, base: u, client: newClient(cfg.AllowPrivate, cfg.Timeout)}, nil
}

// newClient is the HTTP client of the sources that download over HTTP,
// with the SSRF guard unless allowPrivate.
func newClient(allowPrivate bool, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		// No proxy: a proxy would make the connect-time address check
		// see the proxy, not the symbol server.
		Proxy:                 nil,
		DialContext:           NewDialer(allowPrivate).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		// Symbol servers sometimes label files with Content-Encoding;
		// decompression is decided by the bytes instead.
		DisableCompression: true,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// ID implements Source.
func (s *HTTP) ID() string { return s.cfg.ID }

// Candidates implements Source.
func (s *HTTP) Candidates(ctx context.Context, id FileID, types []FileType) []Location {
	return layoutCandidates(s.cfg.ID, s.cfg.Layout, s.cfg.Filters, "", id, types)
}

// URLFor is the absolute URL of a location.
func (s *HTTP) URLFor(loc Location) string {
	segs := strings.Split(loc.Path, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.base.String() + strings.Join(segs, "/")
}

// Fetch implements Source.
func (s *HTTP) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	u := s.URLFor(loc)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("sources: %s: %w", s.cfg.ID, err)
	}
	// Microsoft's symbol server answers differently to unknown agents.
	req.Header.Set("User-Agent", "Microsoft-Symbol-Server/10.0 cairn")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case s.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	case s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbiddenAddress) {
			return fmt.Errorf("sources: %s: %s: %w", s.cfg.ID, loc.Path, err)
		}
		return fmt.Errorf("sources: %s: GET %s: %w", s.cfg.ID, loc.Path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("sources: %s: %s: %w", s.cfg.ID, loc.Path, ErrNotFound)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("sources: %s: %s: HTTP %d: %w", s.cfg.ID, loc.Path, resp.StatusCode, ErrDenied)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("sources: %s: %s: HTTP %s", s.cfg.ID, loc.Path, resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("sources: %s: download %s: %w", s.cfg.ID, loc.Path, err)
	}
	return nil
}
