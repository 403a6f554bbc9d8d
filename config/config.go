package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
}

// Default is the zero-config setup: ./cairn-data, loopback port 8000.
func Default() Config {
	return Config{DataDir: "cairn-data", Addr: "127.0.0.1:8000", ShutdownTimeout: 30 * time.Second}
}

// Env names the variables FromEnv reads.
var Env = map[string]string{
	"CAIRN_DATA_DIR":         "data directory",
	"CAIRN_ADDR":             "listen address",
	"CAIRN_PUBLIC_URL":       "URL clients use to reach the server",
	"CAIRN_WORKERS":          "events processed at once",
	"CAIRN_SHUTDOWN_TIMEOUT": "drain time on shutdown, e.g. 30s",
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
	return c, nil
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
