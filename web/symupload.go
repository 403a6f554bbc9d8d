package web

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/storage/meta"
)

// SymuploadTokenParam is the query parameter that may carry the API token
// for Breakpad's symupload, which cannot send an Authorization header.
const SymuploadTokenParam = "token"

// symuploadAuth moves ?token= into the Authorization header, for
// symupload only; every other endpoint takes the header alone, so tokens
// do not end up in URLs that proxies log.
func symuploadAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get(SymuploadTokenParam); t != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+t)
		}
		next.ServeHTTP(w, r)
	})
}

// symupload takes Breakpad's symupload request: a multipart form with the
// file in symbol_file and the fields debug_file, debug_identifier,
// code_file, os and cpu. The file is stored at once (it is small next to
// the binaries it describes) and the answer is 200 only when it is.
func (d *DebugFiles) symupload(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	p, err := d.projectFor(r, tok)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, d.cfg.MaxFileSize+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return &httpError{http.StatusBadRequest, "expected a multipart/form-data body: " + err.Error()}
	}
	fields := map[string]string{}
	var tmpName, sum string
	var size int64
	defer func() {
		if tmpName != "" {
			os.Remove(tmpName)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tooLargeOr(err, http.StatusBadRequest, "reading the multipart body")
		}
		if part.FormName() != "symbol_file" {
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				return tooLargeOr(err, http.StatusBadRequest, "field "+part.FormName())
			}
			fields[part.FormName()] = strings.TrimSpace(string(v))
			continue
		}
		if tmpName != "" {
			return &httpError{http.StatusBadRequest, "more than one symbol_file"}
		}
		tmp, err := os.CreateTemp(d.cfg.TempDir, "cairn-sym-*")
		if err != nil {
			return fmt.Errorf("web: symupload: %w", err)
		}
		tmpName = tmp.Name()
		h := sha1.New()
		size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(part, d.cfg.MaxFileSize+1))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return tooLargeOr(err, http.StatusBadRequest, "symbol_file")
		}
		if size > d.cfg.MaxFileSize {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("file is larger than the maximum of %d bytes", d.cfg.MaxFileSize)}
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if tmpName == "" {
		return &httpError{http.StatusBadRequest, "the symbol_file part is missing"}
	}
	objs, err := identify.File(tmpName)
	if err != nil {
		return &httpError{http.StatusBadRequest, err.Error()}
	}
	if want := fields["debug_identifier"]; want != "" {
		id, err := debugid.Parse(want)
		if err != nil {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("debug_identifier %q: %v", want, err)}
		}
		if objs[0].DebugID != id.String() {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("debug_identifier %s does not match the file's %s", want, objs[0].DebugID)}
		}
	}
	if d.cfg.ProjectQuota > 0 {
		used, err := d.cfg.Index.DebugFileBytes(r.Context(), p.ID)
		if err != nil {
			return err
		}
		if used+size > d.cfg.ProjectQuota {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("project debug-file quota of %d bytes exceeded (%d bytes used)", d.cfg.ProjectQuota, used)}
		}
	}
	name := fields["debug_file"]
	if name == "" {
		name = fields["code_file"]
	}
	files, err := d.store.Add(r.Context(), p.ID, name, tmpName, sum, size, objs, true)
	if err != nil {
		return err
	}
	if d.cfg.OnStored != nil {
		d.cfg.OnStored(r.Context(), files)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "OK %s %s\n", files[0].DebugID, files[0].Name)
	return nil
}
