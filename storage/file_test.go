package storage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestFileBucketRemoveIncompleteAge: temp files left by killed writers are
// removed once their last write is older than the bound, and only in the
// folders under the prefix; a temp file in the folder a non-folder prefix
// ends in may be for a key outside it, so it stays.
func TestFileBucketRemoveIncompleteAge(t *testing.T) {
	root := t.TempDir()
	b := storage.NewFileBucket(root)
	old := time.Now().Add(-2 * time.Hour)
	temp := func(rel string, mtime time.Time) string {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldTemp := temp("job/.nightshift-tmp-1", old)
	newTemp := temp("job/.nightshift-tmp-2", time.Now())
	deepOld := temp("job/_temporary/.nightshift-tmp-3", old)
	sibling := temp("jobs/.nightshift-tmp-4", old)
	parent := temp(".nightshift-tmp-5", old)
	if _, err := b.Put(t.Context(), "job/part-1", strings.NewReader("data"), 4, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	n, err := b.RemoveIncomplete(t.Context(), "job/", time.Hour)
	if err != nil || n != 2 {
		t.Errorf("RemoveIncomplete(job/, 1h) = %d, %v; want the 2 old temp files", n, err)
	}
	for p, want := range map[string]bool{oldTemp: false, deepOld: false, newTemp: true, sibling: true, parent: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists = %v, want %v", p, err == nil, want)
		}
	}
	// "job" is not a folder prefix: the temp file in the root may be for
	// a key outside it and stays; those in job/ and jobs/ go.
	if n, err := b.RemoveIncomplete(t.Context(), "job", 0); err != nil || n != 2 {
		t.Errorf("RemoveIncomplete(job, 0) = %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(parent); err != nil {
		t.Errorf("a temp file beside the prefix was removed: %v", err)
	}
	if _, err := b.Stat(t.Context(), "job/part-1"); err != nil {
		t.Errorf("an object under the prefix: %v", err)
	}
}
