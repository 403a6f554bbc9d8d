package blob

import "context"

// FilePutter is implemented by stores that can take a finished local file
// without copying it: the filesystem store renames it into place. Callers
// that produce a large blob as a temporary file (assembled debug files)
// use it when available and fall back to Put otherwise.
type FilePutter interface {
	// PutFile stores the file at path under key, consuming the file: it is
	// gone from path afterwards, whether moved or copied.
	PutFile(ctx context.Context, key, path string) error
}
