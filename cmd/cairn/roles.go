//go:build !cairncli

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/notify"
	"github.com/cairn-dev/cairn/snuba"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/redis"
	"github.com/cairn-dev/cairn/storage/viewcache"
	symcache "github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/web"
	"github.com/cairn-dev/cairn/web/ui"
)

// roleServer is one process of the production topology running its role
// (or every role, for "all") on the configured backends.
type roleServer struct {
	URL  string
	role string

	b          *backends
	http       *http.Server
	sink       *issues.Sink
	native     *nativeSymbolication
	debugFiles *web.DebugFiles
	stopBg     context.CancelFunc
	bg         sync.WaitGroup
	serveDone  chan error
	log        *slog.Logger
	timeout    time.Duration
	// dsn is the default project's DSN, when this role knows it.
	dsn string
}

func (s *roleServer) runs(role string) bool { return s.role == role || s.role == config.RoleAll }

// startRole opens the backends cfg.Role needs and starts only what it
// runs; every role serves /healthz, /readyz and /metrics.
func startRole(ctx context.Context, cfg config.Config, log *slog.Logger) (*roleServer, error) {
	b, err := openBackends(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Role, err)
	}
	s := &roleServer{role: cfg.Role, b: b, log: log.With("role", cfg.Role), timeout: cfg.ShutdownTimeout, serveDone: make(chan error, 1)}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	base := cfg.PublicURL
	if base == "" {
		base = s.URL
	}
	mux, err := s.wire(ctx, cfg, base)
	if err != nil {
		ln.Close()
		s.stop()
		return nil, err
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { s.serveDone <- s.http.Serve(ln) }()
	return s, nil
}

// wire builds the role's handlers and starts its background loops.
func (s *roleServer) wire(ctx context.Context, cfg config.Config, base string) (*http.ServeMux, error) {
	b := s.b
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBg = stop
	run := func(f func(context.Context)) {
		s.bg.Add(1)
		go func() { defer s.bg.Done(); f(bg) }()
	}

	// Notifications and release commits need alert storage, which not
	// every metadata store has yet.
	var notifier *notify.Service
	if s.runs(config.RoleWorker) || s.runs(config.RoleWeb) {
		if ns, ok := b.meta.(notify.Store); ok {
			n := cfg.Notify
			notifier = notify.New(ns, notify.Options{PublicURL: base, Events: b.events, Log: s.log, Backoff: n.Backoff, MaxAttempts: n.MaxAttempts,
				SMTP:   notify.SMTP{Host: n.SMTPHost, Port: n.SMTPPort, From: n.SMTPFrom, Username: n.SMTPUsername, Password: n.SMTPPassword},
				GitHub: notify.GitHub{Token: n.GitHubToken, APIURL: n.GitHubAPIURL}})
		} else {
			s.log.Warn("the metadata store keeps no alert rules: notifications and release commits are off")
		}
	}

	var worker *issues.Worker
	if s.runs(config.RoleWorker) {
		index, ok := b.meta.(debugFileIndex)
		if !ok {
			return nil, errors.New("worker: the metadata store has no debug-file index")
		}
		cm, err := symcache.NewMetrics(reg)
		if err != nil {
			return nil, err
		}
		if s.native, err = newNativeSymbolication(ctx, b.blobs, index, cfg, defaultProjectID(ctx, b.meta), cm, s.log); err != nil {
			return nil, err
		}
		processed := prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_worker_events_processed_total",
			Help: "Events the workers finished (acknowledged to the queue)."})
		reg.MustRegister(processed)
		registerQueueStats(reg, "ingested", b.ingested)
		var evs events.Store = b.events
		if b.processed != nil {
			evs = &snuba.Publisher{Store: b.events, Queue: b.processed}
		}
		opts := issues.WorkerOptions{Concurrency: cfg.Workers, Log: s.log}
		if notifier != nil {
			opts.OnIssue = notifier.OnIssue
			run(func(ctx context.Context) { notifier.Run(ctx) })
		}
		q := queue.Queue(countingQueue{Queue: b.ingested, acked: processed})
		if b.metaPing != nil {
			q = gatedQueue{Queue: q, ready: b.metaPing}
		}
		worker = issues.NewWorker(q, b.meta, evs,
			&issues.Processor{Blobs: b.blobs, Symbolicator: s.native.sym}, opts)
		run(func(ctx context.Context) { worker.Run(ctx) })
	}

	if s.runs(config.RoleSnuba) {
		sizes := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cairn_snuba_batch_events",
			Help: "Events per batch written to the analytics store.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)})
		durations := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cairn_snuba_batch_seconds",
			Help: "Time the analytics store took to store one batch.", Buckets: prometheus.ExponentialBuckets(0.005, 3, 9)})
		reg.MustRegister(sizes, durations)
		registerQueueStats(reg, "processed", b.processedIn)
		w := &snuba.Writer{Queue: b.processedIn, Store: b.analytics, Log: s.log, OnBatch: func(n int, d time.Duration) {
			sizes.Observe(float64(n))
			durations.Observe(d.Seconds())
		}}
		run(func(ctx context.Context) { w.Run(ctx) })
	}

	var keys *web.KeyStore
	if s.runs(config.RoleIngest) || s.runs(config.RoleWeb) {
		keys = web.NewKeyStore(b.meta, b.keyCache, 30*time.Second)
	}
	if s.runs(config.RoleIngest) {
		opts := issues.SinkOptions{Log: s.log}
		if worker != nil {
			opts.OnCommit = worker.Wake
		}
		s.sink = issues.NewSink(b.blobs, b.ingested, opts)
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cairn_ingest_events_committed_total",
			Help: "Events ingest committed to the queue."}, func() float64 { return float64(s.sink.Stats().Events) }))
		icfg := ingest.DefaultConfig()
		if cfg.Storage.Redis != "" {
			// Every ingest process takes from the same allowance.
			var closeRedis func() error
			icfg.SharedLimiter, closeRedis = openRedisLimiter(cfg.Storage.Redis)
			s.b.closers = append(s.b.closers, closeRedis)
		}
		mux.Handle("/api/", ingest.NewHandler(icfg, keys, s.sink, s.log))
	}

	if s.runs(config.RoleWeb) {
		if err := s.wireWeb(ctx, bg, cfg, base, mux, keys, notifier, reg); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// viewTTL bounds how stale the newest bar of a cached histogram may be.
const viewTTL = 30 * time.Second

// wireWeb mounts the API, debug-file uploads, releases and (when the
// metadata store can hold accounts) the web interface.
func (s *roleServer) wireWeb(ctx, bg context.Context, cfg config.Config, base string, mux *http.ServeMux, keys *web.KeyStore, notifier *notify.Service, reg prometheus.Registerer) error {
	b := s.b
	_, proj, key, err := web.EnsureDefaults(ctx, b.meta)
	if err != nil {
		// Another process created them at the same moment: the unique
		// slugs refused ours, and a second look finds theirs.
		if _, proj, key, err = web.EnsureDefaults(ctx, b.meta); err != nil {
			return err
		}
	}
	s.dsn = web.DSN(base, key.Public, proj.ID)
	var evs events.Store = b.events
	if b.analytics != nil {
		evs = snuba.Reader{Store: b.events, Analytics: b.analytics}
	}
	if len(cfg.Storage.Memcached) > 0 || cfg.Storage.Redis != "" {
		// Histograms (the analytics store's query results, in Redis) and
		// sparklines (the issue list's views, in Memcached) are computed
		// once per TTL for every web process.
		var stats viewcache.Stats
		o := viewcache.Options{TTL: viewTTL, Stats: &stats}
		if len(cfg.Storage.Memcached) > 0 {
			o.Sparklines = b.keyCache
		}
		if cfg.Storage.Redis != "" {
			rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Storage.Redis})
			s.b.closers = append(s.b.closers, rdb.Close)
			o.Histograms = redis.NewCache(rdb, "cairn:query:")
		}
		evs = viewcache.Wrap(evs, o)
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cairn_view_cache_hits_total",
				Help: "Histogram and sparkline views served from the shared cache."}, func() float64 { return float64(stats.Hits.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cairn_view_cache_misses_total",
				Help: "Histogram and sparkline views computed by the event store."}, func() float64 { return float64(stats.Misses.Load()) }))
	}
	api := web.NewAPI(b.meta, evs, base, s.log)
	if index, ok := b.meta.(meta.DebugFiles); ok {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		tokens, _ := b.meta.(meta.TokenProjects)
		dc := web.DebugFileConfig{Blobs: b.blobs, Index: index, Tokens: tokens, TempDir: cfg.DataDir}
		if s.native != nil {
			dc.OnStored = s.native.prepare
		}
		s.debugFiles = api.EnableDebugFiles(bg, dc)
	}
	if rs, ok := b.meta.(meta.Releases); ok {
		rc := web.ReleaseConfig{Store: rs, IsRepo: notify.IsRepo}
		if notifier != nil {
			rc.Commits = notifier
		}
		api.EnableReleases(rc)
	}
	mux.Handle("/api/0/", api)
	us, ok := b.meta.(ui.Store)
	if !ok {
		s.log.Warn("the metadata store keeps no user accounts yet: serving the API without the web interface")
		return nil
	}
	uc := ui.Config{Meta: us, Events: evs, Blobs: b.blobs, Log: s.log, SecureCookies: strings.HasPrefix(base, "https://"), BaseURL: base, Keys: keys}
	if notifier != nil {
		uc.Notifier = notifier
	}
	pages, err := ui.New(uc)
	if err != nil {
		return err
	}
	mux.Handle("/", pages)
	return nil
}

// readyz answers 200 when every backend of the role answers, 503 naming
// the ones that do not.
func (s *roleServer) readyz(w http.ResponseWriter, r *http.Request) {
	failed := s.b.ready(r.Context(), 3*time.Second)
	if len(failed) == 0 {
		io.WriteString(w, "ok\n")
		return
	}
	msgs := map[string]string{}
	for name, err := range failed {
		msgs[name] = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(map[string]any{"unavailable": msgs})
}

// stop ends the background loops and closes what the role owns; the
// HTTP server is already stopped.
func (s *roleServer) stop() error {
	if s.sink != nil {
		s.sink.Close()
	}
	if s.stopBg != nil {
		s.stopBg()
	}
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.timeout):
		s.log.Warn("background work still busy at the shutdown deadline; unacknowledged messages will be redelivered")
	}
	if s.debugFiles != nil {
		s.debugFiles.Wait()
	}
	var errs []error
	if s.native != nil {
		errs = append(errs, s.native.close())
	}
	return errors.Join(append(errs, s.b.close())...)
}

// shutdown stops accepting requests, lets the running ones finish, then
// stops the role.
func (s *roleServer) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	herr := s.http.Shutdown(ctx)
	return errors.Join(herr, s.stop())
}

// serveRole runs a production role until ctx ends.
func serveRole(ctx context.Context, cfg config.Config, out io.Writer, log *slog.Logger) error {
	s, err := startRole(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Cairn %s is running at %s (health: /healthz, readiness: /readyz, metrics: /metrics)\n", cfg.Role, s.URL)
	if s.dsn != "" {
		fmt.Fprintf(out, "  DSN: %s\n", s.dsn)
	}
	s.log.Info("serving", "addr", s.URL)
	select {
	case <-ctx.Done():
		s.log.Info("shutting down: draining in-flight requests and events")
	case err := <-s.serveDone:
		s.log.Error("http server stopped", "err", err)
	}
	if err := s.shutdown(); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// defaultProjectID is the default project's id, for events whose context
// names no project; 0 when `cairn migrate` or the web role has not made
// it yet. It never creates it: that is one process's job.
func defaultProjectID(ctx context.Context, m meta.Store) int64 {
	org, err := m.OrgBySlug(ctx, web.DefaultSlug)
	if err != nil {
		return 0
	}
	p, err := m.ProjectBySlug(ctx, org.ID, web.DefaultSlug)
	if err != nil {
		return 0
	}
	return p.ID
}

// registerQueueStats exports a consumer queue's backlog. The gauges are
// read at scrape time, so a slow broker slows the scrape, not the role.
func registerQueueStats(reg prometheus.Registerer, name string, q queue.Queue) {
	read := func(pick func(queue.Stats) int) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			st, err := q.Stats(ctx)
			if err != nil {
				return -1
			}
			return float64(pick(st))
		}
	}
	labels := prometheus.Labels{"queue": name}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_queue_ready_messages", Help: "Messages waiting for a consumer (lag); -1 when the queue does not answer.", ConstLabels: labels},
			read(func(s queue.Stats) int { return s.Ready })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_queue_leased_messages", Help: "Messages this process is working on.", ConstLabels: labels},
			read(func(s queue.Stats) int { return s.Leased })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_queue_dead_messages", Help: "Messages that exhausted their attempts.", ConstLabels: labels},
			read(func(s queue.Stats) int { return s.Dead })),
	)
}

// countingQueue counts the workers' acknowledged messages for
// cairn_worker_events_processed_total; issues.Worker keeps no counters.
type countingQueue struct {
	queue.Queue
	acked prometheus.Counter
}

// Ack implements queue.Queue.
func (q countingQueue) Ack(ctx context.Context, ds []queue.Delivery) error {
	err := q.Queue.Ack(ctx, ds)
	if err == nil || errors.Is(err, queue.ErrLeaseLost) {
		q.acked.Add(float64(len(ds)))
	}
	return err
}

// gatedQueue leases nothing while the database does not answer. Every
// delivery the worker fails costs its message one of its attempts
// (queue.Options.MaxAttempts), so a worker leasing from Kafka through a
// PostgreSQL outage would fail each batch it took and dead-letter
// acknowledged events once the outage outlasted the retry backoffs
// (about 15 s by default). Held back, the messages wait in the topic and
// the worker's loop asks again after its idle wait.
type gatedQueue struct {
	queue.Queue
	ready func(context.Context) error
}

// Lease implements queue.Queue.
func (q gatedQueue) Lease(ctx context.Context, n int, lease time.Duration) ([]queue.Delivery, error) {
	if err := q.ready(ctx); err != nil {
		return nil, fmt.Errorf("worker: not leasing while PostgreSQL does not answer: %w", err)
	}
	return q.Queue.Lease(ctx, n, lease)
}

// configFile applies --config: the file over the defaults, the
// environment over the file, and the flags given on the command line over
// both. The flags are bound to cfg's fields when the command is built, so
// the explicitly set ones are read back and set again on the new values.
// names lists the command's flags that are bound to cfg.
func configFile(cmd *cobra.Command, cfg *config.Config, path string, names []string) error {
	c, err := config.FromFile(config.Default(), path)
	if err != nil {
		return err
	}
	if c, err = config.FromEnv(c, os.Getenv); err != nil {
		return err
	}
	set := map[string]string{}
	for _, name := range names {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			set[name] = f.Value.String()
		}
	}
	*cfg = c
	for name, v := range set {
		if err := cmd.Flags().Set(name, v); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}
