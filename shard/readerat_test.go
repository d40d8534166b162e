package shard

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/storage"
)

// TestObjectReaderAtMatchesTheObject reads random ranges, small and large,
// through the block cache (with evictions, and a short last block) and
// compares them with the object's bytes.
func TestObjectReaderAtMatchesTheObject(t *testing.T) {
	b := storage.NewFileBucket(t.TempDir())
	size := int64(6*readBlockSize + 12345) // the last block is short
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	ctx := context.Background()
	if _, err := b.Put(ctx, "obj", bytes.NewReader(data), size, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ra := newObjectReaderAt(ctx, b, "obj", size)
	// The short last block first, then enough full blocks to evict it.
	offsets := []int64{size - 100, 0, readBlockSize, 2 * readBlockSize, 3 * readBlockSize, 4 * readBlockSize}
	for _, off := range offsets {
		p := make([]byte, 100)
		if n, err := ra.ReadAt(p, off); n != 100 || err != nil || !bytes.Equal(p, data[off:off+100]) {
			t.Fatalf("ReadAt(100 bytes at %d) = %d, %v", off, n, err)
		}
	}
	for i := range 400 {
		n := r.Int64N(64 << 10)
		if i%10 == 0 {
			n = r.Int64N(2 * readBlockSize) // spans blocks: read directly
		}
		off := r.Int64N(size)
		if i%3 == 0 {
			off = size - 1 - r.Int64N(12345) // keep the short last block in play
		}
		p := make([]byte, n)
		got, err := ra.ReadAt(p, off)
		want := min(n, size-off)
		if int64(got) != want || (err != nil && err != io.EOF) || (want < n && err != io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d", n, off, got, err, want)
		}
		if !bytes.Equal(p[:got], data[off:off+want]) {
			t.Fatalf("ReadAt(%d bytes at %d) returned other bytes", n, off)
		}
	}
	if _, err := ra.ReadAt(make([]byte, 1), size); err != io.EOF {
		t.Fatalf("read at the end: %v, want io.EOF", err)
	}
}
