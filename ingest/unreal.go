package ingest

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/ingest/unreal"
)

// unrealReport handles POST /api/{pid}/unreal/{key}/: a crash report from
// Unreal Engine's CrashReportClient, whose DSN key is in the path. Like
// Sentry it answers the event id as a dashed UUID in plain text, and never
// 429 (the client would resend the report).
func (h *handler) unrealReport(rq *request) (*result, error) {
	public := rq.r.PathValue("key")
	if public == "" {
		public = keyFromRequest(rq.r.Header, rq.r.URL.Query())
	}
	if err := h.authenticate(rq.r.Context(), rq, public); err != nil {
		return nil, err
	}
	if wait, ok := h.limiters.take(rq.r.Context(), rq.key, h.cfg.Now()); !ok {
		return &result{text: dashedEventID(newEventID()), limitedSeconds: retrySeconds(wait)}, nil
	}
	raw, err := h.readBody(rq, "unreal crash report", h.cfg.MaxAttachmentSize)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, badRequest(nil, "empty request body")
	}
	crash, err := unreal.Parse(raw, h.cfg.MaxEnvelopeSize)
	switch {
	case errors.Is(err, unreal.ErrTooLarge):
		return nil, tooLarge("unreal crash report exceeds %d bytes after decompression", h.cfg.MaxEnvelopeSize)
	case err != nil:
		return nil, badRequest(err, "invalid unreal crash report: %v", err)
	}
	var total int64
	for _, f := range crash.Files {
		total += int64(len(f.Data))
	}
	if !rq.lease.take(total) {
		return nil, unavailable(errOverBudget, 5, "server is busy with other uploads, retry later")
	}
	acc, err := h.assembleUnreal(rq, crash)
	if err != nil {
		return nil, err
	}
	if err := h.commit(rq, acc); err != nil {
		return nil, err
	}
	return &result{text: dashedEventID(acc.EventID), eventID: acc.EventID, stored: true}, nil
}

// assembleUnreal turns a crash report into an event, its attachments and,
// when the player wrote a description, a user report — as Sentry does.
func (h *handler) assembleUnreal(rq *request, crash *unreal.Crash) (*Accepted, error) {
	acc := &Accepted{}
	var ctx *unreal.Context
	var logs []byte
	for _, f := range crash.Files {
		att := Attachment{Name: f.Name, Data: f.Data}
		limit := h.cfg.MaxAttachmentSize
		switch f.Kind() {
		case unreal.KindMinidump:
			att.Type, att.ContentType, limit = "event.minidump", "application/x-dmp", h.cfg.MaxMinidumpSize
		case unreal.KindAppleCrashReport:
			att.Type, att.ContentType = "event.applecrashreport", "text/plain"
		case unreal.KindLog:
			att.Type, att.ContentType = "unreal.logs", "text/plain"
			if logs == nil {
				logs = f.Data
			}
		case unreal.KindContext:
			att.Type, att.ContentType = "unreal.context", "application/xml"
			if ctx == nil {
				c, err := unreal.ParseContext(f.Data)
				if err != nil {
					return nil, badRequest(err, "invalid %s: %v", f.Name, err)
				}
				ctx = c
			}
		default:
			att.Type, att.ContentType = "event.attachment", "application/octet-stream"
		}
		if int64(len(f.Data)) > limit {
			return nil, tooLarge("file %q of the crash report exceeds %d bytes", truncate(f.Name, 100), limit)
		}
		acc.Attachments = append(acc.Attachments, att)
	}

	event := map[string]any{}
	if ctx != nil {
		if payload, ok := unreal.Get(ctx.GameData, "__sentry"); ok && payload != "" {
			// The Sentry Unreal plugin puts a whole event here.
			if m, err := decodeObject([]byte(payload)); err == nil {
				event = m
			}
		}
	}
	id := ""
	if s, ok := event["event_id"].(string); ok {
		id, _ = parseEventID(s)
	}
	if id == "" {
		id = newEventID()
	}
	event["event_id"] = id
	setDefault(event, "platform", "native")
	rq.eventID = id

	if ui := rq.r.URL.Query().Get("UserID"); ui != "" {
		mergeUnrealUserID(event, ui)
	}
	if logs != nil {
		appendLogBreadcrumbs(event, unreal.ParseLogs(logs, h.cfg.UnrealLogBreadcrumbs))
	}
	if ctx != nil {
		if report := mergeUnrealContext(event, ctx); report != nil {
			report["event_id"] = id
			payload, err := json.Marshal(report)
			if err == nil {
				acc.Items = append(acc.Items, Item{Type: "user_report", Payload: payload})
			}
		}
	}
	ev, err := marshalJSON(event)
	if err != nil {
		return nil, badRequest(err, "crash report event cannot be encoded: %v", err)
	}
	acc.EventID, acc.Event = id, ev
	return acc, nil
}

// mergeUnrealUserID reads CrashReportClient's UserID query parameter,
// "<login id>|<epic account id>|<machine id>".
func mergeUnrealUserID(event map[string]any, v string) {
	parts := strings.Split(v, "|")
	if len(parts) > 0 && parts[0] != "" {
		object(event, "user")["id"] = parts[0]
	}
	if len(parts) > 1 && parts[1] != "" {
		setTag(event, "epic_account_id", parts[1])
	}
	if len(parts) > 2 && parts[2] != "" {
		setTag(event, "machine_id", parts[2])
	}
}

// setTag sets a tag unless the event already has it, for either form of
// tags (object or list of pairs).
func setTag(event map[string]any, k, v string) {
	switch tags := event["tags"].(type) {
	case nil:
		event["tags"] = map[string]any{k: v}
	case map[string]any:
		if _, ok := tags[k]; !ok {
			tags[k] = v
		}
	case []any:
		for _, t := range tags {
			if p, ok := t.([]any); ok && len(p) == 2 && p[0] == k {
				return
			}
		}
		event["tags"] = append(tags, []any{k, v})
	}
}

// appendLogBreadcrumbs adds log lines to the event's breadcrumbs.
func appendLogBreadcrumbs(event map[string]any, entries []unreal.LogEntry) {
	if len(entries) == 0 {
		return
	}
	bc := object(event, "breadcrumbs")
	values, _ := bc["values"].([]any)
	for _, e := range entries {
		crumb := map[string]any{"message": e.Message}
		if e.Component != "" {
			crumb["category"] = e.Component
		}
		if e.Level != "" {
			crumb["level"] = e.Level
		}
		if !e.Time.IsZero() {
			crumb["timestamp"] = e.Time.UTC().Format(time.RFC3339Nano)
		}
		values = append(values, crumb)
	}
	bc["values"] = values
}

// unrealProp says where a RuntimeProperties element goes in the "unreal"
// context: its key (Sentry's names, misspellings included, so that
// searches written for Sentry keep working) and how to type its value.
type unrealProp struct {
	key  string
	kind byte // 's' string, 'b' bool, 'i' integer
}

var unrealProps = map[string]unrealProp{
	"CrashGUID":            {"crash_guid", 's'},
	"ProcessId":            {"process_id", 'i'},
	"IsInternalBuild":      {"is_internal_build", 'b'},
	"IsSourceDistribution": {"is_source_distribution", 'b'},
	"IsAssert":             {"is_assert", 'b'},
	"IsEnsure":             {"is_ensure", 'b'},
	"CrashType":            {"crash_type", 's'},
	"SecondsSinceStart":    {"seconds_since_start", 'i'},
	"GameName":             {"game_name", 's'},
	"ExecutableName":       {"executable_name", 's'},
	"BuildConfiguration":   {"build_configuration", 's'},
	"PlatformName":         {"platform_name", 's'},
	"EngineMode":           {"engine_mode", 's'},
	"EngineVersion":        {"engine_version", 's'},
	"LanguageLCID":         {"language_lcid", 'i'},
	"AppDefaultLocale":     {"app_default_locate", 's'},
	"BuildVersion":         {"build_version", 's'},
	"IsUE4Release":         {"is_ue4_release", 'b'},
	"UserName":             {"username", 's'},
	"BaseDir":              {"base_dir", 's'},
	"RootDir":              {"root_dir", 's'},
	"MachineId":            {"machine_id", 's'},
	"LoginId":              {"login_id", 's'},
	"EpicAccountId":        {"epic_account_id", 's'},
	"CallStack":            {"legacy_call_stack", 's'},
	"PCallStack":           {"portable_call_stack", 's'},
	"UserDescription":      {"user_description", 's'},
	"ErrorMessage":         {"error_message", 's'},
	"CrashReporterMessage": {"crash_reporter_message", 's'},
	"Misc.NumberOfCores":   {"misc_number_of_cores", 'i'},
	"Misc.NumberOfCoresIncludingHyperthreads": {"misc_number_of_cores_inc_hyperthread", 'i'},
	"Misc.Is64bitOperatingSystem":             {"misc_is_64bit", 'b'},
	"Misc.CPUVendor":                          {"misc_cpu_vendor", 's'},
	"Misc.CPUBrand":                           {"misc_cpu_brand", 's'},
	"Misc.PrimaryGPUBrand":                    {"misc_primary_gpu_brand", 's'},
	"Misc.OSVersionMajor":                     {"misc_os_version_major", 's'},
	"Misc.OSVersionMinor":                     {"misc_os_version_minor", 's'},
	"GameStateName":                           {"game_state_name", 's'},
	"MemoryStats.TotalPhysical":               {"memory_stats_total_physical", 'i'},
	"MemoryStats.TotalVirtual":                {"memory_stats_total_virtual", 'i'},
	"MemoryStats.PageSize":                    {"memory_stats_page_size", 'i'},
	"MemoryStats.TotalPhysicalGB":             {"memory_stats_total_phsysical_gb", 'i'},
	"TimeOfCrash":                             {"time_of_crash", 'i'},
	"bAllowToBeContacted":                     {"allowed_to_be_contacted", 'b'},
	"CrashReportClientVersion":                {"crash_reporter_client_version", 's'},
	"Modules":                                 {"modules", 's'},
}

// typed converts a property's text; text that does not parse as the
// expected type is kept as text rather than failing the report.
func (p unrealProp) typed(v string) any {
	switch p.kind {
	case 'b':
		switch strings.ToLower(v) {
		case "1", "true":
			return true
		case "0", "false":
			return false
		}
	case 'i':
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// mergeUnrealContext fills the event from CrashContext.runtime-xml the way
// Sentry does: the error message, user, device memory, OS and GPU, level
// for asserts and ensures, game data as the "game" context, the SDK, and
// every remaining runtime property in the "unreal" context. Values the
// event already has are kept. Engine version, game, platform and build
// configuration also become tags so that they can be searched. It returns
// the user report to file when the player wrote a description.
func mergeUnrealContext(event map[string]any, c *unreal.Context) map[string]any {
	props := map[string]any{}
	custom := map[string]any{}
	raw := map[string]string{}
	for _, p := range c.RuntimeProperties {
		if info, ok := unrealProps[p.Name]; ok {
			if p.Value == "" {
				continue // Sentry skips empty elements
			}
			if _, dup := props[info.key]; !dup {
				props[info.key] = info.typed(p.Value)
				raw[p.Name] = p.Value
			}
			continue
		}
		custom[p.Name] = p.Value
	}
	take := func(name string) (string, bool) {
		v, ok := raw[name]
		if ok {
			delete(props, unrealProps[name].key)
		}
		return v, ok
	}

	if msg, ok := take("ErrorMessage"); ok {
		le := object(event, "logentry")
		if f, _ := le["formatted"].(string); f == "" {
			if _, hasMsg := event["message"]; !hasMsg {
				le["formatted"] = msg
			}
		}
		if len(le) == 0 {
			delete(event, "logentry")
		}
	}
	userName, hasUserName := take("UserName")
	if hasUserName {
		setDefault(object(event, "user"), "username", userName)
	}
	if login, ok := raw["LoginId"]; ok {
		setDefault(object(event, "user"), "id", login)
	}
	contexts := object(event, "contexts")
	if _, ok := take("MemoryStats.TotalPhysical"); ok {
		dev := object(contexts, "device")
		setDefault(dev, "type", "device")
		setDefault(dev, "memory_size", unrealProps["MemoryStats.TotalPhysical"].typed(raw["MemoryStats.TotalPhysical"]))
	}
	if osMajor, ok := take("Misc.OSVersionMajor"); ok {
		osc := object(contexts, "os")
		setDefault(osc, "type", "os")
		setDefault(osc, "raw_description", osMajor)
	}
	gpuSet := func(k, v string) {
		gpu := object(contexts, "gpu")
		setDefault(gpu, "type", "gpu")
		setDefault(gpu, k, v)
	}
	if name, ok := unreal.Get(c.EngineData, "RHI.AdapterName"); ok {
		gpuSet("name", name)
	} else if brand, ok := take("Misc.PrimaryGPUBrand"); ok {
		gpuSet("name", brand)
	}
	for _, m := range [][2]string{
		{"RHI.DeviceId", "id"}, {"RHI.FeatureLevel", "graphics_shader_level"}, {"RHI.GPUVendor", "vendor_name"},
		{"RHI.UserDriverVersion", "version"}, {"RHI.RHIName", "api_type"},
	} {
		if v, ok := unreal.Get(c.EngineData, m[0]); ok {
			gpuSet(m[1], v)
		}
	}
	if lv, _ := event["level"].(string); lv == "" {
		if props["is_assert"] == true {
			event["level"] = "error"
		} else if props["is_ensure"] == true {
			event["level"] = "warning"
		}
	}
	// Modules are replaced by the minidump's module list.
	take("Modules")
	game := map[string]any{}
	for _, p := range c.GameData {
		if p.Name != "__sentry" {
			game[p.Name] = p.Value
		}
	}
	if len(game) > 0 {
		mergeValues(object(contexts, "game"), game)
	}
	if _, ok := event["sdk"]; !ok {
		version, ok := take("CrashReportClientVersion")
		if !ok {
			version = "0.0.0"
		}
		event["sdk"] = map[string]any{"name": "unreal.crashreporter", "version": version}
	}
	for xmlName, tag := range map[string]string{
		"EngineVersion": "engine_version", "GameName": "game_name",
		"PlatformName": "platform_name", "BuildConfiguration": "build_configuration",
	} {
		if v, ok := raw[xmlName]; ok {
			setTag(event, tag, v)
		}
	}
	var report map[string]any
	if desc, ok := take("UserDescription"); ok {
		name := userName
		if name == "" {
			name = "unknown"
		}
		report = map[string]any{"name": name, "email": "", "comments": desc}
	}
	if len(custom) > 0 {
		props["custom"] = custom
	}
	if len(props) > 0 {
		mergeValues(object(contexts, "unreal"), props)
	}
	if len(contexts) == 0 {
		delete(event, "contexts")
	}
	return report
}
