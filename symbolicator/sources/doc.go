// Package sources fetches debug files from the configured symbol sources:
// filesystem, HTTP symbol servers (symstore, SSQP, debuginfod), S3 and the
// internal upload store.
package sources
