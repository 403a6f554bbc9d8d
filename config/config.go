package config

import (
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
	// Role is what the process runs: RoleAll (every role on embedded
	// storage) or RoleSymbolicator (the symbolicator's HTTP API alone).
	Role string
	// Symbolicator configures the symbolicator.
	Symbolicator Symbolicator
}

// Roles.
const (
	RoleAll          = "all"
	RoleSymbolicator = "symbolicator"
)

// Roles lists the roles in the order --help shows them.
var Roles = []string{RoleAll, RoleSymbolicator}

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
	"CAIRN_ROLE":                    "role to run: all or symbolicator",
	"CAIRN_SYMBOLICATOR_CACHE_DIR":  "symbolicator cache directory",
	"CAIRN_SYMBOLICATOR_CACHE_SIZE": "symbolicator cache limit, e.g. 10GiB",
	"CAIRN_SYMBOLICATOR_SOURCES":    "JSON file of symbol sources",
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
	return c, nil
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	if !slices.Contains(Roles, c.Role) {
		return fmt.Errorf("config: role %q: want one of %s", c.Role, strings.Join(Roles, ", "))
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

// Load is Default with the process environment applied.
func Load() (Config, error) { return FromEnv(Default(), os.Getenv) }

// QueuePath is the queue database.
func (c Config) QueuePath() string { return filepath.Join(c.DataDir, "queue.db") }

// MetaPath is the metadata database.
func (c Config) MetaPath() string { return filepath.Join(c.DataDir, "meta.db") }

// EventsPath is the events database.
func (c Config) EventsPath() string { return filepath.Join(c.DataDir, "events.db") }

// BlobDir is the blob store's directory.
func (c Config) BlobDir() string { return filepath.Join(c.DataDir, "blobs") }
