// Package sources fetches debug files from the configured symbol sources:
// filesystem, HTTP symbol servers (symstore, SSQP, debuginfod, Breakpad
// stores), S3 (and GCS through its S3 interoperability), a Sentry server's
// project debug files and the internal upload store. ParseConfig and
// ParseConfigs build sources from Sentry Symbolicator's JSON source
// configuration.
//
// A lookup starts from a FileID (the module as the crash describes it) and
// the FileTypes wanted. Paths computes, per DirectoryLayout, the candidate
// paths exactly as Sentry Symbolicator does, so stores filled for it work
// unchanged; each Source turns them into Locations after its Filters, and
// Fetch streams one location's raw bytes. Download writes beside the
// destination and unwraps gzip, zstd and Microsoft cabinets (the ".pd_"
// files of symbol servers; stored and MSZIP folders, not LZX), and Find fans
// out over all candidates with bounded concurrency, reporting each with a
// Status for the response's candidate list. DownloadLimited caps both the
// raw download and the unwrapped file, refusing larger ones with
// ErrTooLarge.
//
// HTTP sources dial through an SSRF guard that checks every resolved
// address at connect time and refuses loopback, private, link-local and
// similar addresses unless the source allows them.
package sources
