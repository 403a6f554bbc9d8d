package ingest

import (
	"fmt"
	"net/http"
	"strconv"
)

// apiError is a refusal with the status and the reason the client sees in
// {"detail": "..."}. Every client fault becomes one of these, so that a bad
// request can never surface as a 500.
type apiError struct {
	status int
	// reason is a short, fixed label for metrics and logs.
	reason string
	// detail is the human-readable explanation sent to the client.
	detail string
	// err is the underlying cause, logged but not sent.
	err error
	// retryAfter, in seconds, is sent as Retry-After when positive.
	retryAfter int
	// rateLimits is the X-Sentry-Rate-Limits value, when any.
	rateLimits string
}

func (e *apiError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("ingest: %s: %v", e.detail, e.err)
	}
	return "ingest: " + e.detail
}

func (e *apiError) Unwrap() error { return e.err }

func badRequest(err error, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, reason: "bad_request", detail: fmt.Sprintf(format, args...), err: err}
}

func tooLarge(format string, args ...any) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, reason: "too_large", detail: fmt.Sprintf(format, args...)}
}

func unauthorized(format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnauthorized, reason: "unauthorized", detail: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, reason: "forbidden", detail: fmt.Sprintf(format, args...)}
}

// unavailable is a server-side condition the client should retry: the
// Sink or KeyStore failed, or the memory budget is spent.
func unavailable(err error, retryAfter int, format string, args ...any) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, reason: "unavailable", detail: fmt.Sprintf(format, args...), err: err, retryAfter: retryAfter}
}

// rateLimitCategories are the data categories a per-key limit covers: the
// event and what rides with it. Transactions and sessions are not limited
// because ingest does not count them against the key.
const rateLimitCategories = "default;error;attachment"

func rateLimited(retryAfter int) *apiError {
	return &apiError{
		status:     http.StatusTooManyRequests,
		reason:     "rate_limited",
		detail:     "rate limit of this DSN key exceeded; retry after " + strconv.Itoa(retryAfter) + "s",
		retryAfter: retryAfter,
		rateLimits: rateLimitsHeader(retryAfter),
	}
}

// rateLimitsHeader formats X-Sentry-Rate-Limits: "<seconds>:<categories>:<scope>".
func rateLimitsHeader(retryAfter int) string {
	return strconv.Itoa(retryAfter) + ":" + rateLimitCategories + ":key"
}
