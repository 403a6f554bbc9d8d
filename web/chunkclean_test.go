package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/web"
)

// fakeClock is DebugFileConfig.Now under the test's control.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func chunkStored(t *testing.T, s *difServer, c []byte) bool {
	t.Helper()
	sum := sha1hex(c)
	_, err := s.blobs.Size(context.Background(), "chunks/"+sum[:2]+"/"+sum)
	return err == nil
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func split(b []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(b); off += size {
		out = append(out, b[off:min(off+size, len(b))])
	}
	return out
}

// A chunk no file was assembled from goes once it is older than the
// maximum age, not before, and the same chunk is accepted again later.
func TestCleanChunksAbandoned(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: 64 << 10, ChunkCleanupInterval: -1, Now: clock.Now})
	ctx := context.Background()
	c := randomBytes(t, 50_000)
	if code, b := s.postChunks(t, false, c); code != 200 {
		t.Fatalf("chunk: %d %s", code, b)
	}
	clock.advance(23 * time.Hour)
	if n, _, err := s.difs.CleanChunks(ctx); err != nil || n != 0 || !chunkStored(t, s, c) {
		t.Fatalf("a young chunk was cleaned: n=%d err=%v", n, err)
	}
	clock.advance(2 * time.Hour)
	n, freed, err := s.difs.CleanChunks(ctx)
	if err != nil || n != 1 || freed != int64(len(c)) {
		t.Fatalf("CleanChunks = %d, %d, %v; want 1, %d", n, freed, err, len(c))
	}
	if chunkStored(t, s, c) {
		t.Fatal("abandoned chunk kept")
	}
	if code, b := s.postChunks(t, false, c); code != 200 || !chunkStored(t, s, c) {
		t.Fatalf("chunk uploaded again: %d %s", code, b)
	}
}

// A chunk that sat in the store for days is kept while a client counts on
// it: one that names it in an assemble request, or uploads it again (the
// server then keeps the old copy instead of rewriting it).
func TestCleanChunksKeepsChunksInUse(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: 64 << 10, ChunkCleanupInterval: -1, Now: clock.Now})
	c := randomBytes(t, 1000)
	s.postChunks(t, false, c)
	clock.advance(48 * time.Hour)
	s.postChunks(t, false, c)
	clock.advance(time.Hour)
	if n, _, err := s.difs.CleanChunks(context.Background()); err != nil || n != 0 || !chunkStored(t, s, c) {
		t.Fatalf("chunk uploaded again an hour ago was cleaned: n=%d err=%v", n, err)
	}
}

// Chunks of an assembly that has not finished are kept however old; a
// stored file keeps its bytes when its chunks are cleaned (they are its
// content), even a chunk re-uploaded and abandoned, and deleting the file
// then frees every byte.
func TestCleanChunksKeepsAssemblingAndStored(t *testing.T) {
	const chunkSize = 64 << 10
	clock := &fakeClock{now: time.Now()}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: chunkSize, ChunkCleanupInterval: -1, Now: clock.Now, Assemblers: 1,
		// The first stored file holds the only assembler until released,
		// so the second file's job waits with its chunks referenced.
		OnStored: func(ctx context.Context, files []meta.DebugFile) {
			once.Do(func() {
				close(entered)
				select {
				case <-release:
				case <-ctx.Done():
				}
			})
		}})
	ctx := context.Background()
	elf, err := os.ReadFile(fixtures.Get(t, "elf-x86_64-gcc-O2"))
	if err != nil {
		t.Fatal(err)
	}
	// Trailing bytes leave an ELF file valid and make it another file.
	elf2 := append(bytes.Clone(elf), "another build"...)
	s.postChunks(t, false, split(elf, chunkSize)...)
	if a := s.assembleOnce(t, "first", elf, chunkSize); a.State != "created" {
		t.Fatalf("first file: %+v", a)
	}
	<-entered
	s.postChunks(t, false, split(elf2, chunkSize)...)
	if a := s.assembleOnce(t, "second", elf2, chunkSize); a.State != "created" {
		t.Fatalf("second file: %+v, want created while the assembler is busy", a)
	}
	// A chunk of the stored file uploaded again by a client that then died.
	shared := split(elf, chunkSize)[0]
	s.postChunks(t, false, shared)

	clock.advance(25 * time.Hour)
	n, freed, err := s.difs.CleanChunks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range split(elf2, chunkSize) {
		if !chunkStored(t, s, c) {
			t.Fatalf("chunk %d of the file being assembled was cleaned", i)
		}
	}
	// elf and elf2 share their leading chunks, which the waiting job needs;
	// the re-uploaded one is among them, so nothing is deleted.
	if n != 0 || freed != 0 {
		t.Fatalf("CleanChunks = %d, %d; want nothing deleted", n, freed)
	}
	close(release)
	if a := s.assembleUntilDone(t, "first", elf, chunkSize); a.State != "ok" {
		t.Fatalf("first file after cleanup: %+v", a)
	}
	if a := s.assembleUntilDone(t, "second", elf2, chunkSize); a.State != "ok" {
		t.Fatalf("second file after cleanup: %+v", a)
	}

	// The second job dropped its chunks; a client that uploads one of them
	// again and dies leaves a fresh copy, which cleanup frees while the
	// stored files keep theirs.
	s.postChunks(t, false, shared)
	clock.advance(25 * time.Hour)
	if n, freed, err := s.difs.CleanChunks(ctx); err != nil || n != 1 || freed != int64(len(shared)) || chunkStored(t, s, shared) {
		t.Fatalf("re-uploaded chunk: CleanChunks = %d, %d, %v, still stored %v; want 1, %d", n, freed, err, chunkStored(t, s, shared), len(shared))
	}
	for _, want := range [][]byte{elf, elf2} {
		files, err := s.meta.ListDebugFiles(ctx, s.proj.ID, meta.DebugFileQuery{Checksum: sha1hex(want)})
		if err != nil || len(files) != 1 {
			t.Fatalf("stored file: %+v, %v", files, err)
		}
		code, got := s.do(t, s.token, "GET", "/api/0/projects/default/default/files/dsyms/?id="+strconv.FormatInt(files[0].ID, 10), "", nil)
		if code != 200 || !bytes.Equal(got, want) {
			t.Fatalf("download after cleanup: %d, %d bytes, equal %v", code, len(got), bytes.Equal(got, want))
		}
		if code, b := s.do(t, s.token, "DELETE", "/api/0/projects/default/default/files/dsyms/?id="+strconv.FormatInt(files[0].ID, 10), "", nil); code != 204 {
			t.Fatalf("delete: %d %s", code, b)
		}
	}
	if n := blobBytes(t, s); n != 0 {
		t.Fatalf("%d bytes left in the blob store after every file was deleted", n)
	}
}

// The cleanup EnableDebugFiles starts runs on its own.
func TestCleanChunksPeriodic(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: 64 << 10, ChunkCleanupInterval: 5 * time.Millisecond, Now: clock.Now})
	c := randomBytes(t, 1000)
	s.postChunks(t, false, c)
	clock.advance(25 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for chunkStored(t, s, c) {
		if time.Now().After(deadline) {
			t.Fatal("periodic cleanup never deleted the abandoned chunk")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blobBytes sums the sizes of the distinct files under the blob store:
// what a deleted file would still occupy if its bytes were not freed.
func blobBytes(t *testing.T, s *difServer) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(s.dir, "blobs"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.Contains(p, string(filepath.Separator)+".tmp") {
			return err
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		n += st.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assembleOnce posts one assemble request for file and returns its answer.
func (s *difServer) assembleOnce(t *testing.T, name string, file []byte, chunkSize int) assembleAnswer {
	t.Helper()
	var chunks []string
	for _, c := range split(file, chunkSize) {
		chunks = append(chunks, sha1hex(c))
	}
	sum := sha1hex(file)
	body, _ := json.Marshal(map[string]any{sum: map[string]any{"name": name, "chunks": chunks}})
	code, b := s.do(t, s.token, "POST", "/api/0/projects/default/default/files/difs/assemble/", "application/json", bytes.NewReader(body))
	var out map[string]assembleAnswer
	if code != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("assemble: %d %s", code, b)
	}
	return out[sum]
}
