package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/ingest/scrub"
)

// handler serves the ingest endpoints; see NewHandler.
type handler struct {
	cfg      Config
	keys     KeyStore
	sink     Sink
	log      *slog.Logger
	limiters *keyLimiters
	budget   *memBudget
	metrics  *metrics
	zstdPool *sync.Pool
}

// NewHandler returns the HTTP handler of Sentry's ingest endpoints:
//
//	POST /api/{project_id}/store/          one JSON event
//	POST /api/{project_id}/envelope/       an envelope
//	POST /api/{project_id}/minidump/       a Breakpad/Crashpad minidump upload
//	POST /api/{project_id}/unreal/{key}/   an Unreal Engine crash report
//
// Each request is authenticated with a DSN key, checked against the key's
// rate limit and the size limits of cfg, decoded, scrubbed when the
// project asks for it, and handed to sink before the client gets its 200.
// OPTIONS answers CORS preflights for browser SDKs. Every refusal carries
// {"detail": "<reason>"}.
func NewHandler(cfg Config, keys KeyStore, sink Sink, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxOut := max(cfg.MaxEnvelopeSize, cfg.MaxMinidumpSize, cfg.MaxAttachmentSize)
	h := &handler{
		cfg:      cfg,
		keys:     keys,
		sink:     sink,
		log:      log,
		limiters: newKeyLimiters(cfg.SharedLimiter, log),
		budget:   &memBudget{max: cfg.MemoryBudget},
		metrics:  newMetrics(cfg.Metrics, log),
		zstdPool: newZstdPool(maxOut),
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/api/{pid}/store/", "/api/{pid}/store"} {
		mux.Handle(p, h.endpoint("store", h.store))
	}
	for _, p := range []string{"/api/{pid}/envelope/", "/api/{pid}/envelope"} {
		mux.Handle(p, h.endpoint("envelope", h.envelope))
	}
	for _, p := range []string{"/api/{pid}/minidump/", "/api/{pid}/minidump"} {
		mux.Handle(p, h.endpoint("minidump", h.minidump))
	}
	for _, p := range []string{"/api/{pid}/unreal/{key}/", "/api/{pid}/unreal/{key}"} {
		mux.Handle(p, h.endpoint("unreal", h.unrealReport))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, reason: "not_found", detail: "no ingest endpoint at " + truncate(r.URL.Path, 200)})
	})
	return mux
}

// request is the state of one ingest request as it goes through
// authentication, limits and decoding.
type request struct {
	endpoint string
	r        *http.Request
	pid      int64
	key      Key
	project  Project
	lease    *lease
	received time.Time
	// eventID is set as soon as it is known, for logs.
	eventID string
}

// result is a successful answer.
type result struct {
	// text, when set, is answered as text/plain; otherwise {"id": eventID}
	// (or {} without an event) as JSON.
	text    string
	eventID string
	// limitedSeconds, when positive, adds rate-limit headers to a 200: the
	// minidump and Unreal endpoints drop rate-limited crashes but still
	// answer 200, because their clients retry anything else.
	limitedSeconds int
	// stored reports that the Sink accepted an event.
	stored bool
}

// endpoint wraps one endpoint with what every request gets: panic
// recovery, CORS, method and project id checks, the memory lease, metrics
// and the access log.
func (h *handler) endpoint(name string, fn func(*request) (*result, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rq := &request{endpoint: name, r: r, lease: &lease{b: h.budget}, received: h.cfg.Now().UTC()}
		status := 0
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				// A panic is a bug in ingest, never the client's fault; log
				// it loudly, answer 500 and keep serving.
				h.log.Error("ingest: panic", "endpoint", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				status = http.StatusInternalServerError
				writeError(w, &apiError{status: status, reason: "internal", detail: "internal error"})
				h.metrics.rejected.WithLabelValues(name, "internal").Inc()
			}
			rq.lease.release()
			h.metrics.requests.WithLabelValues(name, strconv.Itoa(status)).Inc()
			h.metrics.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort a response, not a bug
			}
		}()
		setCORS(w, r)
		switch r.Method {
		case http.MethodOptions:
			preflight(w)
			status = http.StatusOK
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			status = http.StatusMethodNotAllowed
			writeError(w, &apiError{status: status, reason: "method", detail: "method " + r.Method + " not allowed; use POST"})
			return
		}
		pid, err := strconv.ParseInt(r.PathValue("pid"), 10, 64)
		if err != nil || pid <= 0 {
			status = http.StatusBadRequest
			writeError(w, badRequest(err, "invalid project id %q", truncate(r.PathValue("pid"), 40)))
			return
		}
		rq.pid = pid
		res, err := fn(rq)
		if err != nil {
			status = h.fail(w, rq, err)
			return
		}
		status = http.StatusOK
		h.succeed(w, rq, res)
	})
}

// fail answers with the refusal err stands for and logs it. Errors that
// are not *apiError are server faults: 500, logged at error level.
func (h *handler) fail(w http.ResponseWriter, rq *request, err error) int {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, reason: "internal", detail: "internal error", err: err}
	}
	h.metrics.rejected.WithLabelValues(rq.endpoint, ae.reason).Inc()
	attrs := []slog.Attr{
		slog.String("endpoint", rq.endpoint), slog.Int64("project", rq.pid), slog.Int("status", ae.status),
		slog.String("reason", ae.reason), slog.String("detail", ae.detail), slog.String("remote", h.remoteAddr(rq.r)),
	}
	if rq.eventID != "" {
		attrs = append(attrs, slog.String("event_id", rq.eventID))
	}
	if ae.err != nil {
		attrs = append(attrs, slog.String("error", ae.err.Error()))
	}
	level := slog.LevelInfo
	switch {
	case ae.status >= 500:
		level = slog.LevelError
	case ae.status == http.StatusTooManyRequests:
		level = slog.LevelDebug
	}
	h.log.LogAttrs(rq.r.Context(), level, "ingest: request refused", attrs...)
	writeError(w, ae)
	return ae.status
}

func (h *handler) succeed(w http.ResponseWriter, rq *request, res *result) {
	if res.limitedSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(res.limitedSeconds))
		w.Header().Set("X-Sentry-Rate-Limits", rateLimitsHeader(res.limitedSeconds))
	}
	if res.stored {
		h.metrics.accepted.WithLabelValues(rq.endpoint).Inc()
		h.log.LogAttrs(rq.r.Context(), slog.LevelDebug, "ingest: accepted",
			slog.String("endpoint", rq.endpoint), slog.Int64("project", rq.pid), slog.String("event_id", res.eventID))
	}
	if res.text != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(res.text))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if res.eventID == "" {
		_, _ = w.Write([]byte("{}"))
		return
	}
	_, _ = w.Write([]byte(`{"id":"` + res.eventID + `"}`))
}

// writeError sends {"detail": ...} with the status and headers of e. The
// detail is also put in X-Sentry-Error, where Sentry's SDKs look for it.
func writeError(w http.ResponseWriter, e *apiError) {
	hd := w.Header()
	if e.retryAfter > 0 {
		hd.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.rateLimits != "" {
		hd.Set("X-Sentry-Rate-Limits", e.rateLimits)
	}
	hd.Set("X-Sentry-Error", headerSafe(e.detail))
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	body, _ := json.Marshal(struct {
		Detail string `json:"detail"`
	}{e.detail})
	_, _ = w.Write(body)
}

// headerSafe keeps a detail within what a header value may hold.
func headerSafe(s string) string {
	s = truncate(s, 200)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// setCORS lets browser SDKs read responses, including the rate-limit
// headers they honour.
func setCORS(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == "" {
		return
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After")
}

func preflight(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "X-Sentry-Auth, X-Requested-With, Origin, Accept, Content-Type, "+
		"Content-Encoding, Authentication, Authorization, sentry-trace, baggage")
	hd.Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusOK)
}

// remoteAddr is the client's address: the connection's peer, or the first
// X-Forwarded-For hop when the configuration trusts a proxy.
func (h *handler) remoteAddr(r *http.Request) string {
	if h.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userAgent is the client's User-Agent, or the sentry_client it named in
// its auth header.
func userAgent(r *http.Request) string {
	if ua := r.Header.Get("User-Agent"); ua != "" {
		return ua
	}
	if v := r.Header.Get("X-Sentry-Auth"); v != "" {
		return authParam(v, "sentry_client")
	}
	return r.URL.Query().Get("sentry_client")
}

// authRequest authenticates with the key the request itself carries.
func (h *handler) authRequest(rq *request) error {
	return h.authenticate(rq.r.Context(), rq, keyFromRequest(rq.r.Header, rq.r.URL.Query()))
}

// checkRate spends one token of the request's key, or refuses with 429.
func (h *handler) checkRate(rq *request) error {
	if wait, ok := h.limiters.take(rq.r.Context(), rq.key, h.cfg.Now()); !ok {
		return rateLimited(retrySeconds(wait))
	}
	return nil
}

// commit scrubs the event when the project asks for it and hands a to the
// Sink. A Sink failure is 503: the client keeps the event and retries.
func (h *handler) commit(rq *request, a *Accepted) error {
	a.ProjectID = rq.pid
	a.ReceivedAt = rq.received
	a.RemoteAddr = h.remoteAddr(rq.r)
	a.UserAgent = userAgent(rq.r)
	if a.Event != nil && rq.project.Scrub {
		out, _, err := scrub.New(rq.project.ScrubFields).Event(a.Event)
		if err != nil {
			return badRequest(err, "invalid event JSON: %v", err)
		}
		a.Event = out
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rq.r.Context()), h.cfg.SinkTimeout)
	defer cancel()
	if err := h.sink.Accept(ctx, a); err != nil {
		return unavailable(fmt.Errorf("sink: %w", err), 10, "could not store the event, retry later")
	}
	return nil
}
