package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 limits on parts, and this package's defaults.
const (
	defaultPartSize = 16 << 20
	minPartSize     = 5 << 20 // every part but the last must be this large
	maxPartSize     = 5 << 30 // also the largest single-request copy
	maxParts        = 10000
	defaultRegion   = "us-east-1"
)

// s3Bucket is the s3 backend: one bucket on an S3-compatible server. It is
// the only code that talks to minio-go, whose own retries are switched off
// (MaxRetries 1) so that withRetry is the one retry loop.
type s3Bucket struct {
	core     minio.Core
	bucket   string
	region   string
	partSize int64
	copyMax  int64 // largest object copied in one request; bigger ones go by parts
	retry    RetryPolicy
	log      *slog.Logger
	secrets  []string // scrubbed out of every error message
}

// NewS3Bucket returns a Bucket over one bucket of the server cfg.S3 names.
// It does no I/O: a wrong endpoint, bucket or credential shows up on the
// first operation. ctx is accepted for symmetry with Open and future
// credential discovery.
func NewS3Bucket(ctx context.Context, cfg Config, bucket string) (Bucket, error) {
	return newS3Bucket(ctx, cfg, bucket)
}

// quietMinioRetries, run once before the first client exists, shrinks the
// pause minio-go takes after a retryable failure even when told not to retry
// (MaxRetries 1 still waits up to DefaultRetryUnit, 200ms, before giving
// up), so that withRetry alone decides how long to back off. The variables
// are minio-go's package globals; this package is their only user.
var quietMinioRetries = sync.OnceFunc(func() {
	minio.DefaultRetryUnit = time.Millisecond
	minio.DefaultRetryCap = time.Millisecond
})

func newS3Bucket(_ context.Context, cfg Config, bucket string) (*s3Bucket, error) {
	quietMinioRetries()
	uri := "s3://" + bucket + "/"
	if err := validateBucketName(bucket); err != nil {
		return nil, &Error{Op: "open", URI: uri, Err: err}
	}
	if cfg.S3.Endpoint == "" {
		return nil, &Error{Op: "open", URI: uri, Err: fmt.Errorf("%w: no S3 endpoint configured; set NIGHTSHIFT_S3_ENDPOINT", ErrInvalidArgument)}
	}
	partSize := cfg.S3.PartSize
	if partSize == 0 {
		partSize = defaultPartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, &Error{Op: "open", URI: uri, Err: fmt.Errorf("%w: S3 part size %d is outside [%d, %d]", ErrInvalidArgument, partSize, minPartSize, maxPartSize)}
	}
	region := cfg.S3.Region
	if region == "" {
		region = defaultRegion // a set region also spares a GetBucketLocation round trip
	}
	b := &s3Bucket{
		bucket:   bucket,
		region:   region,
		partSize: partSize,
		copyMax:  maxPartSize,
		retry:    cfg.Retry,
		log:      cfg.Logger,
		secrets:  []string{cfg.S3.AccessKey.Reveal(), cfg.S3.SecretKey.Reveal()},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	transport := cfg.S3.Transport
	if transport == nil {
		transport = s3Transport(cfg.S3.Secure)
	}
	core, err := minio.NewCore(cfg.S3.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.S3.AccessKey.Reveal(), cfg.S3.SecretKey.Reveal(), ""),
		Secure:     cfg.S3.Secure,
		Transport:  transport,
		Region:     region,
		MaxRetries: 1,
	})
	if err != nil {
		return nil, &Error{Op: "open", URI: uri, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, b.cause(err))}
	}
	b.core = *core
	return b, nil
}

// URI returns s3://bucket/key.
func (b *s3Bucket) URI(key string) string {
	return URI{Scheme: "s3", Bucket: b.bucket, Key: key}.String()
}

// Get streams the whole object. The request is made before Get returns, so
// a missing object is reported here, not on the first Read.
func (b *s3Bucket) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, ObjectInfo{}, b.fail("get", key, err)
	}
	return b.get(ctx, key, minio.GetObjectOptions{})
}

// GetRange streams length bytes from offset (to the end when length < 0).
// An offset at or past the end is ErrInvalidArgument (S3's 416), except
// offset 0 of an empty object; a range running past the end is cut short.
func (b *s3Bucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, b.fail("get", key, err)
	}
	if offset < 0 {
		return nil, b.fail("get", key, fmt.Errorf("%w: negative offset %d", ErrInvalidArgument, offset))
	}
	if length == 0 {
		if _, err := b.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		_ = opts.SetRange(offset, offset+length-1) // cannot fail: 0 <= start <= end
	case offset > 0:
		_ = opts.SetRange(offset, 0) // bytes=offset-
	}
	rc, _, err := b.get(ctx, key, opts)
	if err != nil && offset == 0 && isRangeError(err) {
		// S3 refuses any range of an empty object; the file backend and
		// the contract allow reading one from offset 0.
		if info, serr := b.Stat(ctx, key); serr == nil && info.Size == 0 {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
	}
	return rc, err
}

// isRangeError reports whether err is S3's 416 InvalidRange.
func isRangeError(err error) bool {
	se, ok := asS3Error(err)
	return ok && (se.status == 416 || se.code == "InvalidRange")
}

// get makes one GET (retried while transient) and returns its body.
func (b *s3Bucket) get(ctx context.Context, key string, opts minio.GetObjectOptions) (io.ReadCloser, ObjectInfo, error) {
	var (
		body io.ReadCloser
		oi   minio.ObjectInfo
	)
	err := withRetry(ctx, b.retry, b.log, "get", b.URI(key), func() error {
		rc, info, _, err := b.core.GetObject(ctx, b.bucket, key, opts)
		if err != nil {
			return b.cause(err)
		}
		body, oi = rc, info
		return nil
	})
	if err != nil {
		return nil, ObjectInfo{}, b.fail("get", key, err)
	}
	return &s3Reader{b: b, key: key, body: body}, objectInfo(key, oi), nil
}

// s3Reader is a GET response body whose read errors are scrubbed and name
// the object.
type s3Reader struct {
	b    *s3Bucket
	key  string
	body io.ReadCloser
}

func (r *s3Reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if err != nil && err != io.EOF {
		err = r.b.fail("get", r.key, r.b.cause(err))
	}
	return n, err
}

func (r *s3Reader) Close() error { return r.body.Close() }

// objectInfo converts minio-go's description of an object.
func objectInfo(key string, oi minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{Key: key, Size: oi.Size, ETag: oi.ETag, LastModified: oi.LastModified, ContentType: oi.ContentType}
}

// Stat returns the object's metadata (a HEAD request).
func (b *s3Bucket) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	oi, err := b.stat(ctx, "stat", key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return objectInfo(key, oi), nil
}

// stat is Stat with minio-go's full answer, user metadata included.
func (b *s3Bucket) stat(ctx context.Context, op, key string) (minio.ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return minio.ObjectInfo{}, b.fail(op, key, err)
	}
	var oi minio.ObjectInfo
	err := withRetry(ctx, b.retry, b.log, op, b.URI(key), func() error {
		var err error
		oi, err = b.core.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
		return b.cause(err)
	})
	if err != nil {
		return minio.ObjectInfo{}, b.fail(op, key, err)
	}
	return oi, nil
}

// Delete removes the object; S3 reports success for a missing one too.
func (b *s3Bucket) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return b.fail("delete", key, err)
	}
	err := withRetry(ctx, b.retry, b.log, "delete", b.URI(key), func() error {
		return b.cause(b.core.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{}))
	})
	if err != nil {
		return b.fail("delete", key, err)
	}
	return nil
}
