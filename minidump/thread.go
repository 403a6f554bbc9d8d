package minidump

import "fmt"

// MemoryDescriptor is MINIDUMP_MEMORY_DESCRIPTOR: a range of the crashed
// process's memory and where its bytes are stored in the dump.
type MemoryDescriptor struct {
	StartOfMemoryRange uint64   `json:"start_of_memory_range"`
	Memory             Location `json:"memory"`
}

// Thread is MINIDUMP_THREAD. Its register context is read with Context.
type Thread struct {
	ThreadID      uint32           `json:"thread_id"`
	SuspendCount  uint32           `json:"suspend_count"`
	PriorityClass uint32           `json:"priority_class"`
	Priority      uint32           `json:"priority"`
	Teb           uint64           `json:"teb"`
	Stack         MemoryDescriptor `json:"stack"`
	ContextLoc    Location         `json:"context_loc"`
}

const threadSize = 48

// Threads decodes the ThreadList stream.
func (f *File) Threads() ([]Thread, error) {
	d, err := f.stream(ThreadListStream)
	if err != nil {
		return nil, err
	}
	n := listEntries(&d, threadSize)
	threads := make([]Thread, n)
	for i := range threads {
		threads[i] = Thread{
			ThreadID: d.u32(), SuspendCount: d.u32(), PriorityClass: d.u32(), Priority: d.u32(), Teb: d.u64(),
			Stack:      MemoryDescriptor{StartOfMemoryRange: d.u64(), Memory: d.location()},
			ContextLoc: d.location(),
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return threads, nil
}

// ThreadContext decodes the register context of t.
func (f *File) ThreadContext(t *Thread, si *SystemInfo) (Context, error) {
	ctx, err := f.context(t.ContextLoc, si)
	if err != nil {
		return nil, fmt.Errorf("minidump: thread %#x: %w", t.ThreadID, err)
	}
	return ctx, nil
}

// ThreadName is one entry of the ThreadNameList stream.
type ThreadName struct {
	ThreadID uint32 `json:"thread_id"`
	NameRVA  uint64 `json:"name_rva"`
	Name     string `json:"name"`
}

// ThreadNames decodes the ThreadNameList stream (MINIDUMP_THREAD_NAME_LIST).
// Entries whose name cannot be read keep an empty Name and are reported in
// the returned error alongside the entries that could.
func (f *File) ThreadNames() ([]ThreadName, error) {
	d, err := f.stream(ThreadNameListStream)
	if err != nil {
		return nil, err
	}
	count := d.u32()
	if uint64(count)*12 > uint64(d.remaining()) {
		d.fail(formatCount(count, 12, d.remaining()))
	}
	if d.err != nil {
		return nil, d.err
	}
	names := make([]ThreadName, count)
	budget := newCopyBudget(f)
	var firstErr error
	for i := range names {
		names[i] = ThreadName{ThreadID: d.u32(), NameRVA: d.u64()}
		if names[i].NameRVA > uint64(f.size) {
			if firstErr == nil {
				firstErr = formatErr("thread name list", int64(names[i].NameRVA), "thread %#x name outside the file", names[i].ThreadID)
			}
			continue
		}
		names[i].Name, err = budget.string(f, uint32(names[i].NameRVA))
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return names, firstErr
}
