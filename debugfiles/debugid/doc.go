// Package debugid represents debug identifiers in the forms Sentry and
// Breakpad use: "GUID-age" and the 33+ character Breakpad form.
package debugid
