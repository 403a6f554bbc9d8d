package blob

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"
)

// Composer is implemented by stores that can make a blob out of blobs they
// already hold without copying their bytes (the filesystem store links
// them). Chunked uploads use it so a file received as chunks is written to
// disk once, as its chunks, rather than a second time when it is joined.
type Composer interface {
	// Compose stores under key the concatenation of the blobs under parts,
	// in order. The new blob is as durable and as immutable as one from
	// Put: it is wholly present or absent after a crash, and deleting or
	// replacing a part's key later leaves it unchanged.
	Compose(ctx context.Context, key string, parts []string) error
}

// Info describes one stored blob.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// Shared is set when the blob's bytes are also held by another blob
	// (one composed from it), so deleting this key frees none of them.
	Shared bool
}

// Lister is implemented by stores that can enumerate their blobs; cleanup
// of abandoned upload chunks needs it.
type Lister interface {
	// List calls fn for every blob whose key starts with prefix (a whole
	// number of key segments, such as "chunks/"), in no particular order.
	// An error from fn stops the walk and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// Concat is an io.ReaderAt over the concatenation of other ReaderAts, so a
// blob kept as parts (or a file received as chunks) can be parsed in place
// by readers that take an io.ReaderAt and a size.
type Concat struct {
	parts []io.ReaderAt
	ends  []int64 // ends[i] is the offset just past part i
}

var _ io.ReaderAt = (*Concat)(nil)

// NewConcat joins parts of the given sizes; sizes[i] is the length of
// parts[i], and bytes beyond it are never read.
func NewConcat(parts []io.ReaderAt, sizes []int64) (*Concat, error) {
	if len(parts) != len(sizes) {
		return nil, fmt.Errorf("blob: concat: %d parts but %d sizes", len(parts), len(sizes))
	}
	c := &Concat{parts: parts, ends: make([]int64, len(sizes))}
	var end int64
	for i, n := range sizes {
		if n < 0 {
			return nil, fmt.Errorf("blob: concat: part %d has negative size %d", i, n)
		}
		end += n
		c.ends[i] = end
	}
	return c, nil
}

// Size is the total length of the parts.
func (c *Concat) Size() int64 {
	if len(c.ends) == 0 {
		return 0
	}
	return c.ends[len(c.ends)-1]
}

// ReadAt implements io.ReaderAt; a read may span several parts.
func (c *Concat) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blob: concat: negative offset %d", off)
	}
	size := c.Size()
	if off >= size {
		return 0, io.EOF
	}
	i := sort.Search(len(c.ends), func(i int) bool { return c.ends[i] > off })
	n := 0
	for n < len(p) && i < len(c.parts) {
		start := int64(0)
		if i > 0 {
			start = c.ends[i-1]
		}
		want := min(int64(len(p)-n), c.ends[i]-off)
		m, err := c.parts[i].ReadAt(p[n:n+int(want)], off-start)
		n += m
		off += int64(m)
		if m < int(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("blob: concat: part %d: %w", i, err)
		}
		i++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
