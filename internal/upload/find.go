// Package upload is the client side of debug-file uploads: it finds debug
// files on disk, asks the server which it lacks, sends the missing chunks
// in parallel over the sentry-cli chunk-upload protocol, and waits for the
// server to process them. An interrupted upload resumes where it stopped:
// the server keeps every chunk it received and names only the missing
// ones.
package upload

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/debugfiles/loader"
)

// File is a debug file found on disk, ready to upload.
type File struct {
	Path string
	// Name is what the server records: the base name, or the binary's
	// name for the DWARF file inside a dSYM bundle.
	Name    string
	Size    int64
	Objects []identify.Object
	// Checksum and Chunks are filled by hashing, for the server's chunk
	// size.
	Checksum string
	Chunks   []string
}

// Skipped is a path that was not uploaded, and why.
type Skipped struct {
	Path   string
	Reason string
}

// Find walks paths (files or directories) and returns the debug files in
// them. dSYM bundles contribute the DWARF files inside; a PE image given by
// name brings the PDB beside it. Files that are no usable debug file are
// returned as skipped, with the reason.
func Find(paths []string) ([]File, []Skipped, error) {
	var files []File
	var skipped []Skipped
	seen := map[string]bool{}
	add := func(p, name string, explicit bool) {
		abs, err := filepath.Abs(p)
		if err == nil && seen[abs] {
			return
		}
		seen[abs] = true
		f, reason := check(p, name)
		if reason != "" {
			if explicit || !strings.HasPrefix(reason, "not a debug file") {
				skipped = append(skipped, Skipped{Path: p, Reason: reason})
			}
			return
		}
		files = append(files, f)
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, nil, fmt.Errorf("upload: %w", err)
		}
		if !st.IsDir() {
			add(root, filepath.Base(root), true)
			for _, c := range companions(root) {
				add(c, filepath.Base(c), false)
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if strings.HasSuffix(e.Name(), ".dSYM") {
					addBundle(p, add)
					return filepath.SkipDir
				}
				return nil
			}
			if e.Type().IsRegular() {
				add(p, e.Name(), false)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("upload: %w", err)
		}
	}
	return files, skipped, nil
}

// addBundle adds the DWARF files of a dSYM bundle under the bundle's
// binary name.
func addBundle(bundle string, add func(p, name string, explicit bool)) {
	dwarf := filepath.Join(bundle, "Contents", "Resources", "DWARF")
	entries, _ := os.ReadDir(dwarf)
	for _, e := range entries {
		if e.Type().IsRegular() {
			add(filepath.Join(dwarf, e.Name()), e.Name(), true)
		}
	}
}

// companions lists the debug files a binary points at that sit beside it:
// a PE image's PDB.
func companions(p string) []string {
	a, err := loader.Open(p)
	if err != nil {
		return nil
	}
	defer a.Close()
	var out []string
	for _, o := range a.Objects {
		if o.Format() != debugfiles.FormatPE || o.DebugFile() == "" {
			continue
		}
		leaf := filepath.Base(strings.ReplaceAll(o.DebugFile(), "\\", "/"))
		c := filepath.Join(filepath.Dir(p), leaf)
		if _, err := os.Stat(c); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// check identifies one file; a non-empty reason says why it is skipped.
func check(p, name string) (File, string) {
	f, err := os.Open(p)
	if err != nil {
		return File{}, err.Error()
	}
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return File{}, err.Error()
	}
	if loader.Sniff(head[:n]) == debugfiles.FormatUnknown && !bytes.HasPrefix(head[:n], []byte("PK\x03\x04")) {
		return File{}, "not a debug file"
	}
	objs, err := identify.File(p)
	if err != nil {
		return File{}, err.Error()
	}
	return File{Path: p, Name: name, Size: st.Size(), Objects: objs}, ""
}
