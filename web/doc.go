// Package web serves the management API, the sentry-cli endpoints and the UI.
package web
