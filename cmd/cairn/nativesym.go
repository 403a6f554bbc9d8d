package main

import (
	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// nativeSymbolicator is the worker's symbolicator: minidumps are
// stackwalked and symbolicated from the debug files uploaded to the
// event's project (projectID when the context names none), and a dump the stack walker rejects keeps the unsymbolicated
// reading with a processing error on the event.
func nativeSymbolicator(st *stores, cfg config.Config, projectID int64) issues.Symbolicator {
	ds := &store.Store{Blobs: st.blobs, Index: st.meta}
	return &issues.Stackwalker{Lookup: issues.StoreLookup(ds, cfg.BlobDir(), projectID), Fallback: issues.Unsymbolicated{}}
}
