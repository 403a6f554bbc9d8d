package sources

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures a bucket source on S3 or an S3-compatible server.
type S3Config struct {
	ID      string
	Bucket  string
	Prefix  string
	Layout  DirectoryLayout
	Filters Filters
	// Endpoint is host[:port]; empty means AWS ("s3.amazonaws.com").
	Endpoint string
	Region   string
	// Insecure selects plain HTTP (test servers).
	Insecure bool
	// AccessKey and SecretKey are static credentials; empty means the
	// usual AWS environment and instance credentials chain.
	AccessKey, SecretKey string
	// AllowPrivate lets the client reach loopback, private and link-local
	// addresses (a MinIO next to Cairn); off by default so request-supplied
	// endpoints cannot probe the internal network.
	AllowPrivate bool
}

// S3 is a bucket of debug files.
type S3 struct {
	cfg    S3Config
	client *minio.Client
}

// NewS3 returns an S3 source. No request is made until Fetch.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "s3.amazonaws.com"
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("sources: %s: s3 transport: %w", cfg.ID, err)
	}
	// As for HTTP sources: no proxy, and every dialled address checked.
	tr.Proxy = nil
	tr.DialContext = NewDialer(cfg.AllowPrivate).DialContext
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, Transport: tr})
	if err != nil {
		return nil, fmt.Errorf("sources: %s: s3 client: %w", cfg.ID, err)
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	return &S3{cfg: cfg, client: c}, nil
}

// GCSConfig configures a Google Cloud Storage bucket reached through its S3
// interoperability API with HMAC keys.
type GCSConfig struct {
	ID                   string
	Bucket               string
	Prefix               string
	Layout               DirectoryLayout
	Filters              Filters
	AccessKey, SecretKey string
	// AllowPrivate is S3Config.AllowPrivate.
	AllowPrivate bool
}

// NewGCS returns a GCS source: an S3 source pointed at
// storage.googleapis.com, which accepts SigV4 requests signed with HMAC keys.
func NewGCS(cfg GCSConfig) (*S3, error) {
	return NewS3(S3Config{
		ID: cfg.ID, Bucket: cfg.Bucket, Prefix: cfg.Prefix, Layout: cfg.Layout, Filters: cfg.Filters,
		Endpoint: "storage.googleapis.com", Region: "auto", AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey,
		AllowPrivate: cfg.AllowPrivate,
	})
}

// ID implements Source.
func (s *S3) ID() string { return s.cfg.ID }

// Candidates implements Source.
func (s *S3) Candidates(_ context.Context, id FileID, types []FileType) []Location {
	return layoutCandidates(s.cfg.ID, s.cfg.Layout, s.cfg.Filters, s.cfg.Prefix, id, types)
}

// Fetch implements Source.
func (s *S3) Fetch(ctx context.Context, loc Location, w io.Writer) error {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, loc.Path, minio.GetObjectOptions{})
	if err != nil {
		return s.wrap(loc, err)
	}
	defer obj.Close()
	// GetObject is lazy: errors such as NoSuchKey surface on first read.
	if _, err := io.Copy(w, obj); err != nil {
		return s.wrap(loc, err)
	}
	return nil
}

func (s *S3) wrap(loc Location, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return fmt.Errorf("sources: %s: %s: %w", s.cfg.ID, loc.Path, ErrNotFound)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("sources: %s: %s: %w: %v", s.cfg.ID, loc.Path, ErrDenied, err)
	}
	return fmt.Errorf("sources: %s: get %s: %w", s.cfg.ID, loc.Path, err)
}
