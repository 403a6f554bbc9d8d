package minidumptest

import "embed"

// Sources holds this package's Go files. Generators that cache the dumps
// they write with the Builder (fixtures/core2md) hash it into their cache
// keys, so a change to the writer rebuilds those dumps.
//
//go:embed *.go
var Sources embed.FS
