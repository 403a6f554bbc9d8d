package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/symbolicator/service"
)

// Job outcomes, as logs and the job duration metric label them.
const (
	jobCompleted = "completed"
	jobFailed    = "failed"
	jobBadInput  = "bad_input"
	jobTimeout   = "timeout"
	jobShutdown  = "shutdown"
	jobCancelled = "cancelled"
	jobPanic     = "panic"
)

// errBusy and errClosing are the 503 reasons.
var (
	errBusy    = errors.New("too many concurrent requests; retry later")
	errClosing = errors.New("the server is shutting down; retry later")
)

// runFunc is a job's work.
type runFunc func(ctx context.Context) (*service.Response, error)

// job is one symbolication request, from acceptance to the delivery of
// its result. code, body and outcome are written before done is closed
// and only read after; the other state is guarded by jobs.mu.
type job struct {
	id       string
	endpoint string
	cancel   context.CancelFunc
	done     chan struct{}

	code    int
	body    []byte
	outcome string

	// pending is set once a client was answered "pending": the job no
	// longer belongs to that client's connection.
	pending bool
	// abandoned is set when the client left before the job went pending;
	// the job is cancelled and its result dropped.
	abandoned bool
	// claimed is set when the result was delivered.
	claimed bool
	expiry  *time.Timer
}

// jobs runs jobs in goroutines it waits for, bounds how many run, and
// keeps finished results until they are fetched or expire.
type jobs struct {
	cfg   Config
	log   *slog.Logger
	m     *metrics
	base  context.Context
	stop  context.CancelFunc
	slots chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	closed bool
	byID   map[string]*job
}

func newJobs(cfg Config, log *slog.Logger, m *metrics) *jobs {
	base, stop := context.WithCancel(context.Background())
	return &jobs{cfg: cfg, log: log, m: m, base: base, stop: stop,
		slots: make(chan struct{}, cfg.MaxConcurrent), byID: map[string]*job{}}
}

// acquire takes one of the MaxConcurrent slots without waiting:
// Symbolicator refuses work beyond its limit rather than queueing it, so
// that a client (Sentry) retries against a less busy instance.
func (js *jobs) acquire() (*slot, error) {
	js.mu.Lock()
	closed := js.closed
	js.mu.Unlock()
	if closed {
		return nil, errClosing
	}
	select {
	case js.slots <- struct{}{}:
	default:
		return nil, errBusy
	}
	js.m.addRunning(1)
	return &slot{free: func() {
		<-js.slots
		js.m.addRunning(-1)
	}}, nil
}

// start runs run as a new job holding sl until it is done; cleanup, when
// not nil, runs once the result is encoded (it releases the upload the
// job read). On error nothing was started and the caller keeps sl.
func (js *jobs) start(sl *slot, endpoint string, run runFunc, cleanup func()) (*job, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	// The job's context comes from the server, not the HTTP request: a
	// job answered "pending" must go on after its client hung up.
	ctx, cancel := context.WithTimeout(js.base, js.cfg.MaxProcessing)
	j := &job{id: id, endpoint: endpoint, cancel: cancel, done: make(chan struct{})}
	js.mu.Lock()
	if js.closed {
		js.mu.Unlock()
		cancel()
		return nil, errClosing
	}
	js.byID[id] = j
	// Added under mu so that close, which sets closed under mu before
	// waiting, never waits while a job is being added.
	js.wg.Add(1)
	js.mu.Unlock()
	go js.run(ctx, j, sl, run, cleanup)
	return j, nil
}

func (js *jobs) run(ctx context.Context, j *job, sl *slot, run runFunc, cleanup func()) {
	defer js.wg.Done()
	start := time.Now()
	resp, err := protect(ctx, run)
	code, body, outcome, msg := js.render(ctx, resp, err)
	if cleanup != nil {
		cleanup()
	}
	j.cancel()
	// The slot is free before the result is visible, so a client that
	// sees the result may send its next request at once.
	sl.release()
	// Recorded before the result is visible, so that whoever sees the
	// result also sees the job counted.
	took := time.Since(start)
	js.m.job(j.endpoint, outcome, took)
	js.finish(j, code, body, outcome)

	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("id", j.id), slog.String("endpoint", j.endpoint),
		slog.Duration("duration", took), slog.String("outcome", outcome)}
	if msg != "" {
		attrs = append(attrs, slog.String("message", msg))
	}
	switch outcome {
	case jobPanic:
		level = slog.LevelError
	case jobFailed, jobTimeout:
		level = slog.LevelWarn
	}
	js.log.LogAttrs(context.Background(), level, "symbolication job", attrs...)
}

// panicError is a panic of a job's work, with its stack for the log.
type panicError struct {
	val   any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.val, p.stack) }

// protect runs a job's work and turns a panic into an error: net/http
// contains a handler's panic, but a job runs outside any handler, where a
// panic would end the whole server and every other client's job.
func protect(ctx context.Context, run runFunc) (resp *service.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, &panicError{val: v, stack: debug.Stack()}
		}
	}()
	return run(ctx)
}

// render turns a job's result into its answer: Symbolicator answers a
// job that failed with 200 and status "failed", and only input it cannot
// read with 400. msg is the failure for the log.
func (js *jobs) render(ctx context.Context, resp *service.Response, err error) (code int, body []byte, outcome, msg string) {
	if err == nil && resp == nil {
		err = errors.New("the service returned no result")
	}
	if err == nil {
		b, merr := json.Marshal(resp)
		if merr == nil {
			return http.StatusOK, b, jobCompleted, ""
		}
		err = fmt.Errorf("encoding the response: %w", merr)
	}
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		return http.StatusInternalServerError, failedJSON("internal error while processing the request; it has been logged"), jobPanic, err.Error()
	case errors.Is(err, service.ErrBadInput):
		return http.StatusBadRequest, failedJSON(err.Error()), jobBadInput, err.Error()
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		m := fmt.Sprintf("processing took longer than this server's limit of %s and was stopped; the debug files fetched so far are cached, so sending the request again may succeed", js.cfg.MaxProcessing)
		return http.StatusOK, failedJSON(m), jobTimeout, m
	case js.base.Err() != nil:
		m := "the server shut down before the request was done; send it again"
		return http.StatusOK, failedJSON(m), jobShutdown, m
	case ctx.Err() != nil:
		m := "the request was cancelled: its client went away before it was answered"
		return http.StatusOK, failedJSON(m), jobCancelled, m
	}
	return http.StatusOK, failedJSON(err.Error()), jobFailed, err.Error()
}

// finish publishes a job's result; it waits ResultTTL to be fetched.
func (js *jobs) finish(j *job, code int, body []byte, outcome string) {
	j.code, j.body, j.outcome = code, body, outcome
	js.mu.Lock()
	defer js.mu.Unlock()
	if j.abandoned {
		delete(js.byID, j.id)
	} else {
		j.expiry = time.AfterFunc(js.cfg.ResultTTL, func() { js.expire(j) })
	}
	close(j.done)
}

func (js *jobs) expire(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.byID[j.id] == j {
		delete(js.byID, j.id)
	}
}

// get returns the job of a request id, or nil when there is none (never
// existed, delivered, expired).
func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	j := js.byID[id]
	if j == nil || j.abandoned || j.claimed {
		return nil
	}
	return j
}

// answer waits for j up to timeout (forever when !hasTimeout) and writes
// its result or a pending answer. fresh says j was started by this
// request, whose client leaving before j went pending cancels j.
func (js *jobs) answer(w http.ResponseWriter, r *http.Request, j *job, timeout time.Duration, hasTimeout, fresh bool) string {
	select {
	case <-j.done:
		return js.deliver(w, j)
	default:
	}
	var expired <-chan time.Time
	if hasTimeout {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-j.done:
		return js.deliver(w, j)
	case <-expired:
		js.mu.Lock()
		j.pending = true
		js.mu.Unlock()
		b, _ := json.Marshal(pendingBody{Status: "pending", RequestID: j.id, RetryAfter: retryAfterPending})
		writeJSON(w, http.StatusOK, b)
		return outcomePending
	case <-r.Context().Done():
		if fresh {
			js.abandon(j)
		}
		return outcomeGone
	}
}

// abandon cancels a job whose client left before it was told its id:
// nobody can ever fetch its result.
func (js *jobs) abandon(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if j.pending || j.claimed {
		return
	}
	j.abandoned = true
	j.cancel()
	select {
	case <-j.done:
		delete(js.byID, j.id)
		if j.expiry != nil {
			j.expiry.Stop()
		}
	default:
		// finish drops it.
	}
}

// deliver writes a finished job's result, once: the first to ask gets
// it and the id is forgotten.
func (js *jobs) deliver(w http.ResponseWriter, j *job) string {
	js.mu.Lock()
	if j.claimed {
		js.mu.Unlock()
		writeFailed(w, http.StatusNotFound, unknownID(j.id))
		return outcomeNotFound
	}
	j.claimed = true
	if js.byID[j.id] == j {
		delete(js.byID, j.id)
	}
	if j.expiry != nil {
		j.expiry.Stop()
	}
	js.mu.Unlock()
	writeJSON(w, j.code, j.body)
	switch {
	case j.code == http.StatusBadRequest:
		return outcomeBadRequest
	case j.code >= 500:
		return outcomeInternal
	case j.outcome == jobCompleted:
		return outcomeCompleted
	}
	return outcomeFailed
}

// close refuses new jobs, cancels the running ones, waits for them and
// drops every result.
func (js *jobs) close() {
	js.mu.Lock()
	js.closed = true
	js.mu.Unlock()
	js.stop()
	js.wg.Wait()
	js.mu.Lock()
	defer js.mu.Unlock()
	for id, j := range js.byID {
		if j.expiry != nil {
			j.expiry.Stop()
		}
		delete(js.byID, id)
	}
}

// newID returns a random UUID (version 4), the form of Symbolicator's
// request ids.
func newID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("api: request id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
