package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Storage selects the production backends. Every field is optional: what
// is left empty stays on the embedded default in the data directory.
type Storage struct {
	// Postgres is a PostgreSQL URL ("postgres://cairn@db:5432/cairn"):
	// metadata (organizations, projects, issues, users, the debug-file
	// index) and event bodies live there.
	Postgres string
	// Kafka lists the brokers: the queue from ingest to the workers and
	// the processed-events topic of the snuba role are Kafka topics.
	Kafka []string
	// ClickHouse is the analytics store ("host:9000/database"), written by
	// the snuba role and read by the web interface for counts.
	ClickHouse string
	// S3 keeps blobs (minidumps, attachments, debug files) in a bucket.
	S3 S3
	// Redis ("host:port") keeps the rate-limit counters every ingest
	// process shares.
	Redis string
	// Memcached lists servers ("host:port") caching computed views such as
	// DSN key lookups.
	Memcached []string
}

// S3 configures the S3 blob store; Bucket empty means blobs stay in the
// data directory.
type S3 struct {
	Endpoint, Region, Bucket, Prefix string
	AccessKey, SecretKey             string
	// Insecure selects plain HTTP (a MinIO on the same host).
	Insecure bool
}

// fileConfig is the YAML form of Config; see FromFile.
type fileConfig struct {
	DataDir         string   `yaml:"data_dir"`
	Addr            string   `yaml:"addr"`
	PublicURL       string   `yaml:"public_url"`
	Workers         *int     `yaml:"workers"`
	ShutdownTimeout duration `yaml:"shutdown_timeout"`
	Role            string   `yaml:"role"`
	Storage         struct {
		Postgres   string   `yaml:"postgres"`
		Kafka      []string `yaml:"kafka"`
		ClickHouse string   `yaml:"clickhouse"`
		S3         struct {
			Endpoint  string `yaml:"endpoint"`
			Region    string `yaml:"region"`
			Bucket    string `yaml:"bucket"`
			Prefix    string `yaml:"prefix"`
			AccessKey string `yaml:"access_key"`
			SecretKey string `yaml:"secret_key"`
			Insecure  bool   `yaml:"insecure"`
		} `yaml:"s3"`
		Redis     string   `yaml:"redis"`
		Memcached []string `yaml:"memcached"`
	} `yaml:"storage"`
	Symbolicator struct {
		CacheDir        string `yaml:"cache_dir"`
		CacheSize       string `yaml:"cache_size"`
		Sources         string `yaml:"sources"`
		AllowPrivate    bool   `yaml:"allow_private_sources"`
		AllowFilesystem bool   `yaml:"allow_filesystem_sources"`
		MaxConcurrent   int    `yaml:"max_concurrent"`
	} `yaml:"symbolicator"`
	Notify struct {
		SMTPHost     string   `yaml:"smtp_host"`
		SMTPPort     int      `yaml:"smtp_port"`
		SMTPFrom     string   `yaml:"smtp_from"`
		SMTPUsername string   `yaml:"smtp_username"`
		SMTPPassword string   `yaml:"smtp_password"`
		GitHubToken  string   `yaml:"github_token"`
		GitHubAPIURL string   `yaml:"github_api_url"`
		Backoff      duration `yaml:"backoff"`
		MaxAttempts  int      `yaml:"max_attempts"`
	} `yaml:"notify"`
}

// duration reads "30s", "5m", "1h30m".
type duration struct{ d *time.Duration }

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q: want a duration such as 30s or 5m", n.Line, n.Value)
	}
	d.d = &v
	return nil
}

// FromFile overrides c with the settings a YAML file sets (unknown keys
// are errors, so a misspelt setting is not silently ignored). The
// environment and flags override the file in turn: Load reads the file
// named by CAIRN_CONFIG, and `cairn serve --config FILE` reads it before
// applying its flags. deploy/cairn.yaml documents every setting.
func FromFile(c Config, path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return c, fmt.Errorf("config: %s: %w", path, err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.DataDir, f.DataDir)
	set(&c.Addr, f.Addr)
	set(&c.PublicURL, f.PublicURL)
	set(&c.Role, f.Role)
	if f.Workers != nil {
		c.Workers = *f.Workers
	}
	if f.ShutdownTimeout.d != nil {
		c.ShutdownTimeout = *f.ShutdownTimeout.d
	}
	st := &c.Storage
	set(&st.Postgres, f.Storage.Postgres)
	set(&st.ClickHouse, f.Storage.ClickHouse)
	set(&st.Redis, f.Storage.Redis)
	if len(f.Storage.Kafka) > 0 {
		st.Kafka = f.Storage.Kafka
	}
	if len(f.Storage.Memcached) > 0 {
		st.Memcached = f.Storage.Memcached
	}
	s3 := f.Storage.S3
	if s3.Bucket != "" {
		st.S3 = S3{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, Prefix: s3.Prefix,
			AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Insecure: s3.Insecure}
	}
	sy := &c.Symbolicator
	set(&sy.CacheDir, f.Symbolicator.CacheDir)
	set(&sy.SourcesFile, f.Symbolicator.Sources)
	if f.Symbolicator.CacheSize != "" {
		n, err := ParseSize(f.Symbolicator.CacheSize)
		if err != nil {
			return c, fmt.Errorf("config: %s: symbolicator.cache_size: %w", path, err)
		}
		sy.CacheSize = n
	}
	sy.AllowPrivate = sy.AllowPrivate || f.Symbolicator.AllowPrivate
	sy.AllowFilesystem = sy.AllowFilesystem || f.Symbolicator.AllowFilesystem
	if f.Symbolicator.MaxConcurrent > 0 {
		sy.MaxConcurrent = f.Symbolicator.MaxConcurrent
	}
	n := &c.Notify
	set(&n.SMTPHost, f.Notify.SMTPHost)
	set(&n.SMTPFrom, f.Notify.SMTPFrom)
	set(&n.SMTPUsername, f.Notify.SMTPUsername)
	set(&n.SMTPPassword, f.Notify.SMTPPassword)
	set(&n.GitHubToken, f.Notify.GitHubToken)
	set(&n.GitHubAPIURL, f.Notify.GitHubAPIURL)
	if f.Notify.SMTPPort > 0 {
		n.SMTPPort = f.Notify.SMTPPort
	}
	if f.Notify.Backoff.d != nil {
		n.Backoff = *f.Notify.Backoff.d
	}
	if f.Notify.MaxAttempts > 0 {
		n.MaxAttempts = f.Notify.MaxAttempts
	}
	return c, nil
}
