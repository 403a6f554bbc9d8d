package ingest

import (
	"bytes"
	"encoding/base64"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// store handles POST /api/{pid}/store/: one JSON event.
func (h *handler) store(rq *request) (*result, error) {
	if err := h.authRequest(rq); err != nil {
		return nil, err
	}
	if err := h.checkRate(rq); err != nil {
		return nil, err
	}
	raw, err := h.readBody(rq, "event", h.cfg.MaxEventSize)
	if err != nil {
		return nil, err
	}
	raw, err = h.legacyStoreBody(raw)
	if err != nil {
		return nil, err
	}
	ev, id, err := prepareEvent(raw, "")
	if err != nil {
		return nil, err
	}
	rq.eventID = id
	if err := h.commit(rq, &Accepted{EventID: id, Event: ev}); err != nil {
		return nil, err
	}
	return &result{eventID: id, stored: true}, nil
}

// legacyStoreBody undoes the encoding of old SDKs (raven), which sent the
// store body as base64 of zlib-compressed JSON. Anything starting like
// JSON is returned as is.
func (h *handler) legacyStoreBody(raw []byte) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, badRequest(nil, "empty request body")
	}
	if t[0] == '{' || t[0] == '[' || t[0] == '"' {
		return t, nil
	}
	dec, err := base64.StdEncoding.DecodeString(string(t))
	if err != nil {
		return nil, badRequest(err, "event payload is neither JSON nor base64")
	}
	var rd io.Reader
	if len(dec) >= 2 && isZlibHeader(dec) {
		zr, err := zlib.NewReader(bytes.NewReader(dec))
		if err != nil {
			return nil, badRequest(err, "invalid zlib event payload: %v", err)
		}
		defer zr.Close()
		rd = zr
	} else if len(dec) > 0 && dec[0] == '{' {
		return dec, nil
	} else {
		rd = flate.NewReader(bytes.NewReader(dec))
	}
	lr := &limitedReader{r: rd, max: h.cfg.MaxEventSize}
	out, err := io.ReadAll(lr)
	if err != nil {
		if lr.exceeded {
			return nil, tooLarge("event exceeds %d bytes after decompression", h.cfg.MaxEventSize)
		}
		return nil, badRequest(err, "invalid compressed event payload: %v", err)
	}
	return out, nil
}
