package identify

import (
	"archive/zip"
	"encoding/json"
	"io"
)

// manifest is the part of a source bundle's manifest.json that identifies
// the object whose sources it carries.
type manifest struct {
	Attributes struct {
		DebugID string `json:"debug_id"`
		Arch    string `json:"arch"`
	} `json:"attributes"`
}

// maxManifest bounds the manifest read into memory; real ones list one
// line per source file and stay far below.
const maxManifest = 64 << 20

func readManifest(zf *zip.File) (manifest, error) {
	var m manifest
	rc, err := zf.Open()
	if err != nil {
		return m, err
	}
	defer rc.Close()
	err = json.NewDecoder(io.LimitReader(rc, maxManifest)).Decode(&m)
	return m, err
}
