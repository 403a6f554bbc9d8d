package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
)

// downloadVersion is the format version of downloaded files in the cache.
const downloadVersion = 1

// Config configures a Service.
type Config struct {
	// Cache holds downloads and the caches derived from them. Required.
	Cache *cache.Cache
	// Sources are the configured sources, used when a request names none.
	Sources []sources.Source
	// MaxDownloadSize refuses debug files larger than this (too_large);
	// zero means 4 GiB.
	MaxDownloadSize int64
	// FetchParallel bounds the concurrent downloads of one module lookup;
	// zero means 8.
	FetchParallel int
	// ModuleParallel bounds the modules of one request looked up at once;
	// zero means 8.
	ModuleParallel int
	// BuildParallel bounds the derived caches built at once across all
	// requests (each build holds a debug file's tables in memory); zero
	// means GOMAXPROCS.
	BuildParallel int
	// OpenCaches bounds how many derived caches stay open (mapped) between
	// requests; zero means 1024.
	OpenCaches int
	// Walk tunes the minidump stack walker.
	Walk stackwalk.Options
	// Shared, when set, is a store every symbolicator process shares (S3
	// in the production topology): a derived cache one process built is
	// fetched by the others instead of built again.
	Shared SharedCache
	Logger *slog.Logger
}

// SharedCache keeps derived caches where every symbolicator process finds
// them. Keys are slash-separated [A-Za-z0-9._-] segments.
type SharedCache interface {
	// Get copies the object at key to w; found is false when there is none.
	Get(ctx context.Context, key string, w io.Writer) (found bool, err error)
	// Put stores the bytes of r at key.
	Put(ctx context.Context, key string, r io.Reader) error
}

// Service symbolicates minidumps, stack traces and Apple crash reports
// against debug files found in sources. It is safe for concurrent use;
// concurrent requests needing the same file share one download and one
// build of each derived cache.
type Service struct {
	cfg Config
	// built counts the derived caches this process built itself.
	built  atomic.Int64
	fetch  sources.FetchFunc
	builds chan struct{}
	open   *pool
	log    *slog.Logger
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Cache == nil {
		return nil, errors.New("service: a cache is required")
	}
	if cfg.MaxDownloadSize <= 0 {
		cfg.MaxDownloadSize = 4 << 30
	}
	if cfg.FetchParallel <= 0 {
		cfg.FetchParallel = 8
	}
	if cfg.ModuleParallel <= 0 {
		cfg.ModuleParallel = 8
	}
	if cfg.BuildParallel <= 0 {
		cfg.BuildParallel = runtime.GOMAXPROCS(0)
	}
	if cfg.OpenCaches <= 0 {
		cfg.OpenCaches = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg:    cfg,
		fetch:  sources.CachedFetchLimited(cfg.Cache, downloadVersion, cfg.MaxDownloadSize),
		builds: make(chan struct{}, cfg.BuildParallel),
		open:   newPool(cfg.OpenCaches),
		log:    cfg.Logger,
	}, nil
}

// Built is how many derived caches this process built itself (not found
// in the shared store), for metrics and tests.
func (s *Service) Built() int64 { return s.built.Load() }

// Close releases the derived caches kept open.
func (s *Service) Close() error { return s.open.close() }

// Sources returns the configured sources.
func (s *Service) Sources() []sources.Source { return s.cfg.Sources }

// sourcesOr is the request's sources, or the configured ones when the
// request names none.
func (s *Service) sourcesOr(srcs []sources.Source) []sources.Source {
	if srcs == nil {
		return s.cfg.Sources
	}
	return srcs
}

// ErrBadInput reports a request the service cannot read (a malformed
// minidump or crash report); the API answers it with 400.
var ErrBadInput = errors.New("service: bad input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// since returns the seconds elapsed, for logs.
func since(t time.Time) float64 { return time.Since(t).Seconds() }

// detach keeps a shared build going when the request that started it is
// cancelled: other requests may be waiting for it.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
