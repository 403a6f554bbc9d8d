package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Source configuration in Sentry Symbolicator's JSON shape: requests carry
// a "sources" array of these objects and the server's configured sources
// use the same form. Unknown keys are ignored, since Sentry adds new ones.

// ConfigOptions are the server's settings that apply to every source built from JSON.
type ConfigOptions struct {
	// AllowPrivate lets http, sentry and s3 sources reach loopback/private/link-local addresses (SSRF guard off). Default false.
	AllowPrivate bool
	// AllowFilesystem permits "filesystem" sources; request-supplied sources must not read the server's disk unless the operator allows it.
	AllowFilesystem bool
	// AllowServerCredentials permits s3 sources with aws_credentials_provider
	// "container", which sign with the server's own AWS credentials: a source
	// a request supplies must not read whatever buckets the server can.
	AllowServerCredentials bool
	// Uploaded, when set, is the store behind "sentry" sources whose url is empty or "internal" (Cairn's own uploads).
	Uploaded UploadStore
	// HTTPTimeout bounds one download (zero: the sources' default).
	HTTPTimeout time.Duration
}

// sourceTypes are the accepted values of a source's "type".
var sourceTypes = []string{"filesystem", "http", "s3", "gcs", "sentry"}

// unsupportedFileTypes are file type names Symbolicator knows but Cairn
// never fetches; a filter naming them is accepted and they match nothing.
var unsupportedFileTypes = map[string]bool{"portablepdb": true, "uuidmap": true, "bcsymbolmap": true, "il2cpp": true}

// sourceJSON is the union of every source type's keys.
type sourceJSON struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Layout  *layoutJSON  `json:"layout"`
	Filters *filtersJSON `json:"filters"`

	// filesystem
	Path string `json:"path"`

	// http, sentry
	URL                string            `json:"url"`
	Headers            map[string]string `json:"headers"`
	AcceptInvalidCerts bool              `json:"accept_invalid_certs"`
	Username           string            `json:"username"`
	Password           string            `json:"password"`
	BearerToken        string            `json:"bearer_token"`
	Token              string            `json:"token"`

	// s3, gcs
	Bucket                 string          `json:"bucket"`
	Prefix                 string          `json:"prefix"`
	Region                 json.RawMessage `json:"region"`
	AccessKey              string          `json:"access_key"`
	SecretKey              string          `json:"secret_key"`
	Endpoint               string          `json:"endpoint"`
	AWSCredentialsProvider string          `json:"aws_credentials_provider"`
	PrivateKey             string          `json:"private_key"`
	ClientEmail            string          `json:"client_email"`
}

type layoutJSON struct {
	Type   string `json:"type"`
	Casing string `json:"casing"`
}

type filtersJSON struct {
	FileTypes        []string `json:"filetypes"`
	PathPatterns     []string `json:"path_patterns"`
	RequiresChecksum bool     `json:"requires_checksum"`
}

// ParseConfig builds one source from its JSON configuration.
func ParseConfig(raw []byte, opts ConfigOptions) (Source, error) {
	var c sourceJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("sources: source config: %w", err)
	}
	return c.build(opts)
}

// ParseConfigs builds every source of a JSON array, in order; source ids must be unique.
func ParseConfigs(raw []byte, opts ConfigOptions) ([]Source, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var cs []sourceJSON
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, fmt.Errorf("sources: source configs: want a JSON array of source objects: %w", err)
	}
	out := make([]Source, 0, len(cs))
	seen := make(map[string]int, len(cs))
	for i, c := range cs {
		if j, dup := seen[c.ID]; dup && c.ID != "" {
			return nil, fmt.Errorf("sources: source %q: id used by sources %d and %d; ids must be unique", c.ID, j, i)
		}
		seen[c.ID] = i
		s, err := c.build(opts)
		if err != nil {
			return nil, fmt.Errorf("%w (source %d)", err, i)
		}
		out = append(out, s)
	}
	return out, nil
}

// configError is an error about one source's configuration, named by id.
func configError(id, format string, args ...any) error {
	return fmt.Errorf("sources: source %q: "+format, append([]any{id}, args...)...)
}

func (c *sourceJSON) build(opts ConfigOptions) (Source, error) {
	if c.ID == "" {
		return nil, fmt.Errorf("sources: source of type %q: id is required (a non-empty string)", c.Type)
	}
	layout, err := c.layout()
	if err != nil {
		return nil, err
	}
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "filesystem":
		if !opts.AllowFilesystem {
			return nil, configError(c.ID, "type \"filesystem\" is not allowed on this server (the operator must enable filesystem sources)")
		}
		if c.Path == "" {
			return nil, configError(c.ID, "path is required for a filesystem source")
		}
		return NewFilesystem(c.ID, c.Path, layout, filters), nil
	case "http":
		if c.AcceptInvalidCerts {
			return nil, configError(c.ID, "accept_invalid_certs true is not supported; use a certificate the server trusts and set it false")
		}
		if c.URL == "" {
			return nil, configError(c.ID, "url is required for an http source")
		}
		s, err := NewHTTP(HTTPConfig{ID: c.ID, URL: c.URL, Layout: layout, Filters: filters, Headers: c.Headers,
			Username: c.Username, Password: c.Password, BearerToken: c.BearerToken,
			Timeout: opts.HTTPTimeout, AllowPrivate: opts.AllowPrivate})
		if err != nil {
			return nil, configError(c.ID, "url %q: want an absolute http(s) URL: %w", c.URL, err)
		}
		return s, nil
	case "s3":
		return c.s3(layout, filters, opts)
	case "gcs":
		return c.gcs(layout, filters, opts)
	case "sentry":
		if c.URL == "" || c.URL == "internal" {
			if opts.Uploaded == nil {
				return nil, configError(c.ID, "url %q names the internal upload store, which this server does not have; give the url of a Sentry project's files/dsyms/ endpoint", c.URL)
			}
			return NewUploaded(c.ID, opts.Uploaded, filters), nil
		}
		s, err := NewSentry(SentryConfig{ID: c.ID, URL: c.URL, Token: c.Token, Filters: filters,
			AllowPrivate: opts.AllowPrivate, Timeout: opts.HTTPTimeout})
		if err != nil {
			return nil, configError(c.ID, "url %q: want the absolute http(s) URL of a project's files/dsyms/ endpoint: %w", c.URL, err)
		}
		return s, nil
	case "":
		return nil, configError(c.ID, "type is required: want one of %s", strings.Join(sourceTypes, ", "))
	}
	return nil, configError(c.ID, "type %q: want one of %s", c.Type, strings.Join(sourceTypes, ", "))
}

func (c *sourceJSON) layout() (DirectoryLayout, error) {
	var l DirectoryLayout
	if c.Layout == nil {
		return l, nil
	}
	if c.Layout.Type != "" {
		t, err := ParseLayout(c.Layout.Type)
		if err != nil {
			return l, configError(c.ID, "layout.type %q: want one of %s", c.Layout.Type, strings.Join(layoutNames[:], ", "))
		}
		l.Type = t
	}
	cs, err := ParseCasing(c.Layout.Casing)
	if err != nil {
		return l, configError(c.ID, "layout.casing %q: want one of default, lowercase, uppercase", c.Layout.Casing)
	}
	l.Casing = cs
	return l, nil
}

func (c *sourceJSON) filters() (Filters, error) {
	var f Filters
	if c.Filters == nil {
		return f, nil
	}
	f.PathPatterns = c.Filters.PathPatterns
	f.RequireDebugID = c.Filters.RequiresChecksum
	for _, name := range c.Filters.FileTypes {
		if unsupportedFileTypes[name] {
			continue
		}
		t, err := ParseFileType(name)
		if err != nil {
			return f, configError(c.ID, "filters.filetypes: %q: want one of %s", name, strings.Join(fileTypeList(), ", "))
		}
		f.FileTypes = append(f.FileTypes, t)
	}
	if len(c.Filters.FileTypes) > 0 && len(f.FileTypes) == 0 {
		// Only types Cairn never fetches were named: the source must
		// match nothing, not (as an empty list would) everything. No
		// lookup asks for the zero FileType, so it matches nothing.
		f.FileTypes = []FileType{0}
	}
	return f, nil
}

// fileTypeList is the names ParseFileType accepts, in FileType order.
func fileTypeList() []string {
	var out []string
	for t := FilePE; t <= FileSourceBundle; t++ {
		out = append(out, t.String())
	}
	return out
}

func (c *sourceJSON) s3(layout DirectoryLayout, filters Filters, opts ConfigOptions) (Source, error) {
	if c.Bucket == "" {
		return nil, configError(c.ID, "bucket is required for an s3 source")
	}
	cfg := S3Config{ID: c.ID, Bucket: c.Bucket, Prefix: c.Prefix, Layout: layout, Filters: filters,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, AllowPrivate: opts.AllowPrivate}
	switch c.AWSCredentialsProvider {
	case "", "static":
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, configError(c.ID, "access_key and secret_key are required (or aws_credentials_provider \"container\" for the server's own credentials)")
		}
	case "container":
		if !opts.AllowServerCredentials {
			return nil, configError(c.ID, "aws_credentials_provider \"container\" would sign with this server's own credentials; give access_key and secret_key, or configure the source on the server")
		}
		cfg.AccessKey, cfg.SecretKey = "", ""
	default:
		return nil, configError(c.ID, "aws_credentials_provider %q: want static or container", c.AWSCredentialsProvider)
	}
	if len(c.Region) > 0 && !bytes.Equal(c.Region, []byte("null")) {
		var region string
		var custom []string
		switch {
		case json.Unmarshal(c.Region, &region) == nil:
			cfg.Region = region
		case json.Unmarshal(c.Region, &custom) == nil && len(custom) == 2:
			cfg.Region = custom[0]
			if err := setEndpoint(&cfg, custom[1]); err != nil {
				return nil, configError(c.ID, "region[1] %q: %w", custom[1], err)
			}
		default:
			return nil, configError(c.ID, "region %s: want an AWS region name or [\"name\", \"http(s)://host:port\"]", c.Region)
		}
	}
	if c.Endpoint != "" {
		if err := setEndpoint(&cfg, c.Endpoint); err != nil {
			return nil, configError(c.ID, "endpoint %q: %w", c.Endpoint, err)
		}
	}
	s, err := NewS3(cfg)
	if err != nil {
		return nil, configError(c.ID, "%w", err)
	}
	return s, nil
}

// setEndpoint reads a custom S3 endpoint, "http(s)://host[:port]" or a
// bare "host[:port]" (HTTPS); plain http makes the client insecure.
func setEndpoint(cfg *S3Config, s string) error {
	if !strings.Contains(s, "://") {
		if s == "" || strings.ContainsAny(s, "/?#") {
			return errors.New("want http(s)://host[:port] or host[:port]")
		}
		cfg.Endpoint, cfg.Insecure = s, false
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return errors.New("want http(s)://host[:port] with no path")
	}
	cfg.Endpoint, cfg.Insecure = u.Host, u.Scheme == "http"
	return nil
}

func (c *sourceJSON) gcs(layout DirectoryLayout, filters Filters, opts ConfigOptions) (Source, error) {
	if c.PrivateKey != "" || c.ClientEmail != "" {
		return nil, configError(c.ID, "private_key/client_email (service-account keys) are not supported: Cairn reads GCS through its S3 interoperability API; create HMAC keys for the service account and give them as access_key and secret_key")
	}
	if c.Bucket == "" {
		return nil, configError(c.ID, "bucket is required for a gcs source")
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, configError(c.ID, "access_key and secret_key (GCS HMAC keys) are required for a gcs source")
	}
	s, err := NewGCS(GCSConfig{ID: c.ID, Bucket: c.Bucket, Prefix: c.Prefix, Layout: layout, Filters: filters,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, AllowPrivate: opts.AllowPrivate})
	if err != nil {
		return nil, configError(c.ID, "%w", err)
	}
	return s, nil
}
