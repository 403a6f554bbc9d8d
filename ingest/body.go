package ingest

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"github.com/klauspost/compress/flate"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// memBudget is the shared allowance of request-body bytes held in memory.
type memBudget struct {
	max  int64
	used atomic.Int64
}

// lease is one request's share of the budget, returned when the request
// ends.
type lease struct {
	b *memBudget
	n int64
}

func (l *lease) take(n int64) bool {
	if n <= 0 {
		return true
	}
	if l.b.used.Add(n) > l.b.max {
		l.b.used.Add(-n)
		return false
	}
	l.n += n
	return true
}

func (l *lease) release() {
	if l.n != 0 {
		l.b.used.Add(-l.n)
		l.n = 0
	}
}

var (
	errBodyTooLarge = errors.New("body too large")
	errOverBudget   = errors.New("memory budget exhausted")
)

// limitedReader fails once more than max bytes have come out of it, and
// remembers that it did: decompressors and the multipart reader may wrap
// or replace the error they got, but the flag survives.
type limitedReader struct {
	r        io.Reader
	max, n   int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errBodyTooLarge
	}
	if room := l.max - l.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.exceeded = true
		return 0, errBodyTooLarge
	}
	return n, err
}

// body is a request body decoded according to its Content-Encoding,
// bounded after decoding by limit (and before decoding by rawLimit) and
// charged to the memory budget as it is read.
type body struct {
	what      string // what the client sent, for error messages: "event", "envelope", ...
	encoding  string
	raw       *limitedReader
	out       *limitedReader
	lease     *lease
	budgetHit bool
	closers   []func()
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.out.Read(p)
	if n > 0 && !b.lease.take(int64(n)) {
		b.budgetHit = true
		return 0, errOverBudget
	}
	return n, err
}

func (b *body) close() {
	for _, c := range b.closers {
		c()
	}
	b.closers = nil
}

// fail turns a read error into the refusal the client gets. Limit and
// budget flags are consulted first, because a decompressor that hit the
// limit may report it as a corrupt stream.
func (b *body) fail(err error) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case b.raw.exceeded:
		return tooLarge("%s body exceeds %d bytes", b.what, b.raw.max)
	case b.out != nil && b.out.exceeded:
		if b.encoding != "" {
			return tooLarge("%s body exceeds %d bytes after %s decompression", b.what, b.out.max, b.encoding)
		}
		return tooLarge("%s body exceeds %d bytes", b.what, b.out.max)
	case b.budgetHit:
		return unavailable(err, 5, "server is busy with other uploads, retry later")
	case b.encoding != "":
		return badRequest(err, "invalid %s-encoded body: %v", b.encoding, err)
	default:
		return badRequest(err, "reading request body: %v", err)
	}
}

// maxEncodedOverhead is how much larger than its decoded limit a
// compressed body may be: incompressible data grows a little when
// compressed, and a request must not be refused for that.
const maxEncodedOverhead = 64 << 10

// openBody prepares r's body for reading: at most limit bytes after
// decoding every Content-Encoding (gzip, x-gzip, deflate, br, zstd,
// identity, and comma-separated stacks of them).
func (h *handler) openBody(rq *request, what string, limit int64) (*body, error) {
	r := rq.r
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "identity" {
		enc = ""
	}
	rawLimit := limit
	if enc != "" {
		rawLimit += maxEncodedOverhead
	}
	if r.ContentLength > rawLimit {
		return nil, tooLarge("%s body of %d bytes exceeds %d bytes", what, r.ContentLength, rawLimit)
	}
	b := &body{what: what, encoding: enc, lease: rq.lease}
	b.raw = &limitedReader{r: r.Body, max: rawLimit}
	var rd io.Reader = b.raw
	if enc != "" {
		codings := strings.Split(enc, ",")
		if len(codings) > 2 {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, reason: "unsupported_encoding", detail: "more than two stacked Content-Encodings"}
		}
		// Codings are listed in the order they were applied, so undo
		// them from the last.
		for i := len(codings) - 1; i >= 0; i-- {
			c := strings.TrimSpace(codings[i])
			dec, closer, err := h.decoder(c, rd)
			if err != nil {
				b.close()
				var ae *apiError
				if errors.As(err, &ae) {
					return nil, ae
				}
				return nil, b.fail(err)
			}
			if closer != nil {
				b.closers = append(b.closers, closer)
			}
			rd = dec
		}
	}
	b.out = &limitedReader{r: rd, max: limit}
	return b, nil
}

// decoder wraps r in the decompressor for one HTTP content coding.
func (h *handler) decoder(coding string, r io.Reader) (io.Reader, func(), error) {
	switch coding {
	case "", "identity":
		return r, nil, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case "deflate":
		// HTTP's deflate is zlib-wrapped, but some clients send a raw
		// deflate stream; tell them apart by the zlib header check.
		br := bufio.NewReader(r)
		if hdr, err := br.Peek(2); err == nil && isZlibHeader(hdr) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, fmt.Errorf("zlib header: %w", err)
			}
			return zr, func() { zr.Close() }, nil
		}
		fr := flate.NewReader(br)
		return fr, func() { fr.Close() }, nil
	case "br":
		return brotli.NewReader(r), nil, nil
	case "zstd":
		return h.zstdReader(r)
	default:
		return nil, nil, &apiError{status: http.StatusUnsupportedMediaType, reason: "unsupported_encoding",
			detail: fmt.Sprintf("unsupported Content-Encoding %q (supported: gzip, deflate, br, zstd)", coding)}
	}
}

func isZlibHeader(h []byte) bool {
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// zstdReader takes a decoder from the pool for r; the returned func puts
// it back.
func (h *handler) zstdReader(r io.Reader) (io.Reader, func(), error) {
	dec := h.zstdPool.Get().(*zstd.Decoder)
	if err := dec.Reset(r); err != nil {
		h.zstdPool.Put(dec)
		return nil, nil, fmt.Errorf("zstd: %w", err)
	}
	return dec, func() {
		if dec.Reset(nil) == nil {
			h.zstdPool.Put(dec)
		}
	}, nil
}

// newZstdPool makes decoders that run synchronously (no goroutines per
// request) and refuse frames whose window would cost more memory than any
// legitimate client uses.
func newZstdPool(maxOut int64) *sync.Pool {
	return &sync.Pool{New: func() any {
		dec, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(32<<20),
			zstd.WithDecoderMaxMemory(uint64(maxOut)+1))
		if err != nil {
			// The options above are constant and valid; NewReader only
			// fails on invalid options.
			panic(fmt.Sprintf("ingest: zstd decoder options: %v", err))
		}
		return dec
	}}
}

// readBody reads the whole request body, decoded and bounded.
func (h *handler) readBody(rq *request, what string, limit int64) ([]byte, error) {
	b, err := h.openBody(rq, what, limit)
	if err != nil {
		return nil, err
	}
	defer b.close()
	return readAll(b, rq.r.ContentLength)
}

// readAll reads the whole body into memory. The buffer starts at the
// Content-Length of an unencoded body, so the common case is one
// allocation and no copy; but at most at initialCapMax, so that a client
// announcing a huge body it never sends cannot make the server reserve
// memory the budget does not see.
func readAll(b *body, sizeHint int64) ([]byte, error) {
	return readMore(b, make([]byte, 0, initialCap(b, sizeHint)))
}

const initialCapMax = 1 << 20

func initialCap(b *body, sizeHint int64) int {
	if b.encoding == "" && sizeHint >= 0 && sizeHint < initialCapMax {
		return int(sizeHint) + 1 // +1 so that the final read sees EOF without growing
	}
	if b.encoding == "" && sizeHint >= initialCapMax {
		return initialCapMax
	}
	return 4 << 10
}

// readMore appends the rest of b to buf.
func readMore(b *body, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(4<<10, len(buf)))
		}
		n, err := b.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return nil, b.fail(err)
		}
	}
}

// Magic numbers of the containers a minidump may arrive in, as Sentry's
// minidump endpoint accepts them.
var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte("BZh")
)

// decodeContainer undoes a gzip, zstd, xz or bzip2 wrapper around data,
// bounded to limit bytes of output; data without a known wrapper comes back
// as it is. The second result names the wrapper.
func (h *handler) decodeContainer(data []byte, limit int64, what string) ([]byte, string, error) {
	var (
		rd     io.Reader
		kind   string
		closer func()
	)
	src := bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(data, magicGzip):
		kind = "gzip"
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, kind, badRequest(err, "%s: invalid gzip container: %v", what, err)
		}
		rd, closer = zr, func() { zr.Close() }
	case bytes.HasPrefix(data, magicZstd):
		kind = "zstd"
		var err error
		if rd, closer, err = h.zstdReader(src); err != nil {
			return nil, kind, badRequest(err, "%s: invalid zstd container: %v", what, err)
		}
	case bytes.HasPrefix(data, magicXz):
		kind = "xz"
		xr, err := xz.NewReader(src)
		if err != nil {
			return nil, kind, badRequest(err, "%s: invalid xz container: %v", what, err)
		}
		rd = xr
	case bytes.HasPrefix(data, magicBzip2):
		kind = "bzip2"
		rd = bzip2.NewReader(src)
	default:
		return data, "", nil
	}
	if closer != nil {
		defer closer()
	}
	lr := &limitedReader{r: rd, max: limit}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(lr); err != nil {
		if lr.exceeded {
			return nil, kind, tooLarge("%s exceeds %d bytes after %s decompression", what, limit, kind)
		}
		return nil, kind, badRequest(err, "%s: invalid %s container: %v", what, kind, err)
	}
	return buf.Bytes(), kind, nil
}
