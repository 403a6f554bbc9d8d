package api

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// TestSymbolicateFromS3 puts a PDB into a MinIO bucket under the symstore
// layout and symbolicates the exported functions of its image through
// /symbolicate with an "s3" source in the request (a custom endpoint given
// as Symbolicator's ["name", "url"] region); a wrong secret reports the
// module's download as refused.
func TestSymbolicateFromS3(t *testing.T) {
	const user, pass = "cairnadmin", "cairnsecret123"
	addr := testtools.StartMinIO(t, user, pass)
	dir := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	a, err := loader.Open(filepath.Join(dir, "demo.exe"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	img := a.Objects[0]
	id := sources.FileID{DebugID: img.DebugID(), CodeID: img.CodeID(), CodeFile: `C:\app\demo.exe`, DebugFile: "demo.pdb", Object: sources.ObjectPE}
	pdb, err := os.ReadFile(filepath.Join(dir, "demo.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, pass, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.MakeBucket(ctx, "symbols", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	key := "win/" + sources.Paths(sources.DirectoryLayout{Type: sources.LayoutSymstore}, sources.FilePDB, id)[0]
	// Size -1 streams the upload in parts (RESEARCH.md's S3 emulator caveat).
	if _, err := admin.PutObject(ctx, "symbols", key, bytes.NewReader(pdb), -1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	const base = 0x140000000
	var frames []map[string]any
	var names []string
	for sym := range img.Symbols() {
		frames = append(frames, map[string]any{"instruction_addr": fmt.Sprintf("0x%x", base+sym.Address), "adjust_instruction_addr": false})
		names = append(names, sym.Name)
	}
	if len(frames) == 0 {
		t.Fatal("the image exports nothing")
	}
	request := func(secret string) map[string]any {
		return map[string]any{
			"sources": []map[string]any{{"type": "s3", "id": "bucket", "bucket": "symbols", "prefix": "win",
				"region": []string{"minio", "http://" + addr}, "access_key": user, "secret_key": secret,
				"layout": map[string]any{"type": "symstore"}}},
			"modules": []map[string]any{{"type": "pe", "code_id": id.CodeID, "code_file": id.CodeFile, "debug_id": id.DebugID.String(),
				"debug_file": id.DebugFile, "image_addr": fmt.Sprintf("0x%x", base), "image_size": 1 << 20}},
			"stacktraces": []map[string]any{{"frames": frames}},
		}
	}
	url := serve(t, newAPI(t, newService(t), Config{SourceOptions: sources.ConfigOptions{AllowPrivate: true}}))
	r := postJSON(t, url+"/symbolicate", request(pass))
	if r.code != 200 || str(t, r.body, "status") != "completed" {
		t.Fatalf("/symbolicate: %d %s", r.code, r.raw)
	}
	mod := list(t, r.body, "modules")[0]
	if s := str(t, mod, "debug_status"); s != "found" {
		t.Fatalf("module: %s\n%s", s, r.raw)
	}
	outer := map[int]string{}
	for _, f := range list(t, list(t, r.body, "stacktraces")[0], "frames") {
		outer[int(field(t, f, "original_index").(float64))] = str(t, f, "function")
	}
	for i, name := range names {
		if got := outer[i]; !strings.Contains(got, name) {
			t.Errorf("export %s symbolicated as %q", name, got)
		}
	}
	// A wrong secret: the candidate says permission denied.
	url = serve(t, newAPI(t, newService(t), Config{SourceOptions: sources.ConfigOptions{AllowPrivate: true}}))
	r = postJSON(t, url+"/symbolicate", request("wrong-secret"))
	mod = list(t, r.body, "modules")[0]
	if s := str(t, mod, "debug_status"); s != "fetching_failed" {
		t.Errorf("wrong secret: debug status %s\n%s", s, r.raw)
	}
	found := false
	for _, c := range list(t, mod, "candidates") {
		found = found || str(t, field(t, c, "download"), "status") == "noperm"
	}
	if !found {
		t.Errorf("wrong secret: no noperm candidate\n%s", r.raw)
	}
}
