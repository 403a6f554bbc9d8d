package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// DebugFileConfig turns on the debug-file endpoints: sentry-cli's chunked
// upload, the dsyms list, and Breakpad's symupload.
type DebugFileConfig struct {
	Blobs blob.Store
	// Index must be implemented by the meta store; Tokens may be nil, and
	// then tokens are scoped to their organization only.
	Index  meta.DebugFiles
	Tokens meta.TokenProjects
	// TempDir receives files being assembled; "" is os.TempDir.
	TempDir string
	// ChunkSize is offered to clients (a power of two); MaxFileSize bounds
	// one debug file, ProjectQuota the bytes of a project's distinct files
	// (zero: unlimited); MaxRequestSize one chunk POST.
	ChunkSize      int64
	MaxFileSize    int64
	ProjectQuota   int64
	MaxRequestSize int64
	// ChunksPerRequest and Concurrency are what clients are told to use.
	ChunksPerRequest int
	Concurrency      int
	// Assemblers bounds the files assembled at once.
	Assemblers int
	// OnStored is called after a file is indexed, to build derived caches
	// ahead of the first crash that needs them; nil does nothing.
	OnStored func(ctx context.Context, files []meta.DebugFile)
	// ChunkCleanupInterval is how often chunks that were uploaded but
	// never assembled (a client died mid-upload) are looked for, and
	// ChunkMaxAge how long such a chunk is kept; defaults 10 minutes and 24
	// hours. A negative interval turns the periodic cleanup off.
	ChunkCleanupInterval time.Duration
	ChunkMaxAge          time.Duration
	// Now is the clock chunk ages are measured by; nil is time.Now.
	Now func() time.Time
}

func (c *DebugFileConfig) defaults() {
	if c.ChunkSize == 0 {
		c.ChunkSize = 8 << 20
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = 4 << 30
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = 64 << 20
	}
	if c.ChunksPerRequest == 0 {
		c.ChunksPerRequest = int(c.MaxRequestSize / c.ChunkSize)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Assemblers == 0 {
		c.Assemblers = 4
	}
	if c.ChunkCleanupInterval == 0 {
		c.ChunkCleanupInterval = 10 * time.Minute
	}
	if c.ChunkMaxAge == 0 {
		c.ChunkMaxAge = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// DebugFiles serves the debug-file endpoints beside the API, sharing its
// token authentication.
type DebugFiles struct {
	api    *API
	cfg    DebugFileConfig
	store  *store.Store
	asm    *assembler
	chunks chunkLedger
	log    *slog.Logger
}

// EnableDebugFiles mounts the debug-file endpoints on the API. ctx bounds
// the background work: when it ends, assembly jobs and the periodic
// cleanup of abandoned chunks stop.
func (a *API) EnableDebugFiles(ctx context.Context, cfg DebugFileConfig) *DebugFiles {
	cfg.defaults()
	d := &DebugFiles{api: a, cfg: cfg, store: &store.Store{Blobs: cfg.Blobs, Index: cfg.Index}, log: a.log}
	d.chunks.seen = map[string]time.Time{}
	d.asm = newAssembler(ctx, d)
	if cfg.ChunkCleanupInterval > 0 {
		go d.cleanChunksEvery(ctx)
	}
	a.mux.HandleFunc("GET /api/0/organizations/{org}/chunk-upload/", a.authed("project:write", d.chunkOptions))
	a.mux.HandleFunc("POST /api/0/organizations/{org}/chunk-upload/", a.authed("project:write", d.chunkUpload))
	a.mux.HandleFunc("POST /api/0/projects/{org}/{project}/files/difs/assemble/", a.authed("project:write", d.assemble))
	a.mux.HandleFunc("GET /api/0/projects/{org}/{project}/files/dsyms/", a.authed("project:read", d.listDsyms))
	a.mux.HandleFunc("DELETE /api/0/projects/{org}/{project}/files/dsyms/", a.authed("project:write", d.deleteDsym))
	a.mux.Handle("POST /api/0/projects/{org}/{project}/files/symupload/", symuploadAuth(a.authed("project:write", d.symupload)))
	return d
}

// Store is the debug-file store the endpoints fill; the symbolicator's
// internal source looks files up in it.
func (d *DebugFiles) Store() *store.Store { return d.store }

// Wait blocks until every assembly job started so far is done; servers
// call it on shutdown so no half-stored file is abandoned.
func (d *DebugFiles) Wait() { d.asm.wait() }

// chunkKey is where an uploaded chunk waits for assembly.
func chunkKey(sum string) string { return "chunks/" + sum[:2] + "/" + sum }

func validSHA1(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// orgFor resolves {org} and checks the token belongs to it; a token of
// another organization is refused (403), as Sentry does for upload paths.
func (d *DebugFiles) orgFor(ctx context.Context, tok meta.Token, slug string) (meta.Organization, error) {
	org, err := d.api.meta.OrgBySlug(ctx, slug)
	if err != nil {
		return org, err
	}
	if org.ID != tok.OrgID {
		return org, errForbidden
	}
	return org, nil
}

// projectFor resolves {org}/{project} for the debug-file endpoints: a token
// of another organization, or one restricted to other projects, gets 403.
func (d *DebugFiles) projectFor(r *http.Request, tok meta.Token) (meta.Project, error) {
	org, err := d.orgFor(r.Context(), tok, r.PathValue("org"))
	if err != nil {
		return meta.Project{}, err
	}
	p, err := d.api.meta.ProjectBySlug(r.Context(), org.ID, r.PathValue("project"))
	if err != nil {
		return p, err
	}
	if err := d.api.canRead(r.Context(), tok, p); err != nil {
		return p, err
	}
	if d.cfg.Tokens != nil {
		ids, err := d.cfg.Tokens.TokenProjects(r.Context(), tok.ID)
		if err != nil {
			return p, err
		}
		if len(ids) > 0 && !containsID(ids, p.ID) {
			return p, errForbidden
		}
	}
	return p, nil
}

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// chunkUploadOptions is the answer sentry-cli reads before uploading.
type chunkUploadOptions struct {
	URL              string   `json:"url"`
	ChunkSize        int64    `json:"chunkSize"`
	ChunksPerRequest int      `json:"chunksPerRequest"`
	MaxFileSize      int64    `json:"maxFileSize"`
	MaxRequestSize   int64    `json:"maxRequestSize"`
	Concurrency      int      `json:"concurrency"`
	HashAlgorithm    string   `json:"hashAlgorithm"`
	Compression      []string `json:"compression"`
	Accept           []string `json:"accept"`
}

func (d *DebugFiles) chunkOptions(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	if _, err := d.orgFor(r.Context(), tok, r.PathValue("org")); err != nil {
		return err
	}
	c := d.cfg
	base := d.api.baseURL
	if base == "" {
		base = "http://" + r.Host
	}
	writeJSON(w, http.StatusOK, chunkUploadOptions{
		URL:       base + "/api/0/organizations/" + r.PathValue("org") + "/chunk-upload/",
		ChunkSize: c.ChunkSize, ChunksPerRequest: c.ChunksPerRequest, MaxFileSize: c.MaxFileSize,
		MaxRequestSize: c.MaxRequestSize, Concurrency: c.Concurrency, HashAlgorithm: "sha1",
		Compression: []string{"gzip"},
		// "debug_files" selects the chunked path in sentry-cli; "pdbs",
		// "portablepdbs" and "sources" let it send PDBs and source bundles
		// instead of skipping them.
		Accept: []string{"debug_files", "pdbs", "portablepdbs", "sources"},
	})
	return nil
}

// chunkUpload receives chunks as multipart parts named "file" (plain) or
// "file_gzip", each with the SHA-1 of the uncompressed chunk as file name.
// It streams: a part is hashed and written while it is read, never held
// whole in memory beyond one chunk.
func (d *DebugFiles) chunkUpload(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	if _, err := d.orgFor(r.Context(), tok, r.PathValue("org")); err != nil {
		return err
	}
	c := d.cfg
	r.Body = http.MaxBytesReader(w, r.Body, c.MaxRequestSize)
	mr, err := r.MultipartReader()
	if err != nil {
		return &httpError{http.StatusBadRequest, "expected a multipart/form-data body: " + err.Error()}
	}
	buf := bytes.NewBuffer(make([]byte, 0, c.ChunkSize))
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tooLargeOr(err, http.StatusBadRequest, "reading the multipart body")
		}
		if n >= c.ChunksPerRequest*2 {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("more than %d chunks in one request", c.ChunksPerRequest)}
		}
		want := strings.ToLower(part.FileName())
		var src io.Reader = part
		switch part.FormName() {
		case "file":
		case "file_gzip":
			zr, err := gzip.NewReader(part)
			if err != nil {
				return &httpError{http.StatusBadRequest, "chunk " + want + ": bad gzip data"}
			}
			src = zr
		default:
			continue
		}
		if !validSHA1(want) {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("chunk file name %q is not a SHA-1", part.FileName())}
		}
		buf.Reset()
		h := sha1.New()
		// One byte more than a chunk may hold tells an oversized chunk
		// (or a gzip bomb) from a full one without reading it all.
		if _, err := io.Copy(io.MultiWriter(buf, h), io.LimitReader(src, c.ChunkSize+1)); err != nil {
			return tooLargeOr(err, http.StatusBadRequest, "chunk "+want)
		}
		if int64(buf.Len()) > c.ChunkSize {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("chunk %s is larger than the chunk size %d", want, c.ChunkSize)}
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("chunk checksum mismatch: named %s, content hashes to %s", want, got)}
		}
		if err := d.storeChunk(r.Context(), want, buf.Bytes()); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// storeChunk keeps a verified chunk unless it is already here (chunks are
// content-addressed). Marking it first, under the ledger's shared lock,
// keeps cleanup from deleting a stored chunk the client now counts on.
func (d *DebugFiles) storeChunk(ctx context.Context, sum string, data []byte) error {
	d.chunks.mu.RLock()
	defer d.chunks.mu.RUnlock()
	d.chunks.mark(d.cfg.Now(), sum)
	if _, err := d.cfg.Blobs.Size(ctx, chunkKey(sum)); err == nil {
		return nil
	}
	if err := d.cfg.Blobs.Put(ctx, chunkKey(sum), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("web: store chunk %s: %w", sum, err)
	}
	return nil
}

func tooLargeOr(err error, status int, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request larger than %d bytes", mbe.Limit)}
	}
	return &httpError{status, what + ": " + err.Error()}
}
