package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Open parses rawURI and returns the Bucket that holds it and the key (or
// prefix) inside that bucket. An s3:// URI needs cfg.S3.Endpoint. A file://
// URI is served by a file bucket rooted at cfg.FileRoot when that is set
// (the path must lie inside it) and at "/" otherwise.
func Open(ctx context.Context, rawURI string, cfg Config) (Bucket, string, error) {
	u, err := ParseURI(rawURI)
	if err != nil {
		return nil, "", &Error{Op: "open", URI: rawURI, Err: err}
	}
	switch u.Scheme {
	case "s3":
		if cfg.S3.Endpoint == "" {
			return nil, "", &Error{Op: "open", URI: rawURI, Err: fmt.Errorf("%w: no S3 endpoint configured; set NIGHTSHIFT_S3_ENDPOINT", ErrInvalidArgument)}
		}
		b, err := NewS3Bucket(ctx, cfg, u.Bucket)
		if err != nil {
			return nil, "", err
		}
		return b, u.Key, nil
	default:
		root, key, err := fileRootAndKey(cfg.FileRoot, u.Key)
		if err != nil {
			return nil, "", &Error{Op: "open", URI: rawURI, Err: err}
		}
		return NewFileBucket(root), key, nil
	}
}

// fileRootAndKey splits the absolute path "/"+p into a root and a key
// below it: the configured root when there is one, else "/".
func fileRootAndKey(configured, p string) (root, key string, err error) {
	if configured == "" {
		return "/", p, nil
	}
	root, err = filepath.Abs(configured)
	if err != nil {
		return "", "", fmt.Errorf("%w: file root %q: %w", ErrInvalidArgument, configured, err)
	}
	rel, err := filepath.Rel(root, filepath.FromSlash("/"+p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%w: /%s escapes the configured root %s", ErrInvalidKey, p, root)
	}
	if rel == "." {
		rel = ""
	} else if strings.HasSuffix(p, "/") {
		rel += "/" // keep a folder-like prefix folder-like
	}
	return root, filepath.ToSlash(rel), nil
}

// MakeBucket makes sure the bucket or directory rawURI names exists: it
// creates a missing s3 bucket (in cfg.S3.Region) or the directory of a
// file:// URI. Tests and benchmarks use it to set up a store.
func MakeBucket(ctx context.Context, rawURI string, cfg Config) error {
	u, err := ParseURI(rawURI)
	if err != nil {
		return &Error{Op: "make-bucket", URI: rawURI, Err: err}
	}
	if u.Scheme == "file" {
		root, key, err := fileRootAndKey(cfg.FileRoot, u.Key)
		if err == nil {
			err = os.MkdirAll(filepath.Join(root, filepath.FromSlash(key)), 0o755)
		}
		if err != nil {
			return &Error{Op: "make-bucket", URI: rawURI, Err: err}
		}
		return nil
	}
	b, err := newS3Bucket(ctx, cfg, u.Bucket)
	if err != nil {
		return err
	}
	return b.makeBucket(ctx)
}

// makeBucket creates the bucket unless it already exists.
func (b *s3Bucket) makeBucket(ctx context.Context) error {
	err := withRetry(ctx, b.retry, b.log, "make-bucket", b.URI(""), func() error {
		err := b.core.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{Region: b.region})
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.Code == "BucketAlreadyOwnedByYou" || er.Code == "BucketAlreadyExists") {
			exists, eerr := b.core.BucketExists(ctx, b.bucket)
			if eerr == nil && exists {
				return nil
			}
		}
		return b.cause(err)
	})
	if err != nil {
		return b.fail("make-bucket", "", err)
	}
	return nil
}
