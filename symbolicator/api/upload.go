package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"

	"github.com/cairn-dev/cairn/internal/mmapfile"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// upload is a file part of a multipart request, stored in a temporary
// file and mapped: a 100 MiB minidump never sits on the Go heap.
type upload struct {
	path string
	m    *mmapfile.File
}

// bytes is the upload's content, valid until close.
func (u *upload) bytes() []byte { return u.m.Bytes() }

// close unmaps and removes the upload.
func (u *upload) close() {
	if u.m != nil {
		u.m.Close()
	}
	os.Remove(u.path)
}

// form is what a symbolication form carries besides its file.
type form struct {
	file *upload
	// sources is the raw "sources" field; nil when absent.
	sources []byte
}

// readForm streams a multipart/form-data request: the part named
// filePart to a temporary file (at most MaxUploadBytes), "sources" and
// "options" into memory (at most maxFieldBytes each); other parts are
// skipped, as Symbolicator skips them.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, filePart string) (_ *form, err error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, perr := mime.ParseMediaType(ct); perr != nil || mt != "multipart/form-data" {
		return nil, badRequest("Content-Type %q: want multipart/form-data with the file in part %q", ct, filePart)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes+maxFieldBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("reading the multipart form: %v", err)
	}
	f := &form{}
	defer func() {
		if err != nil && f.file != nil {
			f.file.close()
		}
	}()
	for {
		part, perr := mr.NextPart()
		if perr == io.EOF {
			break
		}
		if perr != nil {
			return nil, s.formError("reading the multipart form", perr)
		}
		switch name := part.FormName(); name {
		case filePart:
			if f.file != nil {
				return nil, badRequest("part %q given twice; send one file per request", filePart)
			}
			f.file, err = s.store(part, filePart)
			if err != nil {
				return nil, err
			}
		case "sources":
			if f.sources, err = readField(part, name); err != nil {
				return nil, s.formError("reading part \"sources\"", err)
			}
			if f.sources == nil {
				f.sources = []byte{}
			}
		case "options":
			opts, rerr := readField(part, name)
			if rerr != nil {
				return nil, s.formError("reading part \"options\"", rerr)
			}
			// Options only steer Symbolicator features Cairn does not
			// have; they are checked to be an object and otherwise
			// ignored, whatever keys they hold.
			var m map[string]json.RawMessage
			if len(bytes.TrimSpace(opts)) > 0 && json.Unmarshal(opts, &m) != nil {
				return nil, badRequest("part \"options\": want a JSON object such as {\"dif_candidates\": true}")
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, s.formError(fmt.Sprintf("reading part %q", name), err)
			}
		}
	}
	if f.file == nil {
		return nil, badRequest("missing file part %q: send the file as multipart/form-data part %q", filePart, filePart)
	}
	return f, nil
}

// readField reads a small form field.
func readField(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFieldBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFieldBytes {
		return nil, &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("part %q larger than %d bytes", name, maxFieldBytes)}
	}
	return b, nil
}

// formError classifies a read error: the body cap is 413, the rest 400.
func (s *Server) formError(what string, err error) error {
	if re, ok := errors.AsType[*requestError](err); ok {
		return re
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("%s: request larger than this server's upload limit of %d bytes", what, s.cfg.MaxUploadBytes)}
	}
	return badRequest("%s: %v", what, err)
}

// store copies a file part to a temporary file and maps it.
func (s *Server) store(r io.Reader, name string) (*upload, error) {
	tmp, err := os.CreateTemp("", "cairn-upload-*")
	if err != nil {
		return nil, &requestError{code: http.StatusInternalServerError, msg: fmt.Sprintf("storing part %q: %v", name, err)}
	}
	u := &upload{path: tmp.Name()}
	n, err := io.Copy(tmp, io.LimitReader(r, s.cfg.MaxUploadBytes+1))
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case err != nil:
		u.close()
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, s.formError(fmt.Sprintf("part %q", name), err)
		}
		if _, ok := errors.AsType[*os.PathError](err); ok {
			return nil, &requestError{code: http.StatusInternalServerError, msg: fmt.Sprintf("storing part %q: %v", name, err)}
		}
		return nil, badRequest("reading part %q: %v", name, err)
	case n > s.cfg.MaxUploadBytes:
		u.close()
		return nil, &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("part %q is larger than this server's upload limit of %d bytes", name, s.cfg.MaxUploadBytes)}
	}
	if u.m, err = mmapfile.Open(u.path); err != nil {
		u.close()
		return nil, &requestError{code: http.StatusInternalServerError, msg: fmt.Sprintf("mapping part %q: %v", name, err)}
	}
	return u, nil
}

// uploadFunc is a service method that reads an uploaded file.
type uploadFunc func(ctx context.Context, data []byte, srcs []sources.Source) (*service.Response, error)

// serveUpload serves a multipart symbolication endpoint whose file is in
// part filePart.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, endpoint, filePart string, call uploadFunc) string {
	return s.serveJob(w, r, endpoint, func() (runFunc, func(), error) {
		f, err := s.readForm(w, r, filePart)
		if err != nil {
			return nil, nil, err
		}
		srcs, err := s.parseSources(f.sources)
		if err != nil {
			f.file.close()
			return nil, nil, err
		}
		return func(ctx context.Context) (*service.Response, error) {
			return call(ctx, f.file.bytes(), srcs)
		}, f.file.close, nil
	})
}

// minidump serves POST /minidump.
func (s *Server) minidump(w http.ResponseWriter, r *http.Request) string {
	return s.serveUpload(w, r, epMinidump, "upload_file_minidump", s.cfg.Service.Minidump)
}
