// Package ingest speaks the Sentry wire protocol: DSN authentication,
// envelopes, store requests, minidump uploads, Unreal Engine crash reports,
// size and rate limits. NewHandler serves it; everything a request carries
// ends up in one Accepted handed to the Sink before the client hears 200.
//
// # Endpoints
//
//   - POST /api/{pid}/store/ — one JSON event; answers {"id": "<32 hex>"}.
//     Old SDKs' base64-of-zlib bodies are accepted too.
//   - POST /api/{pid}/envelope/ — an envelope (see envelope.go for the
//     format); answers {"id": ...}, or {} without an event. Items: event;
//     attachment (attachment_type event.attachment, event.minidump,
//     event.applecrashreport, ...); session, sessions, user_report and
//     client_report, passed on as Items; transaction is ignored — Cairn is
//     a crash reporter and must not turn performance data into issues — as
//     is every other or unknown type. A minidump without an event item
//     gets a placeholder event {"event_id", "platform": "native"} for the
//     worker to fill from the dump, as Sentry does.
//   - POST /api/{pid}/minidump/ — a multipart upload from Breakpad,
//     Crashpad, sentry-native's Crashpad backend or Electron, or a bare
//     dump body. The dump (upload_file_minidump) may be gzip, zstd, xz or
//     bzip2 compressed and must start with MDMP. The event is built like
//     Sentry builds it: the MessagePack __sentry-event, the
//     __sentry-breadcrumb1/2 halves, the JSON `sentry` (and
//     `sentry___<ns>`) fields, `sentry[a][b]=c` paths up to 7 keys,
//     Electron's `sentry__N` JSON chunks, and every other field under
//     extra. Breakpad's prod, ver and guid stay in extra, as in Sentry,
//     and are also copied to tags (unless set) so that they can be
//     searched. Other file parts become attachments. Answers 200 with the
//     event id as a dashed UUID in plain text, which Crashpad keeps as the
//     report's server id.
//   - POST /api/{pid}/unreal/{key}/ — a CrashReportClient report (package
//     unreal): the dump becomes an event.minidump attachment (an Apple
//     crash report an event.applecrashreport one), the log unreal.logs and
//     its last lines breadcrumbs, CrashContext.runtime-xml unreal.context
//     and the event's message, user, device/os/gpu/game/unreal contexts,
//     level and SDK (Sentry's mapping), a player's description a
//     user_report item. Answers like the minidump endpoint.
//
// # Authentication
//
// The DSN public key is taken from X-Sentry-Auth, then an Authorization
// header of the Sentry or DSN scheme, then ?sentry_key=, then the
// envelope header's dsn (or the Unreal path). Unknown, disabled or foreign
// keys are 401, disabled projects 403.
//
// # Limits
//
// Sizes (Config): an event 1 MiB, a decompressed body 200 MiB, an
// attachment 100 MiB, a decompressed minidump 100 MiB; over them is 413
// with the limit named. Content-Encoding gzip, deflate (zlib or raw), br
// and zstd are decoded with the output bound applied while decoding, so a
// bomb is cut off at the limit. Bodies in memory are charged to a shared
// budget; a request that would exceed it gets 503 and retries.
//
// A key's rate limit (Key.RateLimit, a token bucket of Count per Window)
// counts requests that carry an event or attachments. Store and envelope
// answer 429 with Retry-After and X-Sentry-Rate-Limits
// ("<seconds>:default;error;attachment:key"); an envelope's sessions and
// reports are still kept. The minidump and Unreal endpoints, like Sentry's,
// drop a limited crash but answer 200 with the same headers, because their
// uploaders resend anything else.
//
// # Scrubbing
//
// When Project.Scrub is set the event passes through package scrub before
// the Sink sees it. Attachments, minidumps included, are never rewritten.
//
// # Errors
//
// Every refusal is {"detail": "<reason>"} (also in X-Sentry-Error) with a
// 4xx status for client faults, 503 when the Sink or KeyStore fails so
// that the client retries, and 500 only for a bug, which is logged with
// its stack and never takes the server down.
package ingest
