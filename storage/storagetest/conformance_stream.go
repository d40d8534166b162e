package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/storage"
)

const (
	largeSize      = 256 << 20 // the streamed object
	maxHeapGrowth  = 96 << 20  // what streaming it may cost in heap
	abortAfter     = 40 << 20  // where AbortedPut's body fails: past two 16 MiB parts
	promptDeadline = 10 * time.Second
)

func testStreamLarge(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	key := "stream/large.bin"
	t.Cleanup(func() { _ = b.Delete(context.WithoutCancel(ctx), key) })

	sent := sha256.New()
	heap := WatchHeap()
	start := time.Now()
	info, err := b.Put(ctx, key, io.TeeReader(Data(42, largeSize), sent), -1, storage.PutOptions{})
	if err != nil {
		heap.Growth()
		t.Fatalf("Put of %d MiB: %v", largeSize>>20, err)
	}
	putTime := time.Since(start)
	if info.Size != largeSize {
		t.Errorf("Put returned size %d, want %d", info.Size, largeSize)
	}
	rc, gi, err := b.Get(ctx, key)
	if err != nil {
		heap.Growth()
		t.Fatalf("Get: %v", err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	growth := heap.Growth()
	t.Logf("256 MiB: put %v, get %v, peak heap growth %d MiB", putTime.Round(time.Millisecond), (time.Since(start) - putTime).Round(time.Millisecond), growth>>20)
	if err != nil || n != largeSize || gi.Size != largeSize {
		t.Fatalf("Get read %d bytes (info size %d), %v; want %d", n, gi.Size, err, largeSize)
	}
	if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Error("the object read back differs from the one written (sha256)")
	}
	if growth > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while streaming %d MiB; the limit is %d MiB", growth>>20, largeSize>>20, maxHeapGrowth>>20)
	}
}

func testAbortedPut(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	key := "abort/object"
	mustPut(t, b, key, []byte("v1"))
	_, err := b.Put(ctx, key, FailingReader(Data(1, -1), abortAfter), -1, storage.PutOptions{})
	if !errors.Is(err, ErrInjected) {
		t.Fatalf("Put with a body failing after %d MiB: %v, want the reader's error", abortAfter>>20, err)
	}
	wantErr(t, "failed Put", err, ErrInjected, b.URI(key))
	if got := mustGet(t, b, key); string(got) != "v1" {
		t.Errorf("a failed Put changed the object to %.20q", got)
	}
	_, err = b.Put(ctx, "abort/new", FailingReader(Data(1, -1), abortAfter), -1, storage.PutOptions{})
	if !errors.Is(err, ErrInjected) {
		t.Fatalf("Put of a new key with a failing body: %v", err)
	}
	if _, err := b.Stat(ctx, "abort/new"); !storage.IsNotFound(err) {
		t.Errorf("Stat after a failed Put: %v, want not found", err)
	}
	wantNoUploads(t, b, "abort/")
}

// wantNoUploads checks, where the backend can tell, that no upload under
// prefix was left unfinished.
func wantNoUploads(t *testing.T, b storage.Bucket, prefix string) {
	t.Helper()
	ul, ok := b.(storage.UploadLister)
	if !ok {
		t.Logf("%T cannot list incomplete uploads", b)
		return
	}
	for _, p := range []string{prefix + "object", prefix + "new", prefix} {
		n, err := ul.IncompleteUploads(testCtx(t), p)
		if err != nil {
			t.Fatalf("IncompleteUploads(%q): %v", p, err)
		}
		if n != 0 {
			t.Errorf("IncompleteUploads(%q) = %d, want 0", p, n)
		}
	}
}

func testCancelGet(t *testing.T, b storage.Bucket) {
	key := "cancel/get"
	data := Bytes(3, 8<<20)
	mustPut(t, b, key, data)

	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if rc, _, err := b.Get(ctx, key); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get with a cancelled context: %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(testCtx(t))
	defer cancel()
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 64<<10)); err != nil {
		t.Fatalf("first read: %v", err)
	}
	cancel()
	start := time.Now()
	n, err := io.Copy(io.Discard, rc)
	if err == nil {
		t.Errorf("reading on after cancel returned all %d remaining bytes and no error", n)
	}
	if d := time.Since(start); d > promptDeadline {
		t.Errorf("reads stopped %v after cancel", d)
	}
}

func testCancelPut(t *testing.T, b storage.Bucket) {
	key := "cancel/put"
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if _, err := b.Put(ctx, key, bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v, want context.Canceled", err)
	}

	// An endless, slow body: only cancellation ends this Put.
	ctx, cancel = context.WithCancel(testCtx(t))
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.Put(ctx, key, SlowReader(Data(5, -1), 128<<10, time.Millisecond), -1, storage.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Put: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > promptDeadline {
		t.Errorf("Put returned %v after start, cancelled at 300ms", d)
	}
	if _, err := b.Stat(testCtx(t), key); !storage.IsNotFound(err) {
		t.Errorf("Stat after a cancelled Put: %v, want not found", err)
	}
	ul, ok := b.(storage.UploadLister)
	if !ok {
		return
	}
	if n, err := ul.IncompleteUploads(testCtx(t), key); err != nil || n != 0 {
		t.Errorf("IncompleteUploads after a cancelled Put = %d, %v; want 0", n, err)
	}
}
