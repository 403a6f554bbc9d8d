package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Client talks to one server for one project.
type Client struct {
	// URL is the server's base URL ("http://127.0.0.1:8000").
	URL     string
	Org     string
	Project string
	Token   string
	// HTTP defaults to http.DefaultClient.
	HTTP *http.Client
}

// Options tune an upload.
type Options struct {
	// Wait polls until the server has processed every file.
	Wait bool
	// Concurrency overrides the parallel requests the server suggests.
	Concurrency int
	// NoCompress sends chunks as they are instead of gzip-compressed;
	// faster on a fast network, where compressing costs more than it saves.
	NoCompress bool
	// Progress receives byte counts as chunks are hashed and sent; nil
	// reports nothing.
	Progress *Progress
	// PollInterval between assemble requests while waiting; default 500ms.
	PollInterval time.Duration
	// OnSent, when set, is called once every missing chunk has been sent,
	// before the server is asked to assemble; benchmarks time assembly
	// from there.
	OnSent func()
}

// Result is how one file ended.
type Result struct {
	Path     string   `json:"path"`
	Name     string   `json:"name"`
	DebugIDs []string `json:"debug_ids"`
	Arches   []string `json:"arches"`
	Size     int64    `json:"size"`
	SHA1     string   `json:"sha1"`
	// State is the server's last answer: "ok", "error", "created",
	// "assembling"; Detail explains an error.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// Existed is true when the server had the file before this run.
	Existed bool `json:"existed"`
	// SentBytes is how much of the file this run sent (chunks the server
	// already had are not sent again).
	SentBytes int64 `json:"sent_bytes"`
}

// ServerOptions is the server's chunk-upload configuration.
type ServerOptions struct {
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

// APIError is an error answer of the server.
type APIError struct {
	Status int
	Detail string
}

// Error implements error.
func (e *APIError) Error() string { return fmt.Sprintf("server answered %d: %s", e.Status, e.Detail) }

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, url, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "cairn-upload")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("upload: %s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &e) != nil || e.Detail == "" {
			e.Detail = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("upload: %s %s: %w", method, url, &APIError{resp.StatusCode, e.Detail})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("upload: %s %s: %w", method, url, err)
		}
	}
	return nil
}

// Options asks the server how it takes chunks.
func (c *Client) Options(ctx context.Context) (ServerOptions, error) {
	var o ServerOptions
	err := c.do(ctx, "GET", strings.TrimSuffix(c.URL, "/")+"/api/0/organizations/"+c.Org+"/chunk-upload/", "", nil, &o)
	if err == nil && (o.ChunkSize <= 0 || o.HashAlgorithm != "sha1") {
		err = fmt.Errorf("upload: unsupported chunk-upload options %+v", o)
	}
	return o, err
}

type assembleReq struct {
	Name    string   `json:"name"`
	DebugID string   `json:"debug_id,omitempty"`
	Chunks  []string `json:"chunks"`
}

type assembleResp struct {
	State         string   `json:"state"`
	MissingChunks []string `json:"missingChunks"`
	Detail        *string  `json:"detail"`
}

func (c *Client) assemble(ctx context.Context, files []*File) (map[string]assembleResp, error) {
	req := map[string]assembleReq{}
	for _, f := range files {
		var id string
		if len(f.Objects) > 0 {
			id = f.Objects[0].DebugID
		}
		req[f.Checksum] = assembleReq{Name: f.Name, DebugID: id, Chunks: f.Chunks}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	var out map[string]assembleResp
	err = c.do(ctx, "POST", strings.TrimSuffix(c.URL, "/")+"/api/0/projects/"+c.Org+"/"+c.Project+"/files/difs/assemble/",
		"application/json", bytes.NewReader(body), &out)
	return out, err
}

// Hash fills in the file's checksum and chunk hashes for chunkSize.
func Hash(f *File, chunkSize int64, p *Progress) error {
	r, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer r.Close()
	whole := sha1.New()
	buf := make([]byte, chunkSize)
	f.Chunks = f.Chunks[:0]
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			whole.Write(buf[:n])
			s := sha1.Sum(buf[:n])
			f.Chunks = append(f.Chunks, hex.EncodeToString(s[:]))
			p.hashed(int64(n))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("upload: %s: %w", f.Path, err)
		}
	}
	f.Checksum = hex.EncodeToString(whole.Sum(nil))
	return nil
}

// chunkRef is one chunk to send.
type chunkRef struct {
	file  *File
	index int
	sum   string
	size  int64
}

// Upload sends files to the server and returns one result per file, in
// order. Files the server already has are not sent; chunks it already has
// (from an interrupted earlier run) are not sent again.
func (c *Client) Upload(ctx context.Context, files []File, opt Options) ([]Result, error) {
	so, err := c.Options(ctx)
	if err != nil {
		return nil, err
	}
	if !contains(so.Accept, "debug_files") {
		return nil, fmt.Errorf("upload: the server does not accept debug files")
	}
	conc := opt.Concurrency
	if conc <= 0 {
		conc = max(so.Concurrency, 1)
	}
	p := opt.Progress
	ptrs := make([]*File, len(files))
	results := make([]Result, len(files))
	var total int64
	for i := range files {
		f := &files[i]
		ptrs[i] = f
		if so.MaxFileSize > 0 && f.Size > so.MaxFileSize {
			return nil, fmt.Errorf("upload: %s is %d bytes, more than the server's maximum of %d", f.Path, f.Size, so.MaxFileSize)
		}
		total += f.Size
		results[i] = Result{Path: f.Path, Name: f.Name, Size: f.Size}
		for _, o := range f.Objects {
			results[i].DebugIDs = append(results[i].DebugIDs, o.DebugID)
			results[i].Arches = append(results[i].Arches, o.Arch)
		}
	}
	p.start(ptrs)
	defer p.stop()

	var g errgroup.Group
	g.SetLimit(conc)
	for _, f := range ptrs {
		g.Go(func() error { return Hash(f, so.ChunkSize, p) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, f := range ptrs {
		results[i].SHA1 = f.Checksum
	}
	if len(ptrs) == 0 {
		return results, nil
	}

	first, err := c.assemble(ctx, ptrs)
	if err != nil {
		return nil, err
	}
	var todo []chunkRef
	queued := map[string]bool{}
	var pending []*File
	for i, f := range ptrs {
		a := first[f.Checksum]
		results[i].State = a.State
		switch a.State {
		case "ok":
			results[i].Existed = true
			p.sent(f, f.Size)
			continue
		case "error":
			// A failure of an earlier attempt; asking again retries.
		case "not_found":
			missing := map[string]bool{}
			for _, m := range a.MissingChunks {
				missing[m] = true
			}
			for ci, sum := range f.Chunks {
				size := min(so.ChunkSize, f.Size-int64(ci)*so.ChunkSize)
				if !missing[sum] || queued[sum] {
					p.sent(f, size)
					continue
				}
				queued[sum] = true
				todo = append(todo, chunkRef{file: f, index: ci, sum: sum, size: size})
				results[i].SentBytes += size
			}
		default:
			p.sent(f, f.Size)
		}
		pending = append(pending, f)
	}

	if err := c.sendChunks(ctx, so, todo, conc, !opt.NoCompress && contains(so.Compression, "gzip"), p); err != nil {
		return results, err
	}
	if opt.OnSent != nil {
		opt.OnSent()
	}
	if len(pending) == 0 {
		return results, nil
	}
	interval := opt.PollInterval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	byChecksum := map[string]int{}
	for i, f := range ptrs {
		byChecksum[f.Checksum] = i
	}
	for {
		answers, err := c.assemble(ctx, pending)
		if err != nil {
			return results, err
		}
		var still []*File
		for _, f := range pending {
			a := answers[f.Checksum]
			r := &results[byChecksum[f.Checksum]]
			r.State = a.State
			if a.Detail != nil {
				r.Detail = *a.Detail
			}
			switch a.State {
			case "ok", "error":
				p.done(f, a.State)
			case "not_found":
				return results, fmt.Errorf("upload: %s: the server lost chunks %v; run the upload again", f.Path, a.MissingChunks)
			default:
				still = append(still, f)
			}
		}
		if len(still) == 0 || !opt.Wait {
			return results, nil
		}
		pending = still
		select {
		case <-ctx.Done():
			return results, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// sendChunks posts chunks in batches of up to chunksPerRequest and
// maxRequestSize, conc requests at once.
func (c *Client) sendChunks(ctx context.Context, so ServerOptions, todo []chunkRef, conc int, gz bool, p *Progress) error {
	perReq := max(so.ChunksPerRequest, 1)
	maxReq := so.MaxRequestSize
	if maxReq <= 0 {
		maxReq = 32 << 20
	}
	var batches [][]chunkRef
	var cur []chunkRef
	var curSize int64
	for _, ch := range todo {
		if len(cur) > 0 && (len(cur) >= perReq || curSize+ch.size > maxReq) {
			batches = append(batches, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, ch)
		curSize += ch.size
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	url := so.URL
	if url == "" {
		url = strings.TrimSuffix(c.URL, "/") + "/api/0/organizations/" + c.Org + "/chunk-upload/"
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	var bufs sync.Pool
	for _, b := range batches {
		g.Go(func() error { return c.sendBatch(gctx, url, so.ChunkSize, b, gz, p, &bufs) })
	}
	return g.Wait()
}

func (c *Client) sendBatch(ctx context.Context, url string, chunkSize int64, batch []chunkRef, gz bool, p *Progress, bufs *sync.Pool) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		buf, _ := bufs.Get().([]byte)
		if int64(len(buf)) < chunkSize {
			buf = make([]byte, chunkSize)
		}
		defer bufs.Put(buf)
		err := func() error {
			for _, ch := range batch {
				f, err := os.Open(ch.file.Path)
				if err != nil {
					return err
				}
				n, err := f.ReadAt(buf[:ch.size], int64(ch.index)*chunkSize)
				f.Close()
				if err != nil && !(errors.Is(err, io.EOF) && int64(n) == ch.size) {
					return fmt.Errorf("%s: %w", ch.file.Path, err)
				}
				field := "file"
				if gz {
					field = "file_gzip"
				}
				w, err := mw.CreateFormFile(field, ch.sum)
				if err != nil {
					return err
				}
				if gz {
					zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
					if _, err := zw.Write(buf[:n]); err != nil {
						return err
					}
					if err := zw.Close(); err != nil {
						return err
					}
				} else if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	err := c.do(ctx, "POST", url, mw.FormDataContentType(), pr, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return err
	}
	for _, ch := range batch {
		p.sent(ch.file, ch.size)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
