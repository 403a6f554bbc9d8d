package blob_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cairn-dev/cairn/storage/blob"
)

// Every read of a Concat, whatever parts it spans (empty ones included),
// returns what a reader over the joined bytes returns.
func TestConcat(t *testing.T) {
	var whole []byte
	var parts []io.ReaderAt
	var sizes []int64
	for i, n := range []int{7, 0, 1, 300, 0, 64} {
		b := bytes.Repeat([]byte{byte(i + 1)}, n)
		whole = append(whole, b...)
		parts = append(parts, bytes.NewReader(b))
		sizes = append(sizes, int64(n))
	}
	c, err := blob.NewConcat(parts, sizes)
	if err != nil || c.Size() != int64(len(whole)) {
		t.Fatalf("NewConcat: size %d, %v", c.Size(), err)
	}
	ref := bytes.NewReader(whole)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		off := r.Int64N(int64(len(whole)) + 5)
		p, q := make([]byte, r.IntN(120)), make([]byte, 0)
		q = append(q, p...)
		n, err := c.ReadAt(p, off)
		m, rerr := ref.ReadAt(q, off)
		if n != m || !bytes.Equal(p[:n], q[:m]) || (err == nil) != (rerr == nil) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d, %v", len(p), off, n, err, m, rerr)
		}
	}
}
