// Package api serves the symbolicator over HTTP with Sentry Symbolicator's API.
//
// The endpoints are POST /symbolicate (JSON stack traces and modules),
// POST /minidump and POST /applecrashreport (multipart uploads), GET
// /requests/{id} and GET /healthcheck, answered as Symbolicator answers
// them so that Sentry can use Cairn in its place. Every symbolication
// request is a job: a request waits for it up to its "timeout" query
// parameter and is otherwise answered "pending" with a request id to poll.
// The "scope" parameter is accepted and ignored: Cairn's caches are keyed
// by source and file, not by scope.
package api
