package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// Defaults of Config's zero values.
const (
	defaultMaxUploadBytes = 100 << 20
	defaultResultTTL      = 10 * time.Minute
	defaultMaxProcessing  = 15 * time.Minute
)

// retryAfterPending is the "retry_after" of a pending answer, in seconds,
// as Symbolicator sends it; Sentry polls again after it.
const retryAfterPending = 30

// retryAfterBusy is the Retry-After of a 503, in seconds: a slot usually
// frees within seconds, and a short hint keeps clients from idling.
const retryAfterBusy = "5"

// maxFieldBytes bounds a multipart form field (sources, options) and the
// form's overhead beyond the file part, so a request cannot make the
// server buffer an unbounded field in memory.
const maxFieldBytes = 4 << 20

// Config configures the API server.
type Config struct {
	// Service does the symbolication. Required.
	Service *service.Service
	// SourceOptions are the options for sources a request supplies (SSRF
	// guard, filesystem permission).
	SourceOptions sources.ConfigOptions
	// MaxConcurrent bounds the requests being processed at once; beyond it
	// the server answers 503 (Symbolicator's behaviour). Zero means
	// 4 × GOMAXPROCS.
	MaxConcurrent int
	// MaxUploadBytes bounds a minidump or crash report upload (default
	// 100 MiB) and a /symbolicate body; larger → 413 with a reason.
	MaxUploadBytes int64
	// ResultTTL is how long a finished result waits to be fetched by
	// /requests/{id} (default 10 min).
	ResultTTL time.Duration
	// MaxProcessing bounds one request's processing time (default 15
	// min); a request past it fails with a timeout message.
	MaxProcessing time.Duration
	// Logger receives one line per job; nil discards them.
	Logger *slog.Logger
	// Registerer receives the API's Prometheus metrics (requests by
	// endpoint and outcome, durations, running jobs, 503s); nil disables
	// them.
	Registerer prometheus.Registerer
}

// Server serves a service.Service with Sentry Symbolicator's HTTP API.
// Every symbolication request becomes a job that outlives its HTTP
// request once it has been answered "pending"; the jobs' results wait in
// the server until fetched or expired. A Server is safe for concurrent
// use and owns the goroutines of its jobs until Close.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	jobs    *jobs
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("api: a service is required")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = defaultMaxUploadBytes
	}
	if cfg.ResultTTL <= 0 {
		cfg.ResultTTL = defaultResultTTL
	}
	if cfg.MaxProcessing <= 0 {
		cfg.MaxProcessing = defaultMaxProcessing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: m}
	s.jobs = newJobs(cfg, cfg.Logger, m)
	return s, nil
}

// Close cancels running jobs and waits for them; their waiting clients
// are answered that the server shut down. The Service is the caller's
// and stays open.
func (s *Server) Close() error {
	s.jobs.close()
	return nil
}

// Endpoint names, as metrics and logs label them.
const (
	epSymbolicate = "symbolicate"
	epMinidump    = "minidump"
	epApple       = "applecrashreport"
	epRequests    = "requests"
	epHealth      = "healthcheck"
	epOther       = "other"
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	endpoint, outcome := s.route(w, r)
	s.metrics.request(endpoint, outcome, time.Since(start))
}

// route dispatches a request and returns its endpoint and outcome for
// the metrics.
func (s *Server) route(w http.ResponseWriter, r *http.Request) (endpoint, outcome string) {
	p := r.URL.Path
	switch {
	case p == "/symbolicate":
		if !allow(w, r, http.MethodPost) {
			return epSymbolicate, outcomeBadMethod
		}
		return epSymbolicate, s.symbolicate(w, r)
	case p == "/minidump":
		if !allow(w, r, http.MethodPost) {
			return epMinidump, outcomeBadMethod
		}
		return epMinidump, s.minidump(w, r)
	case p == "/applecrashreport":
		if !allow(w, r, http.MethodPost) {
			return epApple, outcomeBadMethod
		}
		return epApple, s.appleCrashReport(w, r)
	case p == "/healthcheck":
		if !allow(w, r, http.MethodGet, http.MethodHead) {
			return epHealth, outcomeBadMethod
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.WriteString(w, "ok")
		}
		return epHealth, outcomeOK
	case strings.HasPrefix(p, "/requests/"):
		id := strings.TrimPrefix(p, "/requests/")
		if id == "" || strings.Contains(id, "/") {
			break
		}
		if !allow(w, r, http.MethodGet) {
			return epRequests, outcomeBadMethod
		}
		return epRequests, s.request(w, r, id)
	}
	writeFailed(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s; the endpoints are POST /symbolicate, POST /minidump, POST /applecrashreport, GET /requests/{id} and GET /healthcheck", r.Method, p))
	return epOther, outcomeNotFound
}

// allow answers 405 with Allow when the method is not one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	list := strings.Join(methods, ", ")
	w.Header().Set("Allow", list)
	writeFailed(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, list))
	return false
}

// Request outcomes, as the requests metric labels them. Job outcomes
// (completed, pending, failed) are the "status" of the answer.
const (
	outcomeOK         = "ok"
	outcomeCompleted  = "completed"
	outcomePending    = "pending"
	outcomeFailed     = "failed"
	outcomeBadRequest = "bad_request"
	outcomeTooLarge   = "too_large"
	outcomeBusy       = "overloaded"
	outcomeNotFound   = "not_found"
	outcomeBadMethod  = "method_not_allowed"
	outcomeGone       = "client_gone"
	outcomeInternal   = "internal_error"
)

// failedBody is Symbolicator's answer for a failed or refused request.
type failedBody struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// pendingBody is Symbolicator's answer for a job still running.
type pendingBody struct {
	Status     string `json:"status"`
	RequestID  string `json:"request_id"`
	RetryAfter int    `json:"retry_after"`
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

func writeFailed(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, failedJSON(msg))
}

// failedJSON cannot fail to marshal: it is two strings.
func failedJSON(msg string) []byte {
	b, _ := json.Marshal(failedBody{Status: "failed", Message: msg})
	return b
}

// requestError is a request the server cannot read, with the status to
// answer it with.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeRequestError answers err and returns the request's outcome.
func writeRequestError(w http.ResponseWriter, err error) string {
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{code: http.StatusBadRequest, msg: err.Error()}
	}
	if re.code == http.StatusRequestEntityTooLarge {
		// The rest of the body is not worth reading.
		w.Header().Set("Connection", "close")
	}
	writeFailed(w, re.code, re.msg)
	if re.code == http.StatusRequestEntityTooLarge {
		return outcomeTooLarge
	}
	return outcomeBadRequest
}

// waitTimeout reads the "timeout" query parameter: how long to wait for
// the job before answering "pending"; ok is false when absent (wait until
// done).
func waitTimeout(r *http.Request) (d time.Duration, ok bool, err error) {
	v, present := r.URL.Query()["timeout"]
	if !present {
		return 0, false, nil
	}
	raw := ""
	if len(v) > 0 {
		raw = v[len(v)-1]
	}
	secs, perr := strconv.ParseFloat(raw, 64)
	if perr != nil || secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, false, badRequest("query parameter timeout=%q: want a number of seconds, 0 or more (or leave it out to wait until the request is done)", raw)
	}
	// Beyond a day a wait is as good as forever and the conversion could overflow.
	if secs > 86400 {
		return 0, false, nil
	}
	return time.Duration(secs * float64(time.Second)), true, nil
}

// parseSources builds a request's sources; nil raw (absent) means the
// service's configured sources.
func (s *Server) parseSources(raw []byte) ([]sources.Source, error) {
	if raw == nil {
		return nil, nil
	}
	srcs, err := sources.ParseConfigs(raw, s.cfg.SourceOptions)
	if err != nil {
		return nil, badRequest("invalid sources: %v", err)
	}
	return srcs, nil
}

// symbolicate serves POST /symbolicate.
func (s *Server) symbolicate(w http.ResponseWriter, r *http.Request) string {
	return s.serveJob(w, r, epSymbolicate, func() (runFunc, func(), error) {
		req, srcs, err := s.readSymbolicate(w, r)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) (*service.Response, error) {
			return s.cfg.Service.Symbolicate(ctx, req, srcs)
		}, nil, nil
	})
}

// serveJob is the life of a symbolication request: take a slot, read the
// request into the job's work (read cleans up after itself on error),
// start the job and answer with its result or "pending".
func (s *Server) serveJob(w http.ResponseWriter, r *http.Request, endpoint string, read func() (runFunc, func(), error)) string {
	timeout, hasTimeout, err := waitTimeout(r)
	if err != nil {
		return writeRequestError(w, err)
	}
	sl, outcome := s.acquire(w)
	if sl == nil {
		return outcome
	}
	// Until the job starts the slot is the handler's; a panic or an
	// unreadable request must not leak it.
	started := false
	defer func() {
		if !started {
			sl.release()
		}
	}()
	run, cleanup, err := read()
	if err != nil {
		return writeRequestError(w, err)
	}
	j, err := s.jobs.start(sl, endpoint, run, cleanup)
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		w.Header().Set("Retry-After", retryAfterBusy)
		writeFailed(w, http.StatusServiceUnavailable, err.Error())
		return outcomeBusy
	}
	started = true
	return s.jobs.answer(w, r, j, timeout, hasTimeout, true)
}

// readSymbolicate reads and checks a /symbolicate body.
func (s *Server) readSymbolicate(w http.ResponseWriter, r *http.Request) (*service.SymbolicateRequest, []sources.Source, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, nil, &requestError{code: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body larger than %d bytes; this server's limit is set by its configuration", s.cfg.MaxUploadBytes)}
		}
		return nil, nil, badRequest("reading the request body: %v", err)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, badRequest("request body: want a JSON object with stacktraces, modules and optionally sources and options")
	}
	var req service.SymbolicateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, badRequest("request body is not a valid symbolication request: %v; want a JSON object with stacktraces, modules and optionally sources and options", err)
	}
	var raw []byte
	if req.Sources != nil && !bytes.Equal(bytes.TrimSpace(req.Sources), []byte("null")) {
		raw = req.Sources
	}
	srcs, err := s.parseSources(raw)
	if err != nil {
		return nil, nil, err
	}
	return &req, srcs, nil
}

// request serves GET /requests/{id}.
func (s *Server) request(w http.ResponseWriter, r *http.Request, id string) string {
	timeout, hasTimeout, err := waitTimeout(r)
	if err != nil {
		return writeRequestError(w, err)
	}
	j := s.jobs.get(id)
	if j == nil {
		writeFailed(w, http.StatusNotFound, unknownID(id))
		return outcomeNotFound
	}
	return s.jobs.answer(w, r, j, timeout, hasTimeout, false)
}

func unknownID(id string) string {
	return fmt.Sprintf("unknown request id %q: it never existed, its result was already fetched, or it expired; send the request again", id)
}

// slot is one of the MaxConcurrent places for a job, held from the
// request's acceptance until the job is done. release is idempotent:
// whoever ends up owning the slot may release it on every exit path.
type slot struct {
	once sync.Once
	free func()
}

func (sl *slot) release() { sl.once.Do(sl.free) }

// acquire takes a slot for a new request, or answers 503. The slot is
// taken before the body is read so that an overloaded server refuses
// uploads without storing them: at most MaxConcurrent uploads are ever
// on disk at once.
func (s *Server) acquire(w http.ResponseWriter) (*slot, string) {
	sl, err := s.jobs.acquire()
	if err != nil {
		w.Header().Set("Retry-After", retryAfterBusy)
		writeFailed(w, http.StatusServiceUnavailable, err.Error())
		s.metrics.rejected()
		return nil, outcomeBusy
	}
	return sl, ""
}
