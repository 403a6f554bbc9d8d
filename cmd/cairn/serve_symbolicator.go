//go:build !cairncli

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/symbolicator/api"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// symbolicatorServer is a running symbolicator role.
type symbolicatorServer struct {
	URL     string
	http    *http.Server
	api     *api.Server
	svc     *service.Service
	stop    context.CancelFunc
	done    chan error
	timeout time.Duration
}

// cacheCleanupInterval is how often the symbolicator cache drops expired
// negative entries and leftovers.
const cacheCleanupInterval = 10 * time.Minute

// startSymbolicator opens the cache, reads the configured sources and
// serves Sentry Symbolicator's API with Prometheus metrics on /metrics.
func startSymbolicator(ctx context.Context, cfg config.Config, log *slog.Logger) (*symbolicatorServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := cache.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	c, err := cache.New(cache.Config{Dir: cfg.SymbolicatorCacheDir(), MaxBytes: cfg.Symbolicator.CacheSize, Metrics: metrics, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("symbolicator cache: %w", err)
	}
	configured, err := configuredSources(cfg)
	if err != nil {
		return nil, err
	}
	svc, err := service.New(service.Config{Cache: c, Sources: configured, Logger: log})
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Config{Service: svc, Logger: log, Registerer: reg, MaxConcurrent: cfg.Symbolicator.MaxConcurrent,
		SourceOptions: sources.ConfigOptions{AllowPrivate: cfg.Symbolicator.AllowPrivate, AllowFilesystem: cfg.Symbolicator.AllowFilesystem}})
	if err != nil {
		svc.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		srv.Close()
		svc.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", srv)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	go c.Run(bg, cacheCleanupInterval)
	s := &symbolicatorServer{URL: "http://" + ln.Addr().String(), api: srv, svc: svc, stop: stop, done: make(chan error, 1), timeout: cfg.ShutdownTimeout,
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go func() { s.done <- s.http.Serve(ln) }()
	log.Info("symbolicator serving", "addr", s.URL, "cache_dir", cfg.SymbolicatorCacheDir(), "cache_size", cfg.Symbolicator.CacheSize, "sources", len(configured))
	return s, nil
}

// shutdown stops accepting requests, lets the running ones finish within
// the shutdown timeout, then cancels the rest.
func (s *symbolicatorServer) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	herr := s.http.Shutdown(ctx)
	aerr := s.api.Close()
	s.stop()
	return errors.Join(herr, aerr, s.svc.Close())
}

func serveSymbolicator(ctx context.Context, cfg config.Config, out io.Writer, log *slog.Logger) error {
	s, err := startSymbolicator(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `Cairn symbolicator is running; cache in %s

  API:      %s/symbolicate  /minidump  /applecrashreport  /requests/{id}
  Health:   %s/healthcheck
  Metrics:  %s/metrics

Symbolicate a minidump:
  curl -F upload_file_minidump=@crash.dmp -F 'sources=[{"type":"http","id":"ms","url":"https://msdl.microsoft.com/download/symbols/","layout":{"type":"symstore"}}]' %s/minidump
`, cfg.SymbolicatorCacheDir(), s.URL, s.URL, s.URL, s.URL)
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing running requests")
	case err := <-s.done:
		log.Error("http server stopped", "err", err)
	}
	return s.shutdown()
}

// sizeFlag is a byte count flag that reads "512MiB", "10G", ...
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return ""
	}
	return fmt.Sprint(*f.n)
}

func (f sizeFlag) Set(s string) error {
	n, err := config.ParseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

func (sizeFlag) Type() string { return "size" }
