package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/storage"
)

func TestOpenFile(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		uri, fileRoot, wantKey, wantURI string
	}{
		{"file://" + root + "/a/b", root, "a/b", "file://" + root + "/a/b"},
		{"file://" + root + "/a/", root, "a/", "file://" + root + "/a/"},
		{"file://" + root, root, "", "file://" + root + "/"},
		{"file://" + root + "/a/b", "", strings.TrimPrefix(root, "/") + "/a/b", "file://" + root + "/a/b"},
	} {
		b, key, err := storage.Open(t.Context(), tc.uri, storage.Config{FileRoot: tc.fileRoot})
		if err != nil {
			t.Errorf("Open(%q, root %q): %v", tc.uri, tc.fileRoot, err)
			continue
		}
		if key != tc.wantKey || b.URI(key) != tc.wantURI {
			t.Errorf("Open(%q, root %q) = key %q, URI %q; want %q, %q", tc.uri, tc.fileRoot, key, b.URI(key), tc.wantKey, tc.wantURI)
		}
	}
}

func TestOpenFileEscapingRoot(t *testing.T) {
	root := t.TempDir()
	for _, uri := range []string{"file:///etc/passwd", "file://" + filepath.Dir(root) + "/", "file://" + root + "-sibling/x"} {
		_, _, err := storage.Open(t.Context(), uri, storage.Config{FileRoot: root})
		if !errors.Is(err, storage.ErrInvalidKey) || !strings.Contains(err.Error(), "escapes the configured root") {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey: escapes the configured root", uri, err)
		}
	}
}

func TestOpenS3(t *testing.T) {
	_, _, err := storage.Open(t.Context(), "s3://bucket/key", storage.Config{})
	if err == nil || !strings.Contains(err.Error(), "NIGHTSHIFT_S3_ENDPOINT") {
		t.Errorf("Open without an endpoint = %v, want advice to set NIGHTSHIFT_S3_ENDPOINT", err)
	}
	cfg := storage.Config{S3: storage.S3Config{Endpoint: "127.0.0.1:1", AccessKey: "AKIAEXAMPLE", SecretKey: "s3cr3t-value"}}
	b, key, err := storage.Open(t.Context(), "s3://bucket/a/b", cfg)
	if err != nil || key != "a/b" || b.URI(key) != "s3://bucket/a/b" {
		t.Errorf("Open = %v, %q, %v", b, key, err)
	}
	if _, _, err := storage.Open(t.Context(), "s3://bucket/a/../b", cfg); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Open of a bad key = %v, want ErrInvalidKey", err)
	}
	cfg.S3.PartSize = 1 << 20
	if _, _, err := storage.Open(t.Context(), "s3://bucket/k", cfg); !errors.Is(err, storage.ErrInvalidArgument) {
		t.Errorf("Open with a 1 MiB part size = %v, want ErrInvalidArgument", err)
	}
}

func TestMakeBucketFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x", "y")
	if err := storage.MakeBucket(t.Context(), "file://"+dir, storage.Config{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("MakeBucket did not create %s: %v", dir, err)
	}
}
