package issues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/storage/meta"
)

// ProjectLookup is what the worker reads of projects: whether a project
// drops its minidumps after processing (meta.Project.DropMinidumps).
type ProjectLookup interface {
	Project(ctx context.Context, id int64) (meta.Project, error)
}

// Dropping a minidump happens in two steps around the events store.
// Before the event is stored, its minidump entries are marked dropped
// (markDropped), so the stored event never points at a blob about to go.
// Once the event is stored, the blobs are deleted (dropStored). A crash
// in between leaves a dump that the stored event already calls dropped;
// the redelivery finds the event stored, reads the mark and deletes the
// blob then. The stored event, not the project's current setting, decides
// what a redelivery deletes, so turning the setting on never removes the
// dump of an event stored while it was off.

// markDropped marks the minidumps of the processed events whose project
// drops them. Projects are looked up once per batch, and only for events
// that carry a minidump.
func (w *Worker) markDropped(ctx context.Context, fresh []*item) error {
	if w.opts.Projects == nil {
		return nil
	}
	drops := map[int64]bool{}
	for _, it := range fresh {
		if !hasMinidump(it.msg) {
			continue
		}
		pid := it.msg.ProjectID
		drop, seen := drops[pid]
		if !seen {
			p, err := w.opts.Projects.Project(ctx, pid)
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("issues: settings of project %d: %w", pid, err)
			}
			drop = err == nil && p.DropMinidumps
			drops[pid] = drop
		}
		if !drop {
			continue
		}
		for i := range it.ev.Attachments {
			if a := &it.ev.Attachments[i]; a.Type == minidumpType {
				a.Key, a.Dropped = "", true
			}
		}
	}
	return nil
}

// dropStored deletes the minidump blobs of a stored event that records
// them as dropped, and reports whether the message may be acknowledged:
// after a failed delete it is given back, and its redelivery, finding the
// event stored, tries again.
func (w *Worker) dropStored(ctx context.Context, it *item) bool {
	if !hasMinidump(it.msg) || !droppedIn(it) {
		return true
	}
	for _, a := range it.msg.Attachments {
		if a.Type != minidumpType {
			continue
		}
		// Deleting a missing blob is not an error: a redelivery repeats
		// the deletes of the delivery before it.
		if err := w.proc.Blobs.Delete(ctx, a.Key); err != nil {
			w.nack(ctx, it.d, fmt.Errorf("issues: drop minidump %s: %w", a.Key, err))
			return false
		}
	}
	return true
}

// droppedIn reports whether the event as stored marks a minidump dropped:
// the copy read back from the events store when there is one (a
// concurrent delivery may have stored its own), else the one this
// delivery stored.
func droppedIn(it *item) bool {
	var atts []AttachmentInfo
	switch {
	case it.stored != nil:
		var v struct {
			Attachments []AttachmentInfo `json:"attachments"`
		}
		// An undecodable stored event marks nothing: the dump is kept.
		if json.Unmarshal(it.stored.Data, &v) != nil {
			return false
		}
		atts = v.Attachments
	case it.ev != nil:
		atts = it.ev.Attachments
	}
	for _, a := range atts {
		if a.Type == minidumpType && a.Dropped {
			return true
		}
	}
	return false
}

// minidumpType is Sentry's attachment type of a minidump.
const minidumpType = "event.minidump"

func hasMinidump(m *Message) bool {
	for _, a := range m.Attachments {
		if a.Type == minidumpType {
			return true
		}
	}
	return false
}
