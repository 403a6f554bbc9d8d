package api

import "net/http"

// appleCrashReport serves POST /applecrashreport: an Apple crash report
// (.crash or .ips text) in part "apple_crash_report".
func (s *Server) appleCrashReport(w http.ResponseWriter, r *http.Request) string {
	return s.serveUpload(w, r, epApple, "apple_crash_report", s.cfg.Service.AppleCrashReport)
}
