// Package api serves the symbolicator over HTTP with Sentry Symbolicator's API.
package api
