package storage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

func TestFileBucketConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Bucket { return storage.NewFileBucket(t.TempDir()) })
}

func TestFileBucketLayout(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	ctx := t.Context()
	if _, err := b.Put(ctx, "a/b/c", strings.NewReader("data"), 4, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "a", "b", "c"))
	if err != nil {
		t.Fatalf("the object is not a plain file at root/a/b/c: %v", err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("object mode %v, want 0644", st.Mode().Perm())
	}
	if got, want := b.URI("a/b/c"), "file://"+filepath.ToSlash(root)+"/a/b/c"; got != want {
		t.Errorf("URI = %q, want %q", got, want)
	}
	entries, err := os.ReadDir(filepath.Join(root, "a", "b"))
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %d entries (%v), want just the object", len(entries), err)
	}
}

func TestFileBucketRejectsTempNames(t *testing.T) {
	b := storage.NewFileBucket(t.TempDir())
	for _, key := range []string{".nightshift-tmp-x", "a/.nightshift-tmp-1/b"} {
		if _, err := b.Put(t.Context(), key, strings.NewReader("x"), 1, storage.PutOptions{}); !isInvalidKey(err) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestFileBucketHidesTempFiles(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	if err := os.WriteFile(filepath.Join(root, ".nightshift-tmp-123"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	for info, err := range b.List(t.Context(), "") {
		t.Errorf("List yielded %+v, %v from a bucket holding only a temp file", info, err)
	}
	n, err := b.(storage.UploadLister).IncompleteUploads(t.Context(), "")
	if err != nil || n != 1 {
		t.Errorf("IncompleteUploads = %d, %v; want 1", n, err)
	}
}
