package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
)

// chunkLedger remembers when clients last uploaded or named each chunk, so
// cleanup never takes a chunk from under an upload in progress, even one
// whose chunk was already stored long ago (and so was not rewritten).
//
// The lock orders cleanup against uploads: a deletion holds it exclusively
// while it rechecks a chunk, and the upload and assemble paths hold it
// shared from marking a chunk until they have stored it or started the job
// that needs it.
type chunkLedger struct {
	mu   sync.RWMutex
	seen map[string]time.Time // guarded by seenMu
	// seenMu guards seen alone: holders of mu's read lock write to it
	// concurrently.
	seenMu sync.Mutex
}

// mark records that the client uses the chunks now.
func (l *chunkLedger) mark(now time.Time, sums ...string) {
	l.seenMu.Lock()
	for _, s := range sums {
		l.seen[s] = now
	}
	l.seenMu.Unlock()
}

func (l *chunkLedger) lastSeen(sum string) time.Time {
	l.seenMu.Lock()
	defer l.seenMu.Unlock()
	return l.seen[sum]
}

// forget drops marks older than cutoff; cleanup reads file times for them.
func (l *chunkLedger) forget(cutoff time.Time) {
	l.seenMu.Lock()
	for s, t := range l.seen {
		if t.Before(cutoff) {
			delete(l.seen, s)
		}
	}
	l.seenMu.Unlock()
}

// needs reports whether an assembly job not yet finished needs the chunk.
func (a *assembler) needs(sum string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.jobs {
		if (st.state == stateCreated || st.state == stateAssembling) && slices.Contains(st.chunks, sum) {
			return true
		}
	}
	return false
}

// cleanChunksEvery runs CleanChunks at the configured interval until ctx
// ends.
func (d *DebugFiles) cleanChunksEvery(ctx context.Context) {
	t := time.NewTicker(d.cfg.ChunkCleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := d.CleanChunks(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("debug-file chunk cleanup failed", "err", err)
			}
		}
	}
}

// CleanChunks deletes uploaded chunks that no file was assembled from:
// those older than DebugFileConfig.ChunkMaxAge, by both their time in the
// blob store and the last time a client uploaded or named them, that no
// unfinished assembly job needs. Stored files never depend on a chunk's
// key (a composed file links the chunk's bytes itself, a copied one has
// its own), so their bytes stay. It returns how many chunks it deleted and
// the bytes that freed, and logs both; the periodic cleanup calls it, and
// so may an operator's tool. Stores that cannot list their blobs are left
// alone.
func (d *DebugFiles) CleanChunks(ctx context.Context) (deleted int, freed int64, err error) {
	lister, ok := d.cfg.Blobs.(blob.Lister)
	if !ok {
		return 0, 0, nil
	}
	now := d.cfg.Now()
	cutoff := now.Add(-d.cfg.ChunkMaxAge)
	d.chunks.forget(cutoff)
	var old []blob.Info
	err = lister.List(ctx, "chunks/", func(bi blob.Info) error {
		if bi.ModTime.Before(cutoff) {
			old = append(old, bi)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("web: chunk cleanup: %w", err)
	}
	var errs []error
	for _, bi := range old {
		sum := bi.Key[strings.LastIndexByte(bi.Key, '/')+1:]
		if !validSHA1(sum) || chunkKey(sum) != bi.Key {
			continue
		}
		gone, err := d.dropIfAbandoned(ctx, sum, cutoff)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if gone {
			deleted++
			if !bi.Shared {
				freed += bi.Size
			}
		}
	}
	if deleted > 0 || len(errs) > 0 {
		d.log.Info("debug-file chunks cleaned up", "chunks_deleted", deleted, "bytes_freed", freed,
			"max_age", d.cfg.ChunkMaxAge.String(), "errors", len(errs))
	}
	return deleted, freed, errors.Join(errs...)
}

// dropIfAbandoned deletes one chunk unless, rechecked under the ledger's
// exclusive lock, a client has used it since cutoff or a job needs it.
func (d *DebugFiles) dropIfAbandoned(ctx context.Context, sum string, cutoff time.Time) (bool, error) {
	d.chunks.mu.Lock()
	defer d.chunks.mu.Unlock()
	if !d.chunks.lastSeen(sum).Before(cutoff) || d.asm.needs(sum) {
		return false, nil
	}
	if err := d.cfg.Blobs.Delete(ctx, chunkKey(sum)); err != nil {
		return false, fmt.Errorf("web: chunk cleanup: %w", err)
	}
	return true, nil
}
