package web

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// Assemble states, as sentry-cli expects them.
const (
	stateNotFound   = "not_found"
	stateCreated    = "created"
	stateAssembling = "assembling"
	stateOK         = "ok"
	stateError      = "error"
)

// assembleFile is one file of an assemble request, keyed by its SHA-1.
type assembleFile struct {
	Name    string   `json:"name"`
	DebugID string   `json:"debug_id"`
	Chunks  []string `json:"chunks"`
}

// assembleResult is the answer for one file.
type assembleResult struct {
	State         string   `json:"state"`
	MissingChunks []string `json:"missingChunks"`
	Detail        *string  `json:"detail"`
	Dif           *difJSON `json:"dif"`
}

// difJSON is a stored debug file in the shape of Sentry's API.
type difJSON struct {
	ID          string            `json:"id"`
	UUID        string            `json:"uuid"`
	DebugID     string            `json:"debugId"`
	CodeID      *string           `json:"codeId"`
	CPUName     string            `json:"cpuName"`
	ObjectName  string            `json:"objectName"`
	SymbolType  string            `json:"symbolType"`
	Headers     map[string]string `json:"headers"`
	Size        int64             `json:"size"`
	SHA1        string            `json:"sha1"`
	DateCreated time.Time         `json:"dateCreated"`
	Data        difData           `json:"data"`
}

type difData struct {
	Type     string   `json:"type"`
	Features []string `json:"features"`
}

func toDifJSON(f meta.DebugFile) *difJSON {
	var code *string
	if f.CodeID != "" {
		code = &f.CodeID
	}
	features := f.Features
	if features == nil {
		features = []string{}
	}
	return &difJSON{ID: strconv.FormatInt(f.ID, 10), UUID: f.DebugID, DebugID: f.DebugID, CodeID: code, CPUName: f.Arch,
		ObjectName: f.Name, SymbolType: f.Format, Headers: map[string]string{"Content-Type": "application/octet-stream"},
		Size: f.Size, SHA1: f.Checksum, DateCreated: f.CreatedAt, Data: difData{Type: f.Kind, Features: features}}
}

// maxAssembleBody bounds an assemble request: sentry-cli sends every file
// of an upload in one request, each with its list of chunk hashes.
const maxAssembleBody = 32 << 20

func (d *DebugFiles) assemble(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	p, err := d.projectFor(r, tok)
	if err != nil {
		return err
	}
	var req map[string]assembleFile
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAssembleBody)).Decode(&req); err != nil {
		return tooLargeOr(err, http.StatusBadRequest, "invalid assemble request")
	}
	out := make(map[string]assembleResult, len(req))
	for sum, f := range req {
		res, err := d.assembleOne(r.Context(), p, strings.ToLower(sum), f)
		if err != nil {
			return err
		}
		if res.MissingChunks == nil {
			res.MissingChunks = []string{}
		}
		out[sum] = res
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func errorResult(format string, args ...any) assembleResult {
	msg := fmt.Sprintf(format, args...)
	return assembleResult{State: stateError, Detail: &msg}
}

// assembleOne answers for one file: done (ok, from the index), failed or
// running (from the job table), waiting for chunks (not_found with the
// missing ones), or it starts the job (created).
func (d *DebugFiles) assembleOne(ctx context.Context, p meta.Project, sum string, f assembleFile) (assembleResult, error) {
	if !validSHA1(sum) {
		return errorResult("file checksum %q is not a SHA-1", sum), nil
	}
	for _, c := range f.Chunks {
		if !validSHA1(c) {
			return errorResult("chunk checksum %q is not a SHA-1", c), nil
		}
	}
	if int64(len(f.Chunks)) > d.cfg.MaxFileSize/d.cfg.ChunkSize+1 {
		return errorResult("file is larger than the maximum of %d bytes", d.cfg.MaxFileSize), nil
	}
	// From the chunk check to the start of the job, cleanup must not take
	// chunks the client was told are here.
	d.chunks.mu.RLock()
	defer d.chunks.mu.RUnlock()
	d.chunks.mark(d.cfg.Now(), f.Chunks...)
	key := jobKey{p.ID, sum}
	if st, ok := d.asm.status(key); ok {
		switch st.state {
		case stateError:
			return assembleResult{State: stateError, Detail: &st.detail}, nil
		case stateCreated, stateAssembling:
			return assembleResult{State: st.state}, nil
		}
	}
	done, err := d.cfg.Index.ListDebugFiles(ctx, p.ID, meta.DebugFileQuery{Checksum: sum})
	if err != nil {
		return assembleResult{}, err
	}
	if len(done) > 0 {
		return assembleResult{State: stateOK, Dif: toDifJSON(pick(done, f.DebugID))}, nil
	}
	// Bytes another project already uploaded need no chunks at all.
	_, blobErr := d.cfg.Blobs.Size(ctx, store.BlobKey(sum))
	fromBlob := blobErr == nil
	if !fromBlob {
		if len(f.Chunks) == 0 {
			return assembleResult{State: stateNotFound}, nil
		}
		var missing []string
		for _, c := range f.Chunks {
			if _, err := d.cfg.Blobs.Size(ctx, chunkKey(c)); errors.Is(err, blob.ErrNotFound) {
				missing = append(missing, c)
			} else if err != nil {
				return assembleResult{}, fmt.Errorf("web: chunk %s: %w", c, err)
			}
		}
		if len(missing) > 0 {
			return assembleResult{State: stateNotFound, MissingChunks: missing}, nil
		}
	}
	if d.cfg.ProjectQuota > 0 {
		// Every chunk but the last is full, which bounds the size from
		// below before assembly knows it exactly.
		used, err := d.cfg.Index.DebugFileBytes(ctx, p.ID)
		if err != nil {
			return assembleResult{}, err
		}
		if used+int64(max(len(f.Chunks)-1, 0))*d.cfg.ChunkSize > d.cfg.ProjectQuota {
			return errorResult("project debug-file quota of %d bytes exceeded (%d bytes used)", d.cfg.ProjectQuota, used), nil
		}
	}
	state := d.asm.start(key, job{name: f.Name, chunks: f.Chunks, fromBlob: fromBlob})
	return assembleResult{State: state}, nil
}

// pick prefers the object whose debug id the client named (a fat file has
// several).
func pick(files []meta.DebugFile, want string) meta.DebugFile {
	if id, err := debugid.Parse(want); err == nil {
		for _, f := range files {
			if f.DebugID == id.String() {
				return f
			}
		}
	}
	return files[len(files)-1]
}

type jobKey struct {
	project  int64
	checksum string
}

type job struct {
	name     string
	chunks   []string
	fromBlob bool
}

type jobStatus struct {
	state  string
	detail string
	chunks []string
}

// assembler runs assembly jobs in the background, a bounded number at
// once, and remembers how they ended until the client has asked.
type assembler struct {
	d    *DebugFiles
	ctx  context.Context
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	jobs map[jobKey]*jobStatus
}

func newAssembler(ctx context.Context, d *DebugFiles) *assembler {
	return &assembler{d: d, ctx: ctx, sem: make(chan struct{}, d.cfg.Assemblers), jobs: map[jobKey]*jobStatus{}}
}

// status reports a job; a failed job is forgotten once reported, so the
// client's next attempt starts afresh.
func (a *assembler) status(k jobKey) (jobStatus, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.jobs[k]
	if !ok {
		return jobStatus{}, false
	}
	if st.state == stateError || st.state == stateOK {
		delete(a.jobs, k)
	}
	return *st, true
}

// start begins a job unless one for the same file is already running, and
// returns the state to report.
func (a *assembler) start(k jobKey, j job) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st, ok := a.jobs[k]; ok && (st.state == stateCreated || st.state == stateAssembling) {
		return st.state
	}
	a.jobs[k] = &jobStatus{state: stateCreated, chunks: j.chunks}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		select {
		case a.sem <- struct{}{}:
		case <-a.ctx.Done():
			a.finish(k, a.ctx.Err())
			return
		}
		defer func() { <-a.sem }()
		a.set(k, stateAssembling)
		a.finish(k, a.run(k, j))
	}()
	return stateCreated
}

func (a *assembler) set(k jobKey, state string) {
	a.mu.Lock()
	a.jobs[k].state = state
	a.mu.Unlock()
}

func (a *assembler) finish(k jobKey, err error) {
	a.mu.Lock()
	st := a.jobs[k]
	if err != nil {
		st.state, st.detail = stateError, err.Error()
		a.d.log.Warn("debug file rejected", "project", k.project, "sha1", k.checksum, "err", err)
	} else {
		st.state = stateOK
	}
	a.mu.Unlock()
}

func (a *assembler) wait() { a.wg.Wait() }

// run checks that the chunks join to a file with the announced SHA-1,
// identifies the file and stores it. Where the blob store can compose
// blobs and read them in place, the file is read and stored as its chunks,
// so its bytes are written to disk once (as chunks) rather than twice.
func (a *assembler) run(k jobKey, j job) error {
	parts := make([]string, len(j.chunks))
	for i, c := range j.chunks {
		parts[i] = chunkKey(c)
	}
	if j.fromBlob {
		parts = []string{store.BlobKey(k.checksum)}
	}
	if _, ok := a.d.cfg.Blobs.(blob.Composer); ok || j.fromBlob {
		if done, err := a.runInPlace(k, j, parts); done {
			return err
		}
	}
	return a.runCopy(k, j)
}

// runInPlace assembles the file without writing it: it is hashed and
// identified through a ReaderAt over its parts and stored by composing
// them. done is false when the store's readers cannot read at offsets, and
// the caller copies instead.
func (a *assembler) runInPlace(k jobKey, j job, parts []string) (done bool, err error) {
	ctx := a.ctx
	cfg := a.d.cfg
	readers := make([]io.ReaderAt, 0, len(parts))
	sizes := make([]int64, 0, len(parts))
	var size int64
	defer func() {
		for _, r := range readers {
			r.(io.Closer).Close()
		}
	}()
	for i, key := range parts {
		rc, err := cfg.Blobs.Open(ctx, key)
		if errors.Is(err, blob.ErrNotFound) && !j.fromBlob {
			return true, fmt.Errorf("chunk %s vanished before assembly; upload it again", j.chunks[i])
		} else if err != nil {
			return true, fmt.Errorf("internal error: %w", err)
		}
		ra, ok := rc.(io.ReaderAt)
		if !ok {
			rc.Close()
			return false, nil
		}
		readers = append(readers, ra)
		n, err := cfg.Blobs.Size(ctx, key)
		if err != nil {
			return true, fmt.Errorf("internal error: %w", err)
		}
		sizes = append(sizes, n)
		if size += n; size > cfg.MaxFileSize {
			return true, fmt.Errorf("file is larger than the maximum of %d bytes", cfg.MaxFileSize)
		}
	}
	cat, err := blob.NewConcat(readers, sizes)
	if err != nil {
		return true, fmt.Errorf("internal error: %w", err)
	}
	h := sha1.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(cat, 0, size), make([]byte, 1<<20)); err != nil {
		return true, fmt.Errorf("internal error: reading chunks: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k.checksum {
		return true, fmt.Errorf("checksum mismatch: the chunks join to a file with SHA-1 %s, not %s", got, k.checksum)
	}
	if err := a.checkQuota(k, size); err != nil {
		return true, err
	}
	objs, err := identify.ReaderAt(cat, size, j.name)
	if err != nil {
		return true, err
	}
	files, err := a.d.store.AddParts(ctx, k.project, j.name, k.checksum, size, parts, objs)
	if err != nil {
		return true, fmt.Errorf("internal error: %w", err)
	}
	return true, a.stored(k, j, files, size)
}

// runCopy joins the chunks into a temporary file, checks the file's SHA-1,
// identifies it and stores it: the way for blob stores that cannot compose
// blobs or read them at offsets.
func (a *assembler) runCopy(k jobKey, j job) error {
	ctx := a.ctx
	cfg := a.d.cfg
	tmp, err := os.CreateTemp(cfg.TempDir, "cairn-dif-*")
	if err != nil {
		return fmt.Errorf("internal error: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha1.New()
	var size int64
	copyFrom := func(key string) error {
		rc, err := cfg.Blobs.Open(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(rc, cfg.MaxFileSize-size+1))
		size += n
		return err
	}
	if j.fromBlob {
		if err := copyFrom(store.BlobKey(k.checksum)); err != nil {
			return fmt.Errorf("internal error: %w", err)
		}
	} else {
		for _, c := range j.chunks {
			if err := copyFrom(chunkKey(c)); errors.Is(err, blob.ErrNotFound) {
				return fmt.Errorf("chunk %s vanished before assembly; upload it again", c)
			} else if err != nil {
				return fmt.Errorf("internal error: chunk %s: %w", c, err)
			}
			if size > cfg.MaxFileSize {
				break
			}
		}
	}
	if size > cfg.MaxFileSize {
		return fmt.Errorf("file is larger than the maximum of %d bytes", cfg.MaxFileSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k.checksum {
		return fmt.Errorf("checksum mismatch: the chunks join to a file with SHA-1 %s, not %s", got, k.checksum)
	}
	if err := a.checkQuota(k, size); err != nil {
		return err
	}
	objs, err := identify.File(tmp.Name())
	if err != nil {
		return err
	}
	files, err := a.d.store.Add(ctx, k.project, j.name, tmp.Name(), k.checksum, size, objs, true)
	if err != nil {
		return fmt.Errorf("internal error: %w", err)
	}
	return a.stored(k, j, files, size)
}

// checkQuota refuses a file that would take the project over its quota.
func (a *assembler) checkQuota(k jobKey, size int64) error {
	cfg := a.d.cfg
	if cfg.ProjectQuota <= 0 {
		return nil
	}
	used, err := cfg.Index.DebugFileBytes(a.ctx, k.project)
	if err != nil {
		return fmt.Errorf("internal error: %w", err)
	}
	if used+size > cfg.ProjectQuota {
		return fmt.Errorf("project debug-file quota of %d bytes exceeded (%d bytes used, the file has %d)", cfg.ProjectQuota, used, size)
	}
	return nil
}

// stored finishes a job whose file is indexed: the chunks are no longer
// needed (a composed file holds its own links to their bytes).
func (a *assembler) stored(k jobKey, j job, files []meta.DebugFile, size int64) error {
	a.d.log.Info("debug file stored", "project", k.project, "name", files[0].Name, "debug_id", files[0].DebugID, "objects", len(files), "bytes", size)
	a.dropChunks(k, j.chunks)
	if a.d.cfg.OnStored != nil {
		a.d.cfg.OnStored(a.ctx, files)
	}
	return nil
}

// dropChunks deletes the chunks of an assembled file, except those another
// running job still needs (identical chunks, such as runs of zeros, are
// shared between files).
func (a *assembler) dropChunks(k jobKey, chunks []string) {
	a.mu.Lock()
	busy := map[string]bool{}
	for other, st := range a.jobs {
		if other != k && (st.state == stateCreated || st.state == stateAssembling) {
			for _, c := range st.chunks {
				busy[c] = true
			}
		}
	}
	a.mu.Unlock()
	for _, c := range chunks {
		if !busy[c] {
			_ = a.d.cfg.Blobs.Delete(a.ctx, chunkKey(c))
		}
	}
}

// listDsyms lists a project's debug files, optionally those matching
// ?query= (a debug id, code id or SHA-1) or ?debug_id= and ?code_id= (as
// Symbolicator's sentry source asks); ?id=N downloads file N, as Sentry
// serves it to Symbolicator.
func (d *DebugFiles) listDsyms(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	p, err := d.projectFor(r, tok)
	if err != nil {
		return err
	}
	params := r.URL.Query()
	if params.Has("id") {
		return d.downloadDsym(w, r, p.ID, params.Get("id"))
	}
	q := meta.DebugFileQuery{Limit: maxPage}
	if n, err := strconv.Atoi(params.Get("per_page")); err == nil && n > 0 && n < maxPage {
		q.Limit = n
	}
	var files []meta.DebugFile
	debugID, codeID := strings.TrimSpace(params.Get("debug_id")), strings.TrimSpace(params.Get("code_id"))
	if debugID != "" || codeID != "" {
		files, err = d.lookupIDs(r.Context(), p.ID, debugID, codeID, q)
	} else {
		files, err = d.query(r.Context(), p.ID, strings.TrimSpace(params.Get("query")), q)
	}
	if err != nil {
		return err
	}
	out := make([]*difJSON, 0, len(files))
	for _, f := range files {
		out = append(out, toDifJSON(f))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (d *DebugFiles) query(ctx context.Context, projectID int64, query string, q meta.DebugFileQuery) ([]meta.DebugFile, error) {
	if query == "" {
		return d.cfg.Index.ListDebugFiles(ctx, projectID, q)
	}
	if validSHA1(strings.ToLower(query)) {
		q.Checksum = strings.ToLower(query)
		if files, err := d.cfg.Index.ListDebugFiles(ctx, projectID, q); err != nil || len(files) > 0 {
			return files, err
		}
		q.Checksum = ""
	}
	if id, err := debugid.Parse(query); err == nil {
		q.DebugID = id.String()
		if files, err := d.cfg.Index.ListDebugFiles(ctx, projectID, q); err != nil || len(files) > 0 {
			return files, err
		}
		q.DebugID = ""
	}
	q.CodeID = strings.ToLower(query)
	return d.cfg.Index.ListDebugFiles(ctx, projectID, q)
}

// lookupIDs lists the files matching a debug id, then those matching a
// code id, each file once.
func (d *DebugFiles) lookupIDs(ctx context.Context, projectID int64, debugID, codeID string, q meta.DebugFileQuery) ([]meta.DebugFile, error) {
	var out []meta.DebugFile
	seen := map[int64]bool{}
	if debugID != "" {
		id, err := debugid.Parse(debugID)
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, "debug_id: " + err.Error()}
		}
		q.DebugID = id.String()
		files, err := d.cfg.Index.ListDebugFiles(ctx, projectID, q)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			seen[f.ID] = true
			out = append(out, f)
		}
		q.DebugID = ""
	}
	if codeID != "" {
		q.CodeID = strings.ToLower(codeID)
		files, err := d.cfg.Index.ListDebugFiles(ctx, projectID, q)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if !seen[f.ID] {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// downloadDsym sends the content of one debug file of the project.
func (d *DebugFiles) downloadDsym(w http.ResponseWriter, r *http.Request, projectID int64, idParam string) error {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil {
		return &httpError{http.StatusBadRequest, "id: want the numeric id the list gives"}
	}
	files, err := d.cfg.Index.ListDebugFiles(r.Context(), projectID, meta.DebugFileQuery{ID: id})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errNotFound
	}
	f := files[0]
	rc, err := d.store.Open(r.Context(), f)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(f.Name)))
	if f.Size > 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}

// deleteDsym deletes ?id=N (Sentry's API), freeing the bytes when no other
// project shares them.
func (d *DebugFiles) deleteDsym(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	p, err := d.projectFor(r, tok)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		return &httpError{http.StatusBadRequest, "the id parameter is required"}
	}
	files, err := d.cfg.Index.ListDebugFiles(r.Context(), p.ID, meta.DebugFileQuery{ID: id})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errNotFound
	}
	if err := d.store.Delete(r.Context(), p.ID, files[0]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
