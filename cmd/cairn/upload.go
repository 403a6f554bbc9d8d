package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/cairn-dev/cairn/internal/upload"
	"github.com/spf13/cobra"
)

// uploadConfig is the optional config file of `cairn upload`
// ($XDG_CONFIG_HOME/cairn/upload.json or --config), so CI machines can keep
// the URL and token out of command lines.
type uploadConfig struct {
	URL     string `json:"url"`
	Token   string `json:"token"`
	Org     string `json:"org"`
	Project string `json:"project"`
}

func defaultUploadConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "cairn", "upload.json")
}

func loadUploadConfig(path string, explicit bool) (uploadConfig, error) {
	var c uploadConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// firstNonEmpty returns the first set value: flag, then environment, then
// config file, then the default.
func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func newUploadCommand() *cobra.Command {
	var (
		url, org, project, token, cfgPath string
		wait, asJSON, noCompress          bool
		concurrency                       int
	)
	cmd := &cobra.Command{
		Use:   "upload PATH...",
		Short: "Upload debug files to a Cairn server (the sentry-cli chunked protocol)",
		Long: `Find debug files under the given paths and upload those the server does not
have yet. Directories are walked; dSYM bundles contribute their DWARF files;
a PE image brings the PDB beside it; files that are no debug file are skipped.

Each file is cut into chunks of the server's chunk size; the server is asked
first which chunks it lacks, so files it already has cost one request and an
interrupted upload resumes where it stopped. Chunks go in parallel, gzip
compressed unless --no-compress. With --wait the command polls until the
server has processed every file and exits non-zero when one was rejected.

Progress bars appear on standard error when it is a terminal; the summary
table (or --json) goes to standard output.

The URL, token, organization and project come from the flags, else from
CAIRN_URL, CAIRN_AUTH_TOKEN, CAIRN_ORG, CAIRN_PROJECT, else from the config
file (JSON {"url","token","org","project"}).`,
		Example: `  cairn upload --url http://127.0.0.1:8000 --org default --project default build/
  CAIRN_AUTH_TOKEN=$TOKEN cairn upload --wait --json Game.exe Game.app.dSYM`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			explicit := cmd.Flags().Changed("config")
			fc, err := loadUploadConfig(cfgPath, explicit)
			if err != nil {
				return err
			}
			c := &upload.Client{
				URL:     firstNonEmpty(url, os.Getenv("CAIRN_URL"), fc.URL),
				Token:   firstNonEmpty(token, os.Getenv("CAIRN_AUTH_TOKEN"), fc.Token),
				Org:     firstNonEmpty(org, os.Getenv("CAIRN_ORG"), fc.Org, "default"),
				Project: firstNonEmpty(project, os.Getenv("CAIRN_PROJECT"), fc.Project, "default"),
			}
			if c.URL == "" || c.Token == "" {
				return errors.New("upload: the server URL and an API token are needed (--url/--token, CAIRN_URL/CAIRN_AUTH_TOKEN or the config file)")
			}
			files, skipped, err := upload.Find(args)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, s := range skipped {
				fmt.Fprintf(stderr, "skipping %s: %s\n", s.Path, s.Reason)
			}
			if len(files) == 0 {
				return errors.New("upload: no debug files found")
			}
			opt := upload.Options{Wait: wait, Concurrency: concurrency, NoCompress: noCompress}
			if f, ok := stderr.(*os.File); ok && isTerminal(f) {
				opt.Progress = upload.NewProgress(f, 200*time.Millisecond)
			}
			start := time.Now()
			results, err := c.Upload(cmd.Context(), files, opt)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				writeUploadSummary(out, results, time.Since(start))
			}
			bad := 0
			for _, r := range results {
				if r.State == "error" {
					bad++
				}
			}
			if bad > 0 {
				return fmt.Errorf("upload: the server rejected %d of %d files", bad, len(results))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "server base URL ($CAIRN_URL)")
	f.StringVar(&org, "org", "", "organization slug ($CAIRN_ORG; default \"default\")")
	f.StringVar(&project, "project", "", "project slug ($CAIRN_PROJECT; default \"default\")")
	f.StringVar(&token, "token", "", "API token ($CAIRN_AUTH_TOKEN)")
	f.StringVar(&cfgPath, "config", defaultUploadConfigPath(), "config file with url, token, org and project")
	f.BoolVar(&wait, "wait", false, "wait until the server has processed every file")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.BoolVar(&noCompress, "no-compress", false, "send chunks uncompressed (faster on fast networks)")
	f.IntVar(&concurrency, "concurrency", 0, "parallel requests (default: what the server suggests)")
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeUploadSummary(w io.Writer, results []upload.Result, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEBUG ID\tARCH\tSIZE\tSENT\tSTATE")
	var sent int64
	for _, r := range results {
		state := r.State
		if r.Existed {
			state = "ok (already uploaded)"
		}
		if r.Detail != "" {
			state += ": " + r.Detail
		}
		for i, id := range r.DebugIDs {
			name, size, s, st := r.Name, upload.Human(r.Size), upload.Human(r.SentBytes), state
			if i > 0 {
				name, size, s, st = "", "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, id, r.Arches[i], size, s, st)
		}
		sent += r.SentBytes
	}
	tw.Flush()
	fmt.Fprintf(w, "%d files, %s sent in %s\n", len(results), upload.Human(sent), took.Round(time.Millisecond))
}
