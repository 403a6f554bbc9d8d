package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of the all-in-one server. Its zero value is
// not usable; start from Default and apply the environment and flags.
type Config struct {
	// DataDir holds every file of the embedded deployment: the SQLite
	// databases and the blob directory.
	DataDir string
	// Addr is the address the HTTP server listens on (ingest, API).
	Addr string
	// PublicURL is the URL clients reach the server at, used in DSNs and
	// permalinks; empty means http://<the listening address>.
	PublicURL string
	// Workers is how many events the worker processes at once (0: one per
	// CPU).
	Workers int
	// ShutdownTimeout bounds the draining of in-flight requests and
	// events on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
	// Role is what the process runs: RoleAll (every role in one process),
	// one of the production roles (RoleIngest, RoleWorker, RoleSnuba,
	// RoleWeb), which need the shared storage of Storage, or
	// RoleSymbolicator (the symbolicator's HTTP API alone).
	Role string
	// Symbolicator configures the symbolicator.
	Symbolicator Symbolicator
	// Notify configures the delivery of alert notifications.
	Notify Notify
	// Storage selects production backends instead of the embedded ones.
	Storage Storage
}

// Notify configures how notifications leave the server. Slack webhooks
// are per rule and need nothing here.
type Notify struct {
	// SMTPHost is the mail relay; empty disables email actions. The
	// connection upgrades with STARTTLS when the relay offers it.
	SMTPHost string
	// SMTPPort defaults to 25.
	SMTPPort int
	// SMTPFrom is the sender address of notification emails.
	SMTPFrom string
	// SMTPUsername and SMTPPassword, when set, authenticate with AUTH PLAIN.
	SMTPUsername string
	SMTPPassword string
	// GitHubToken authorizes issue creation and commit lookups; empty
	// disables GitHub actions and release commits.
	GitHubToken string
	// GitHubAPIURL is GitHub's REST API root (default https://api.github.com;
	// GitHub Enterprise: https://HOST/api/v3).
	GitHubAPIURL string
	// Backoff is the wait after a delivery's first failed attempt, doubled
	// after each further one (0: 30s); MaxAttempts bounds the attempts
	// before a delivery is marked failed (0: 6).
	Backoff     time.Duration
	MaxAttempts int
}

// Roles.
const (
	// RoleAll runs every role in one process: on embedded storage without
	// Storage.Postgres, else on the configured production backends.
	RoleAll = "all"
	// RoleIngest serves the Sentry ingest endpoints and enqueues events.
	RoleIngest = "ingest"
	// RoleWorker consumes the ingest queue: symbolicates, groups, stores.
	RoleWorker = "worker"
	// RoleSnuba writes processed events into ClickHouse in batches.
	RoleSnuba = "snuba"
	// RoleWeb serves the API, debug-file uploads and the web interface.
	RoleWeb = "web"
	// RoleSymbolicator serves Sentry Symbolicator's HTTP API alone.
	RoleSymbolicator = "symbolicator"
)

// Roles lists the roles in the order --help shows them.
var Roles = []string{RoleAll, RoleIngest, RoleWorker, RoleSnuba, RoleWeb, RoleSymbolicator}

// Production reports whether the configuration names shared production
// storage (PostgreSQL); without it every role runs on the embedded
// SQLite databases of one data directory.
func (c Config) Production() bool { return c.Storage.Postgres != "" }

// Symbolicator configures the symbolicator role.
type Symbolicator struct {
	// CacheDir holds downloaded debug files and the caches derived from
	// them; empty means <data dir>/symbolicator.
	CacheDir string
	// CacheSize bounds CacheDir in bytes (least recently used entries go
	// first); 0 means unbounded.
	CacheSize int64
	// SourcesFile is a JSON array of sources in Sentry Symbolicator's
	// format, used by requests that name no sources; empty means none.
	SourcesFile string
	// AllowPrivate lets sources a request supplies reach loopback, private
	// and link-local addresses.
	AllowPrivate bool
	// AllowFilesystem lets sources a request supplies read the server's
	// file system.
	AllowFilesystem bool
	// MaxConcurrent bounds the requests processed at once; beyond it the
	// server answers 503. 0 means 4 per CPU.
	MaxConcurrent int
}

// Default is the zero-config setup: ./cairn-data, loopback port 8000.
func Default() Config {
	return Config{DataDir: "cairn-data", Addr: "127.0.0.1:8000", ShutdownTimeout: 30 * time.Second, Role: RoleAll}
}

// Env names the variables FromEnv reads.
var Env = map[string]string{
	"CAIRN_DATA_DIR":                "data directory",
	"CAIRN_ADDR":                    "listen address",
	"CAIRN_PUBLIC_URL":              "URL clients use to reach the server",
	"CAIRN_WORKERS":                 "events processed at once",
	"CAIRN_SHUTDOWN_TIMEOUT":        "drain time on shutdown, e.g. 30s",
	"CAIRN_ROLE":                    "role to run: all, ingest, worker, snuba, web or symbolicator",
	"CAIRN_SYMBOLICATOR_CACHE_DIR":  "symbolicator cache directory",
	"CAIRN_SYMBOLICATOR_CACHE_SIZE": "symbolicator cache limit, e.g. 10GiB",
	"CAIRN_SYMBOLICATOR_SOURCES":    "JSON file of symbol sources",
	"CAIRN_SMTP_HOST":               "SMTP relay for notification emails",
	"CAIRN_SMTP_PORT":               "SMTP relay port (default 25)",
	"CAIRN_SMTP_FROM":               "sender address of notification emails",
	"CAIRN_SMTP_USERNAME":           "SMTP AUTH PLAIN user name",
	"CAIRN_SMTP_PASSWORD":           "SMTP AUTH PLAIN password",
	"CAIRN_GITHUB_TOKEN":            "GitHub token for issues and release commits",
	"CAIRN_GITHUB_API_URL":          "GitHub REST API root (GitHub Enterprise)",
	"CAIRN_NOTIFY_BACKOFF":          "wait after a failed notification, doubled per retry",
	"CAIRN_NOTIFY_MAX_ATTEMPTS":     "attempts before a notification is marked failed",
}

// FromEnv overrides c with the CAIRN_* variables that are set. getenv is
// os.Getenv outside tests.
func FromEnv(c Config, getenv func(string) string) (Config, error) {
	if v := getenv("CAIRN_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("CAIRN_ADDR"); v != "" {
		c.Addr = v
	}
	if v := getenv("CAIRN_PUBLIC_URL"); v != "" {
		c.PublicURL = v
	}
	if v := getenv("CAIRN_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("config: CAIRN_WORKERS=%q: want a count", v)
		}
		c.Workers = n
	}
	if v := getenv("CAIRN_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("config: CAIRN_SHUTDOWN_TIMEOUT=%q: %w", v, err)
		}
		c.ShutdownTimeout = d
	}
	if v := getenv("CAIRN_ROLE"); v != "" {
		c.Role = v
	}
	if v := getenv("CAIRN_SYMBOLICATOR_CACHE_DIR"); v != "" {
		c.Symbolicator.CacheDir = v
	}
	if v := getenv("CAIRN_SYMBOLICATOR_CACHE_SIZE"); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			return c, fmt.Errorf("config: CAIRN_SYMBOLICATOR_CACHE_SIZE=%q: %w", v, err)
		}
		c.Symbolicator.CacheSize = n
	}
	if v := getenv("CAIRN_SYMBOLICATOR_SOURCES"); v != "" {
		c.Symbolicator.SourcesFile = v
	}
	return notifyFromEnv(c, getenv)
}

func notifyFromEnv(c Config, getenv func(string) string) (Config, error) {
	n := &c.Notify
	if v := getenv("CAIRN_SMTP_HOST"); v != "" {
		n.SMTPHost = v
	}
	if v := getenv("CAIRN_SMTP_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("config: CAIRN_SMTP_PORT=%q: want a port number", v)
		}
		n.SMTPPort = p
	}
	if v := getenv("CAIRN_SMTP_FROM"); v != "" {
		n.SMTPFrom = v
	}
	if v := getenv("CAIRN_SMTP_USERNAME"); v != "" {
		n.SMTPUsername = v
	}
	if v := getenv("CAIRN_SMTP_PASSWORD"); v != "" {
		n.SMTPPassword = v
	}
	if v := getenv("CAIRN_GITHUB_TOKEN"); v != "" {
		n.GitHubToken = v
	}
	if v := getenv("CAIRN_GITHUB_API_URL"); v != "" {
		n.GitHubAPIURL = v
	}
	if v := getenv("CAIRN_NOTIFY_BACKOFF"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("config: CAIRN_NOTIFY_BACKOFF=%q: want a duration", v)
		}
		n.Backoff = d
	}
	if v := getenv("CAIRN_NOTIFY_MAX_ATTEMPTS"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			return c, fmt.Errorf("config: CAIRN_NOTIFY_MAX_ATTEMPTS=%q: want a count", v)
		}
		n.MaxAttempts = k
	}
	return c, nil
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	if !slices.Contains(Roles, c.Role) {
		return fmt.Errorf("config: role %q: want one of %s", c.Role, strings.Join(Roles, ", "))
	}
	if err := c.Storage.validate(c.Role); err != nil {
		return err
	}
	return c.Notify.validate()
}

// validate checks that the role has the storage it needs. The embedded
// SQLite stores belong to one process: its queue hands out leases that
// live in that process's memory of what it holds, and a starting server
// releases every lease it finds, so a second process on the same files
// would redeliver the first one's in-flight events. The split roles
// therefore need PostgreSQL, and the production backends all hang off it.
func (s Storage) validate(role string) error {
	switch role {
	case RoleIngest, RoleWorker, RoleSnuba, RoleWeb:
		if s.Postgres == "" {
			return fmt.Errorf("config: role %s runs beside other processes and needs shared storage: set storage.postgres (the embedded SQLite stores belong to one process; use role all for a single-process server)", role)
		}
	}
	if s.Postgres == "" {
		if len(s.Kafka) > 0 || s.ClickHouse != "" || s.S3.Bucket != "" {
			return errors.New("config: storage.kafka, storage.clickhouse and storage.s3 need storage.postgres: production backends replace the embedded stores together")
		}
		return nil
	}
	if s.ClickHouse != "" && len(s.Kafka) == 0 {
		return errors.New("config: storage.clickhouse needs storage.kafka: processed events reach ClickHouse through the Kafka topic the snuba role consumes")
	}
	if role == RoleSnuba && (s.ClickHouse == "" || len(s.Kafka) == 0) {
		return errors.New("config: role snuba needs storage.clickhouse and storage.kafka: it moves processed events from Kafka into ClickHouse")
	}
	return nil
}

func (n Notify) validate() error {
	if n.SMTPPort < 0 || n.SMTPPort > 65535 {
		return fmt.Errorf("config: SMTP port %d: want 1-65535", n.SMTPPort)
	}
	if n.SMTPHost != "" && !strings.Contains(n.SMTPFrom, "@") {
		return fmt.Errorf("config: SMTP relay %q needs a sender address (CAIRN_SMTP_FROM)", n.SMTPHost)
	}
	if (n.SMTPUsername == "") != (n.SMTPPassword == "") {
		return errors.New("config: SMTP username and password go together")
	}
	if u := n.GitHubAPIURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return fmt.Errorf("config: GitHub API URL %q: want http(s)://", u)
	}
	return nil
}

// SymbolicatorCacheDir is the symbolicator's cache directory.
func (c Config) SymbolicatorCacheDir() string {
	if c.Symbolicator.CacheDir != "" {
		return c.Symbolicator.CacheDir
	}
	return filepath.Join(c.DataDir, "symbolicator")
}

// ParseSize reads a byte count: "1048576", "512MB", "10GiB", "1.5G"
// (K, M, G, T with or without "B" or "iB", all powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = strings.TrimSpace(t[:n-1])
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("size %q: want bytes, or a number with K, M, G or T (e.g. 512MiB, 10G)", s)
	}
	return int64(f * mult), nil
}

// Load is Default with the file named by CAIRN_CONFIG, then the process
// environment, applied.
func Load() (Config, error) {
	c := Default()
	if path := os.Getenv("CAIRN_CONFIG"); path != "" {
		var err error
		if c, err = FromFile(c, path); err != nil {
			return c, err
		}
	}
	return FromEnv(c, os.Getenv)
}

// QueuePath is the queue database.
func (c Config) QueuePath() string { return filepath.Join(c.DataDir, "queue.db") }

// MetaPath is the metadata database.
func (c Config) MetaPath() string { return filepath.Join(c.DataDir, "meta.db") }

// EventsPath is the events database.
func (c Config) EventsPath() string { return filepath.Join(c.DataDir, "events.db") }

// BlobDir is the blob store's directory.
func (c Config) BlobDir() string { return filepath.Join(c.DataDir, "blobs") }
