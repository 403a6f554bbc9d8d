package ingest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/ingest/internal/msgpack"
)

// Field names of a minidump upload (Breakpad and Crashpad uploaders,
// sentry-native's Crashpad backend, Electron), as Sentry reads them.
const (
	fieldMinidump     = "upload_file_minidump"
	fieldEvent        = "__sentry-event"       // MessagePack event
	fieldBreadcrumbs1 = "__sentry-breadcrumb1" // MessagePack breadcrumbs, ring buffer half 1
	fieldBreadcrumbs2 = "__sentry-breadcrumb2" // ... and half 2
	fieldViewHier     = "view-hierarchy.json"
	minidumpFileName  = "Minidump" // name of a dump uploaded without one
	maxFormParts      = 1000
	maxNestedKeys     = 7 // sentry[a][b]... deeper paths are ignored, as in Sentry
	maxBreadcrumbs    = 1000
)

// minidumpMagics are the signatures of a minidump, little- and big-endian.
var minidumpMagics = [][]byte{[]byte("MDMP"), []byte("PMDM")}

func isMinidump(b []byte) bool {
	for _, m := range minidumpMagics {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// formField is one text field of a multipart upload, in upload order.
type formField struct{ name, value string }

// formFile is one file part of a multipart upload.
type formFile struct {
	field, filename, contentType string
	data                         []byte
}

// minidumpForm is a parsed minidump upload.
type minidumpForm struct {
	fields []formField
	files  []formFile
}

// formLimits bound a multipart upload part by part.
type formLimits struct {
	minidump   int64 // the upload_file_minidump part, still compressed
	attachment int64 // any other file part
	text       int64 // all text fields together
}

// parseMinidumpForm reads a multipart/form-data body. Size refusals are
// *apiError; other errors come from the reader or the multipart syntax.
func parseMinidumpForm(r io.Reader, boundary string, lim formLimits) (*minidumpForm, error) {
	mr := multipart.NewReader(r, boundary)
	f := &minidumpForm{}
	textLeft := lim.text
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, err
		}
		if n >= maxFormParts {
			return nil, badRequest(nil, "multipart upload has more than %d parts", maxFormParts)
		}
		name := part.FormName()
		filename := part.FileName()
		if name == "" && filename == "" {
			continue
		}
		isFile := filename != "" || name == fieldMinidump || name == fieldEvent ||
			name == fieldBreadcrumbs1 || name == fieldBreadcrumbs2
		if !isFile {
			lr := &limitedReader{r: part, max: textLeft}
			v, err := io.ReadAll(lr)
			if lr.exceeded {
				return nil, tooLarge("text fields of the upload exceed %d bytes", lim.text)
			}
			if err != nil {
				return nil, err
			}
			textLeft -= int64(len(v))
			f.fields = append(f.fields, formField{name: name, value: strings.ToValidUTF8(string(v), "\uFFFD")})
			continue
		}
		limit := lim.attachment
		if name == fieldMinidump {
			limit = lim.minidump
		}
		lr := &limitedReader{r: part, max: limit}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(lr)
		if lr.exceeded {
			return nil, tooLarge("file %q of the upload exceeds %d bytes", truncate(name, 100), limit)
		}
		if err != nil {
			return nil, err
		}
		f.files = append(f.files, formFile{field: name, filename: filename, contentType: part.Header.Get("Content-Type"), data: buf.Bytes()})
	}
}

// minidump handles POST /api/{pid}/minidump/: a multipart upload from
// Breakpad, Crashpad or an SDK, or a bare minidump body. It answers 200
// with the event id as a dashed UUID in plain text, as Sentry does, since
// Crashpad records that text as the report's server id.
func (h *handler) minidump(rq *request) (*result, error) {
	if err := h.authRequest(rq); err != nil {
		return nil, err
	}
	if wait, ok := h.limiters.take(rq.r.Context(), rq.key, h.cfg.Now()); !ok {
		// Crashpad and Breakpad retry anything but 200 and would keep
		// resending the dump, so Sentry answers 200 and drops the crash;
		// the rate-limit headers still tell SDKs that read them.
		return &result{text: dashedEventID(newEventID()), limitedSeconds: retrySeconds(wait)}, nil
	}
	b, err := h.openBody(rq, "minidump upload", h.cfg.MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	defer b.close()

	ctype, params, _ := mime.ParseMediaType(rq.r.Header.Get("Content-Type"))
	var form *minidumpForm
	switch ctype {
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, badRequest(nil, "multipart Content-Type without a boundary")
		}
		form, err = parseMinidumpForm(b, boundary, formLimits{
			minidump:   h.cfg.MaxMinidumpSize,
			attachment: h.cfg.MaxAttachmentSize,
			text:       h.cfg.MaxEventSize,
		})
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) || b.raw.exceeded || b.out.exceeded || b.budgetHit {
				return nil, b.fail(err)
			}
			return nil, badRequest(err, "invalid multipart body: %v", err)
		}
		if len(form.fields) == 0 && len(form.files) == 0 {
			return nil, badRequest(nil, "invalid multipart body: no parts delimited by boundary %q", truncate(boundary, 80))
		}
	default:
		// A bare dump (application/octet-stream, application/x-dmp, or no
		// type at all), as Sentry also accepts.
		data, err := readAll(b, rq.r.ContentLength)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > h.cfg.MaxMinidumpSize {
			return nil, tooLarge("minidump exceeds %d bytes", h.cfg.MaxMinidumpSize)
		}
		form = &minidumpForm{files: []formFile{{field: fieldMinidump, data: data}}}
	}
	acc, err := h.assembleMinidump(rq, form)
	if err != nil {
		return nil, err
	}
	if err := h.commit(rq, acc); err != nil {
		return nil, err
	}
	return &result{text: dashedEventID(acc.EventID), eventID: acc.EventID, stored: true}, nil
}

// assembleMinidump builds the event and attachments of a minidump upload.
func (h *handler) assembleMinidump(rq *request, form *minidumpForm) (*Accepted, error) {
	var dump *formFile
	var eventFile, crumbs1, crumbs2 []byte
	acc := &Accepted{}
	for i := range form.files {
		f := &form.files[i]
		switch f.field {
		case fieldMinidump:
			if dump == nil {
				dump = f
				continue
			}
		case fieldEvent:
			eventFile = f.data
			continue
		case fieldBreadcrumbs1:
			crumbs1 = f.data
			continue
		case fieldBreadcrumbs2:
			crumbs2 = f.data
			continue
		}
		acc.Attachments = append(acc.Attachments, Attachment{
			Name:        firstNonEmpty(f.filename, f.field),
			ContentType: f.contentType,
			Type:        attachmentTypeForField(f.field),
			Data:        f.data,
		})
	}
	if dump == nil {
		return nil, badRequest(nil, "missing minidump: no %s part in the upload", fieldMinidump)
	}
	data := dump.data
	if embedded := embeddedMinidump(data); embedded != nil {
		data = embedded
	}
	data, err := h.minidumpBytes(data, fieldMinidump)
	if err != nil {
		return nil, err
	}
	if !rq.lease.take(int64(len(data)) - int64(len(dump.data))) {
		return nil, unavailable(errOverBudget, 5, "server is busy with other uploads, retry later")
	}
	name := trimContainerExt(firstNonEmpty(dump.filename, minidumpFileName))
	acc.Attachments = append([]Attachment{{Name: name, ContentType: "application/x-dmp", Type: "event.minidump", Data: data}}, acc.Attachments...)

	event, err := h.minidumpEvent(form.fields, eventFile, crumbs1, crumbs2)
	if err != nil {
		return nil, err
	}
	id := ""
	if v, ok := event["event_id"]; ok && v != nil {
		s, _ := v.(string)
		var valid bool
		if id, valid = parseEventID(s); !valid {
			return nil, badRequest(nil, "invalid event_id %q in the upload's event fields", truncate(s, 64))
		}
	}
	if id == "" {
		id = newEventID()
	}
	event["event_id"] = id
	setDefault(event, "platform", "native")
	rq.eventID = id
	ev, err := marshalJSON(event)
	if err != nil {
		return nil, badRequest(err, "event fields of the upload cannot be encoded: %v", err)
	}
	acc.EventID, acc.Event = id, ev
	return acc, nil
}

// minidumpEvent merges what came with a dump into one event, in Sentry's
// order: the MessagePack event sentry-native attaches, its breadcrumbs,
// then the form fields — `sentry` and `sentry___<ns>` JSON, `sentry[a][b]`
// paths, `sentry__N` JSON chunks (Electron), and everything else as extra.
// Breakpad's prod, ver and guid stay in extra as in Sentry and are also
// copied to tags so that they can be searched.
func (h *handler) minidumpEvent(fields []formField, eventFile, crumbs1, crumbs2 []byte) (map[string]any, error) {
	event := map[string]any{}
	if len(eventFile) > 0 {
		if int64(len(eventFile)) > h.cfg.MaxEventSize {
			return nil, tooLarge("%s exceeds %d bytes", fieldEvent, h.cfg.MaxEventSize)
		}
		// A broken attached event is skipped rather than fatal: the dump
		// itself is what matters.
		if v, _, err := msgpack.Decode(eventFile); err == nil {
			if m, ok := v.(map[string]any); ok {
				event = m
			}
		}
	}
	if crumbs := mergeBreadcrumbs(h.cfg.MaxEventSize, crumbs1, crumbs2); len(crumbs) > 0 {
		event["breadcrumbs"] = map[string]any{"values": crumbs}
	}
	chunks := map[int]string{}
	for _, f := range fields {
		switch {
		case f.name == "sentry" || strings.HasPrefix(f.name, "sentry___"):
			if m, err := decodeObject([]byte(f.value)); err == nil {
				mergeValues(event, m)
			}
		case strings.HasPrefix(f.name, "sentry__"):
			if i, err := strconv.Atoi(f.name[len("sentry__"):]); err == nil && i >= 0 {
				chunks[i] = f.value
			} else {
				setPath(event, []string{"extra", f.name}, f.value)
			}
		default:
			if path, ok := sentryPath(f.name); ok {
				if len(path) <= maxNestedKeys {
					setPath(event, path, f.value)
				}
				continue
			}
			setPath(event, []string{"extra", f.name}, f.value)
			switch f.name {
			case "prod", "ver", "guid":
				switch tags := event["tags"].(type) {
				case nil:
					event["tags"] = map[string]any{f.name: f.value}
				case map[string]any:
					if _, ok := tags[f.name]; !ok {
						tags[f.name] = f.value
					}
				}
			}
		}
	}
	if len(chunks) > 0 {
		idx := make([]int, 0, len(chunks))
		for i := range chunks {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		var sb strings.Builder
		for _, i := range idx {
			sb.WriteString(chunks[i])
		}
		if m, err := decodeObject([]byte(sb.String())); err == nil {
			mergeValues(event, m)
		}
	}
	return event, nil
}

// sentryPath splits "sentry[a][b]" into [a b].
func sentryPath(key string) ([]string, bool) {
	if !strings.HasPrefix(key, "sentry[") || !strings.HasSuffix(key, "]") {
		return nil, false
	}
	parts := strings.Split(key[len("sentry["):len(key)-1], "][")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "[]") {
			return nil, false
		}
	}
	return parts, true
}

// mergeBreadcrumbs joins the two halves of sentry-native's breadcrumb ring
// buffer: older half first (by the last timestamp of each), keeping as
// many as the larger half holds, the newest.
func mergeBreadcrumbs(maxSize int64, files ...[]byte) []any {
	var lists [2][]any
	for i, f := range files[:2] {
		if len(f) == 0 || int64(len(f)) > maxSize {
			continue
		}
		vals, err := msgpack.DecodeAll(f, maxBreadcrumbs)
		if err != nil {
			continue
		}
		lists[i] = vals
	}
	if lastTimestamp(lists[0]) > lastTimestamp(lists[1]) {
		lists[0], lists[1] = lists[1], lists[0]
	}
	keep := max(len(lists[0]), len(lists[1]))
	all := append(lists[0], lists[1]...)
	if len(all) > keep {
		all = all[len(all)-keep:]
	}
	return all
}

// lastTimestamp is the timestamp of the last breadcrumb that has one, in
// Unix seconds (0 when none has).
func lastTimestamp(crumbs []any) float64 {
	for i := len(crumbs) - 1; i >= 0; i-- {
		m, ok := crumbs[i].(map[string]any)
		if !ok {
			continue
		}
		switch t := m["timestamp"].(type) {
		case float64:
			return t
		case int64:
			return float64(t)
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return float64(ts.UnixNano()) / 1e9
			}
		}
	}
	return 0
}

// attachmentTypeForField maps a multipart field to Sentry's attachment type.
func attachmentTypeForField(field string) string {
	switch field {
	case fieldMinidump:
		return "event.minidump"
	case fieldViewHier:
		return "event.view_hierarchy"
	default:
		return "event.attachment"
	}
}

// embeddedMinidump handles old Electron uploads whose minidump part holds
// a whole multipart body of its own: it returns that body's
// upload_file_minidump part, or nil.
func embeddedMinidump(data []byte) []byte {
	t := bytes.TrimLeft(data, "\r\n")
	if !bytes.HasPrefix(t, []byte("--")) {
		return nil
	}
	line, _, _ := cutLine(t)
	boundary := string(line[2:])
	if boundary == "" {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(t), boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil
		}
		if part.FormName() == fieldMinidump {
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(io.LimitReader(part, int64(len(data)))); err != nil {
				return nil
			}
			return buf.Bytes()
		}
	}
}

// minidumpBytes undoes a compression container around a dump and checks
// the minidump signature.
func (h *handler) minidumpBytes(data []byte, what string) ([]byte, error) {
	if len(data) == 0 {
		return nil, badRequest(nil, "%s is empty", what)
	}
	out, kind, err := h.decodeContainer(data, h.cfg.MaxMinidumpSize, what)
	if err != nil {
		return nil, err
	}
	if !isMinidump(out) {
		if kind != "" {
			return nil, badRequest(nil, "%s is not a minidump: no MDMP signature after %s decompression", what, kind)
		}
		return nil, badRequest(nil, "%s is not a minidump: no MDMP signature", what)
	}
	return out, nil
}

// trimContainerExt drops the extension of a compression container from a
// dump's file name, since the stored dump is decompressed.
func trimContainerExt(name string) string {
	for _, ext := range []string{".gz", ".xz", ".bz2", ".zst"} {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return name[:len(name)-len(ext)]
		}
	}
	return name
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
