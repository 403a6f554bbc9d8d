// Package storage holds Cairn's persistent state behind small interfaces, one
// subpackage per kind of state, so that the embedded deployment and the
// production one run the same code above this layer:
//
//   - blob: large immutable byte strings (minidumps, attachments, debug
//     files); filesystem (fsblob) now, S3 later.
//   - queue: the durable hand-off from ingest to the worker, at least once;
//     SQLite (sqlite) now, Kafka later.
//   - meta: organizations, projects, DSN keys, API tokens and issues;
//     SQLite now, PostgreSQL later.
//   - events: processed events, searchable by issue; SQLite now, ClickHouse
//     later.
//   - cache: short-lived values shared by requests; in process (memcache)
//     now, Redis or Memcached later.
//
// storagetest holds the conformance suite every implementation runs, so a
// new backend proves itself against the same expectations as the embedded
// one.
package storage
