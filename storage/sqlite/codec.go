package sqlite

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Large values (queue bodies, event payloads) are stored zstd-compressed:
// on a server whose disk syncs slowly, bytes written per commit bound the
// commit rate, and JSON events shrink three to five times. Values that do
// not start with zstd's magic number are stored as they are, so small
// values skip the work and older rows stay readable.

// compressMin is the size under which values are stored as they are.
const compressMin = 256

// maxValue bounds a decompressed value; nothing Cairn stores here is near
// it (events are limited to 1 MiB by ingest).
const maxValue = 64 << 20

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	encoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(err) // only invalid options fail
		}
		return e
	})
	decoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxValue), zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(err) // only invalid options fail
		}
		return d
	})
)

func compress(b []byte) []byte {
	if len(b) < compressMin || bytes.HasPrefix(b, zstdMagic) {
		return b
	}
	return encoder().EncodeAll(b, make([]byte, 0, len(b)/3))
}

func decompress(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, zstdMagic) {
		return b, nil
	}
	out, err := decoder().DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out, nil
}
