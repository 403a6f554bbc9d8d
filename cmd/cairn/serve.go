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
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/notify"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
	"github.com/cairn-dev/cairn/web/ui"
	"github.com/spf13/cobra"
)

func newServeCommand() *cobra.Command {
	cfg, cfgErr := config.Load()
	var verbose bool
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the all-in-one server: ingest, queue, worker, issues and the API",
		Long: `Run every role of Cairn in one process on embedded storage: the Sentry ingest
endpoints, a durable queue, the worker that groups events into issues, and the
read API. Nothing needs configuring: on first start it creates the data
directory, an organization and a project (both with slug "default") and a DSN
key, and prints the DSN to give to your SDK or crash reporter.

Storage lives in the data directory: SQLite databases (queue.db, meta.db,
events.db, in WAL mode) and blobs/ for minidumps and attachments. An event is
on disk before its client gets a 200, so killing the server loses nothing it
acknowledged; SIGINT or SIGTERM stops it gracefully, finishing the requests and
events in flight.

Endpoints:
  POST /api/{project}/store/ | envelope/ | minidump/ | unreal/{key}/   Sentry ingest
  GET  /api/0/projects/{org}/{project}/issues/                         issues (API token)
  GET  /api/0/issues/{id}/   /api/0/issues/{id}/events/                one issue, its events
  GET  /api/0/projects/{org}/{project}/events/{event_id}/              one event
  GET  /healthz                                                        liveness

The API needs a token: cairn token create --data-dir DIR --org default

With --role symbolicator the process serves Sentry Symbolicator's HTTP API
alone (POST /symbolicate, /minidump, /applecrashreport; GET /requests/{id},
/healthcheck, /metrics), so a Sentry installation or any client of that API
can point at it. Debug files come from the sources each request names, or
from --sources; downloads and converted caches live in --cache-dir, bounded by
--cache-size.

Production: with --config FILE naming storage.postgres (and optionally Kafka,
ClickHouse, S3, Memcached), --role picks one part of the topology, run as many
processes as needed: ingest (the Sentry endpoints, onto the queue), worker
(symbolicate, group, store), snuba (processed events into ClickHouse), web
(API, debug-file uploads, web interface), or all of them in one process. Each
serves /healthz, /readyz (its backends answer) and /metrics (Prometheus). Run
cairn migrate --config FILE once before starting them.

Environment: CAIRN_CONFIG, CAIRN_ROLE, CAIRN_DATA_DIR, CAIRN_ADDR, CAIRN_PUBLIC_URL, CAIRN_WORKERS and
CAIRN_SHUTDOWN_TIMEOUT set the defaults of the flags below.`,
		Example: `  cairn serve
  cairn serve --data-dir /var/lib/cairn --addr 0.0.0.0:8000 --public-url https://crash.example.com
  curl -X POST 'http://127.0.0.1:8000/api/1/store/?sentry_key=KEY&sentry_version=7' -d '{"message":"hello"}'
  cairn serve --role symbolicator --addr 0.0.0.0:3021 --cache-size 20GiB --sources sources.json
  cairn serve --config /etc/cairn/cairn.yaml --role ingest --addr 0.0.0.0:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath != "" {
				cfgErr = configFile(cmd, &cfg, configPath, serveFlagNames)
			}
			if cfgErr != nil {
				return cfgErr
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if err := cfg.Validate(); err != nil {
				return err
			}
			switch {
			case cfg.Role == config.RoleSymbolicator:
				return serveSymbolicator(cmd.Context(), cfg, cmd.OutOrStdout(), log)
			case cfg.Production():
				return serveRole(cmd.Context(), cfg, cmd.OutOrStdout(), log)
			}
			return serve(cmd.Context(), cfg, cmd.OutOrStdout(), log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory holding the databases and blobs (created if missing; $CAIRN_DATA_DIR)")
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "HOST:PORT to listen on; port 0 picks a free one ($CAIRN_ADDR)")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "URL clients reach the server at, for DSNs and links (default http://<addr>; $CAIRN_PUBLIC_URL)")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "events processed at once (default one per CPU; $CAIRN_WORKERS)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long a graceful stop may drain in-flight work ($CAIRN_SHUTDOWN_TIMEOUT)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every batch the worker handles")
	f.StringVar(&cfg.Role, "role", cfg.Role, "what to run: all (every role in one process), ingest, worker, snuba or web (production storage from --config), or symbolicator (Sentry Symbolicator's API alone) ($CAIRN_ROLE)")
	f.StringVar(&configPath, "config", "", "YAML configuration file (see deploy/cairn.yaml); flags given beside it win ($CAIRN_CONFIG)")
	sf := &cfg.Symbolicator
	f.StringVar(&sf.CacheDir, "cache-dir", sf.CacheDir, "symbolicator cache of downloaded and converted debug files (default <data-dir>/symbolicator; $CAIRN_SYMBOLICATOR_CACHE_DIR)")
	f.Var(sizeFlag{&sf.CacheSize}, "cache-size", "bound of the symbolicator cache, e.g. 10GiB; least recently used files go first (default unbounded; $CAIRN_SYMBOLICATOR_CACHE_SIZE)")
	f.StringVar(&sf.SourcesFile, "sources", sf.SourcesFile, "JSON file of symbol sources in Sentry Symbolicator's format, for requests that name none ($CAIRN_SYMBOLICATOR_SOURCES)")
	f.BoolVar(&sf.AllowPrivate, "allow-private-sources", sf.AllowPrivate, "let sources sent with a request reach loopback and private addresses (off: SSRF guard)")
	f.BoolVar(&sf.AllowFilesystem, "allow-filesystem-sources", sf.AllowFilesystem, "let sources sent with a request read this machine's files")
	f.IntVar(&sf.MaxConcurrent, "max-concurrent", sf.MaxConcurrent, "symbolication requests processed at once; more get 503 (default 4 per CPU)")
	return cmd
}

// serveFlagNames are the serve flags bound to the configuration, which
// --config must not override when given on the command line.
var serveFlagNames = []string{"data-dir", "addr", "public-url", "workers", "shutdown-timeout", "role",
	"cache-dir", "cache-size", "sources", "allow-private-sources", "allow-filesystem-sources", "max-concurrent"}

// stores are the embedded backends of one data directory.
type stores struct {
	blobs  *fsblob.Store
	queue  *sqlite.Queue
	meta   *sqlite.Meta
	events *sqlite.Events
}

func openStores(ctx context.Context, cfg config.Config) (*stores, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &stores{}
	var err error
	if s.blobs, err = fsblob.Open(cfg.BlobDir()); err != nil {
		return nil, err
	}
	if s.meta, err = sqlite.OpenMeta(ctx, cfg.MetaPath()); err != nil {
		return nil, err
	}
	if s.events, err = sqlite.OpenEvents(ctx, cfg.EventsPath()); err != nil {
		s.close()
		return nil, err
	}
	if s.queue, err = sqlite.OpenQueue(ctx, cfg.QueuePath(), queue.Options{}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *stores) close() error {
	var errs []error
	if s.queue != nil {
		errs = append(errs, s.queue.Close())
	}
	if s.events != nil {
		errs = append(errs, s.events.Close())
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	return errors.Join(errs...)
}

// server is a running all-in-one server.
type server struct {
	URL string // base URL, http://host:port
	DSN string
	// Key and ProjectID are the default project's DSN key and id.
	Key       string
	ProjectID int64

	stores *stores
	native *nativeSymbolication
	http   *http.Server
	sink   *issues.Sink
	worker *issues.Worker
	notify *notify.Service

	stopWorker context.CancelFunc
	workerDone chan struct{}
	serveDone  chan error
	log        *slog.Logger
	timeout    time.Duration
}

// startServer opens the data directory, makes sure the default
// organization, project and key exist, and starts every role (withWorker
// false leaves the queue unconsumed: benchmarks measure ingest alone).
func startServer(ctx context.Context, cfg config.Config, log *slog.Logger, withWorker bool) (*server, error) {
	st, err := openStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, proj, key, err := web.EnsureDefaults(ctx, st.meta)
	if err != nil {
		st.close()
		return nil, err
	}
	if n, err := st.queue.ReleaseLeases(ctx); err != nil {
		st.close()
		return nil, err
	} else if n > 0 {
		log.Info("resuming events a previous run was processing when it stopped", "events", n)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	s := &server{URL: "http://" + ln.Addr().String(), DSN: web.DSN(base, key.Public, proj.ID),
		Key: key.Public, ProjectID: proj.ID, stores: st, log: log,
		workerDone: make(chan struct{}), serveDone: make(chan error, 1), timeout: cfg.ShutdownTimeout}

	if s.native, err = newNativeSymbolication(ctx, st.blobs, st.meta, cfg, proj.ID, nil, log); err != nil {
		ln.Close()
		st.close()
		return nil, err
	}
	proc := &issues.Processor{Blobs: st.blobs, Symbolicator: s.native.sym}
	n := cfg.Notify
	s.notify = notify.New(st.meta, notify.Options{PublicURL: base, Events: st.events, Log: log, Backoff: n.Backoff, MaxAttempts: n.MaxAttempts,
		SMTP:   notify.SMTP{Host: n.SMTPHost, Port: n.SMTPPort, From: n.SMTPFrom, Username: n.SMTPUsername, Password: n.SMTPPassword},
		GitHub: notify.GitHub{Token: n.GitHubToken, APIURL: n.GitHubAPIURL}})
	s.worker = issues.NewWorker(st.queue, st.meta, st.events, proc, issues.WorkerOptions{Concurrency: cfg.Workers, Log: log, OnIssue: s.notify.OnIssue})
	s.sink = issues.NewSink(st.blobs, st.queue, issues.SinkOptions{OnCommit: s.worker.Wake, Log: log})
	keys := web.NewKeyStore(st.meta, memcache.New(10_000), 30*time.Second)

	mux := http.NewServeMux()
	api := web.NewAPI(st.meta, st.events, base, log)
	// Debug-file uploads (sentry-cli, cairn upload, symupload); assembly
	// temporaries live in the data directory, on the blobs' file system.
	// Each stored file's caches are built in the background, before the
	// first crash needs them.
	api.EnableDebugFiles(context.WithoutCancel(ctx), web.DebugFileConfig{Blobs: st.blobs, Index: st.meta, Tokens: st.meta, TempDir: cfg.DataDir,
		OnStored: s.native.prepare})
	api.EnableReleases(web.ReleaseConfig{Store: st.meta, Commits: s.notify, IsRepo: notify.IsRepo})
	mux.Handle("/api/0/", api)
	mux.Handle("/api/", ingest.NewHandler(ingest.DefaultConfig(), keys, s.sink, log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	// The web interface takes every other path; Secure cookies follow the
	// public URL, since TLS usually ends at a proxy in front of the server.
	pages, err := ui.New(ui.Config{Meta: st.meta, Events: st.events, Blobs: st.blobs, Log: log, SecureCookies: strings.HasPrefix(base, "https://"), Notifier: s.notify,
		BaseURL: base, Keys: keys})
	if err != nil {
		ln.Close()
		s.native.close()
		st.close()
		return nil, err
	}
	mux.Handle("/", pages)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWorker = stop
	go func() {
		defer close(s.workerDone)
		if withWorker {
			var wg sync.WaitGroup
			wg.Go(func() { s.notify.Run(wctx) })
			s.worker.Run(wctx)
			wg.Wait()
		}
	}()
	go func() { s.serveDone <- s.http.Serve(ln) }()
	return s, nil
}

// shutdown stops accepting requests, lets the in-flight ones finish (each
// waits for its event's commit), flushes the sink, lets the worker finish
// the batches it holds, and closes the stores.
func (s *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	herr := s.http.Shutdown(ctx)
	s.sink.Close()
	s.stopWorker()
	select {
	case <-s.workerDone:
	case <-ctx.Done():
		s.log.Warn("worker still busy at the shutdown deadline; its batch will be redelivered")
	}
	return errors.Join(herr, s.native.close(), s.stores.close())
}

func serve(ctx context.Context, cfg config.Config, out io.Writer, log *slog.Logger) error {
	s, err := startServer(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `Cairn is running; data in %s

  DSN:  %s
  API:  %s/api/0/

Send an event:   curl -X POST '%s/api/%d/store/?sentry_key=%s&sentry_version=7' -d '{"message":"hello"}'
Get an API token: cairn token create --data-dir %s --org default
List issues:     curl -H "Authorization: Bearer $TOKEN" %s/api/0/projects/default/default/issues/
`, cfg.DataDir, s.DSN, s.URL, s.URL, s.ProjectID, s.Key, cfg.DataDir, s.URL)
	log.Info("serving", "addr", s.URL, "data_dir", cfg.DataDir)
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests and events")
	case err := <-s.serveDone:
		log.Error("http server stopped", "err", err)
	}
	if err := s.shutdown(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
