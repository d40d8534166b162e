// Package storagetest holds the conformance suite every storage.Bucket
// backend must pass, deterministic test data, a fault-injecting HTTP
// transport, and helpers that reach a test MinIO server.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/storage"
)

// Run runs the conformance suite against buckets from newBucket, which must
// return an empty bucket for each call. Heavy subtests (a 256 MiB object)
// are skipped under -short.
func Run(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newBucket(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newBucket(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newBucket(t)) })
	t.Run("KeyValidation", func(t *testing.T) { testKeyValidation(t, newBucket(t)) })
	t.Run("Ranges", func(t *testing.T) { testRanges(t, newBucket(t)) })
	t.Run("PutIfAbsent", func(t *testing.T) { testPutIfAbsent(t, newBucket(t)) })
	t.Run("PutIfAbsentConcurrent", func(t *testing.T) { testPutIfAbsentConcurrent(t, newBucket(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newBucket(t)) })
	t.Run("AbortedPut", func(t *testing.T) { testAbortedPut(t, newBucket(t)) })
	t.Run("CancelGet", func(t *testing.T) { testCancelGet(t, newBucket(t)) })
	t.Run("CancelPut", func(t *testing.T) { testCancelPut(t, newBucket(t)) })
	t.Run("RemoveIncomplete", func(t *testing.T) { testRemoveIncomplete(t, newBucket(t)) })
	t.Run("StreamLarge", func(t *testing.T) {
		if testing.Short() {
			t.Skip("256 MiB streaming test skipped in -short mode")
		}
		testStreamLarge(t, newBucket(t))
	})
}

// testCtx is the deadline of one subtest.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustPut stores data at key.
func mustPut(t *testing.T, b storage.Bucket, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := b.Put(testCtx(t), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

// mustGet reads the whole object at key.
func mustGet(t *testing.T, b storage.Bucket, key string) []byte {
	t.Helper()
	rc, _, err := b.Get(testCtx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return data
}

// wantErr fails unless err wraps target and is an *storage.Error whose text
// names uri.
func wantErr(t *testing.T, what string, err, target error, uri string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, target)
		return
	}
	var se *storage.Error
	if !errors.As(err, &se) {
		t.Errorf("%s: error %v (%T) is not a *storage.Error", what, err, err)
	}
	if uri != "" && !strings.Contains(err.Error(), uri) {
		t.Errorf("%s: error %q does not name %s", what, err, uri)
	}
}

func testRoundTrip(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	key := "rt/deep/a/b/hello world ✓.txt"
	v1, v2 := []byte("hello, world"), []byte("HELLO, WORLD")

	put := mustPut(t, b, key, v1)
	if put.Key != key || put.Size != int64(len(v1)) || put.ETag == "" {
		t.Errorf("Put returned %+v, want key %q, size %d and an ETag", put, key, len(v1))
	}
	st, err := b.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Size != int64(len(v1)) || st.ETag != put.ETag || time.Since(st.LastModified).Abs() > time.Hour {
		t.Errorf("Stat = %+v, want size %d, ETag %q, a recent LastModified", st, len(v1), put.ETag)
	}
	rc, gi, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, v1) || gi.Size != int64(len(v1)) || gi.ETag != put.ETag {
		t.Errorf("Get = %q, %+v, %v; want %q with size %d, ETag %q", got, gi, err, v1, len(v1), put.ETag)
	}

	// Overwrite with the same size: new content, new ETag.
	put2 := mustPut(t, b, key, v2)
	if got := mustGet(t, b, key); !bytes.Equal(got, v2) {
		t.Errorf("after overwrite Get = %q, want %q", got, v2)
	}
	if put2.ETag == put.ETag {
		t.Errorf("overwrite kept ETag %q", put.ETag)
	}

	// Unknown size and empty objects.
	if _, err := b.Put(ctx, "rt/unknown", strings.NewReader("no size given"), -1, storage.PutOptions{}); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got := mustGet(t, b, "rt/unknown"); string(got) != "no size given" {
		t.Errorf("Get(rt/unknown) = %q", got)
	}
	mustPut(t, b, "rt/empty", nil)
	if got := mustGet(t, b, "rt/empty"); len(got) != 0 {
		t.Errorf("empty object reads back %d bytes", len(got))
	}

	// Copy, onto a new key and over an existing one.
	for _, dst := range []string{"rt/copy/hello.txt", "rt/unknown"} {
		ci, err := b.Copy(ctx, key, dst)
		if err != nil {
			t.Fatalf("Copy to %q: %v", dst, err)
		}
		if ci.Key != dst || ci.Size != int64(len(v2)) {
			t.Errorf("Copy returned %+v", ci)
		}
		if got := mustGet(t, b, dst); !bytes.Equal(got, v2) {
			t.Errorf("copy %q = %q, want %q", dst, got, v2)
		}
	}

	// Delete, twice.
	for range 2 {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if _, err := b.Stat(ctx, key); !storage.IsNotFound(err) {
		t.Errorf("Stat after Delete: %v, want not found", err)
	}
	if got := mustGet(t, b, "rt/copy/hello.txt"); !bytes.Equal(got, v2) {
		t.Errorf("copy changed by deleting its source: %q", got)
	}
}

func testSizeMismatch(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		key  string
		body string
		size int64
	}{
		{"short", "ten bytes!", 100},
		{"long", "ten bytes!", 5},
	} {
		_, err := b.Put(ctx, tc.key, strings.NewReader(tc.body), tc.size, storage.PutOptions{})
		wantErr(t, "Put "+tc.key, err, storage.ErrInvalidArgument, b.URI(tc.key))
		if _, err := b.Stat(ctx, tc.key); !storage.IsNotFound(err) {
			t.Errorf("Stat(%q) after a rejected Put: %v, want not found", tc.key, err)
		}
	}
}

func testNotFound(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	key := "missing/object"
	uri := b.URI(key)
	_, _, err := b.Get(ctx, key)
	wantErr(t, "Get", err, storage.ErrNotFound, uri)
	_, err = b.GetRange(ctx, key, 0, 10)
	wantErr(t, "GetRange", err, storage.ErrNotFound, uri)
	_, err = b.GetRange(ctx, key, 0, 0)
	wantErr(t, "GetRange length 0", err, storage.ErrNotFound, uri)
	_, err = b.Stat(ctx, key)
	wantErr(t, "Stat", err, storage.ErrNotFound, uri)
	_, err = b.Copy(ctx, key, "missing/copy")
	wantErr(t, "Copy", err, storage.ErrNotFound, uri)
	if err := b.Delete(ctx, key); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	// A "folder" is not an object.
	mustPut(t, b, "dir/child", []byte("x"))
	_, err = b.Stat(ctx, "dir")
	wantErr(t, "Stat of a folder", err, storage.ErrNotFound, b.URI("dir"))
}

// badKeys are keys every backend must refuse before any I/O.
var badKeys = []string{"", ".", "..", "../x", "a/../b", "a/./b", "a//b", "/a", "a/", "a\\b", "a\x00b", "\xff", strings.Repeat("k", 1025)}

func testKeyValidation(t *testing.T, b storage.Bucket) {
	ctx := testCtx(t)
	mustPut(t, b, "good", []byte("x"))
	for _, key := range badKeys {
		body := &countingReader{r: strings.NewReader("body")}
		_, err := b.Put(ctx, key, body, 4, storage.PutOptions{})
		wantErr(t, "Put "+quote(key), err, storage.ErrInvalidKey, "")
		_, err = b.PutIfAbsent(ctx, key, body, 4, storage.PutOptions{})
		wantErr(t, "PutIfAbsent "+quote(key), err, storage.ErrInvalidKey, "")
		if body.reads != 0 {
			t.Errorf("Put %s read the body before rejecting the key", quote(key))
		}
		_, _, err = b.Get(ctx, key)
		wantErr(t, "Get "+quote(key), err, storage.ErrInvalidKey, "")
		_, err = b.GetRange(ctx, key, 0, 1)
		wantErr(t, "GetRange "+quote(key), err, storage.ErrInvalidKey, "")
		_, err = b.Stat(ctx, key)
		wantErr(t, "Stat "+quote(key), err, storage.ErrInvalidKey, "")
		wantErr(t, "Delete "+quote(key), b.Delete(ctx, key), storage.ErrInvalidKey, "")
		_, err = b.Copy(ctx, key, "dst")
		wantErr(t, "Copy from "+quote(key), err, storage.ErrInvalidKey, "")
		_, err = b.Copy(ctx, "good", key)
		wantErr(t, "Copy to "+quote(key), err, storage.ErrInvalidKey, "")
	}
	for _, prefix := range []string{"/a", "a//", "..", "a/../", "./"} {
		n := 0
		for _, err := range b.List(ctx, prefix) {
			n++
			wantErr(t, "List "+quote(prefix), err, storage.ErrInvalidKey, "")
		}
		if n != 1 {
			t.Errorf("List %s yielded %d items, want one error", quote(prefix), n)
		}
	}
}

// quote shortens long keys in messages.
func quote(key string) string {
	if len(key) > 20 {
		key = key[:20] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(`"`+key+`"`, "\x00", `\x00`), "\xff", `\xff`)
}
