package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the caller's context has ended.
const abortTimeout = 30 * time.Second

// multipart is one multipart upload in progress. Each part is sent from a
// buffer (or copied server-side), so every request can be retried on its
// own; a failed upload must be aborted, or its parts hold storage.
type multipart struct {
	b     *s3Bucket
	op    string
	key   string
	id    string
	parts []minio.CompletePart
	size  int64
}

// startMultipart initiates an upload. A retried initiate whose first try
// reached the server leaves an upload nobody knows; a bucket lifecycle rule
// for incomplete uploads is the backstop for that rare case.
func (b *s3Bucket) startMultipart(ctx context.Context, op, key string, opts minio.PutObjectOptions) (*multipart, error) {
	m := &multipart{b: b, op: op, key: key}
	err := withRetry(ctx, b.retry, b.log, op, b.URI(key), func() error {
		var err error
		m.id, err = b.core.NewMultipartUpload(ctx, b.bucket, key, opts)
		return b.cause(err)
	})
	if err != nil {
		return nil, b.fail(op, key, err)
	}
	return m, nil
}

// upload sends data as the next part. Re-sending a part replaces it, so
// retries are safe.
func (m *multipart) upload(ctx context.Context, data []byte) error {
	num := len(m.parts) + 1
	if num > maxParts {
		return m.b.fail(m.op, m.key, fmt.Errorf("%w: the object needs more than %d parts of %d bytes; raise S3Config.PartSize", ErrInvalidArgument, maxParts, len(data)))
	}
	sum := sha256.Sum256(data) // signs the payload, so the server checks it
	opts := minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum[:]), DisableContentSha256: true}
	var part minio.ObjectPart
	err := withRetry(ctx, m.b.retry, m.b.log, m.op, m.b.URI(m.key), func() error {
		var err error
		part, err = m.b.core.PutObjectPart(ctx, m.b.bucket, m.key, m.id, num, bytes.NewReader(data), int64(len(data)), opts)
		return m.b.cause(err)
	})
	if err != nil {
		return m.b.fail(m.op, m.key, fmt.Errorf("part %d: %w", num, err))
	}
	m.parts = append(m.parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
	m.size += int64(len(data))
	return nil
}

// copyPart copies length bytes of src from start as the next part, provided
// src still has the ETag it had when the copy began.
func (m *multipart) copyPart(ctx context.Context, src, srcETag string, start, length int64) error {
	num := len(m.parts) + 1
	hdr := map[string]string{"x-amz-copy-source-if-match": srcETag}
	var part minio.CompletePart
	err := withRetry(ctx, m.b.retry, m.b.log, m.op, m.b.URI(m.key), func() error {
		var err error
		part, err = m.b.core.CopyObjectPart(ctx, m.b.bucket, src, m.b.bucket, m.key, m.id, num, start, length, hdr)
		return m.b.cause(err)
	})
	if errors.Is(err, ErrExists) {
		err = fmt.Errorf("%w: %s changed during the copy", ErrInvalidArgument, m.b.URI(src))
	}
	if err != nil {
		return m.b.fail(m.op, m.key, fmt.Errorf("part %d: %w", num, err))
	}
	m.parts = append(m.parts, part)
	m.size += length
	return nil
}

// complete commits the parts as one object. When a retried complete finds
// the upload gone, the earlier try succeeded if the object now carries the
// ETag these parts make.
func (m *multipart) complete(ctx context.Context, opts minio.PutObjectOptions) (ObjectInfo, error) {
	var up minio.UploadInfo
	attempts := 0
	err := withRetry(ctx, m.b.retry, m.b.log, m.op, m.b.URI(m.key), func() error {
		attempts++
		var err error
		up, err = m.b.core.CompleteMultipartUpload(ctx, m.b.bucket, m.key, m.id, m.parts, opts)
		err = m.b.cause(err)
		if attempts > 1 && errors.Is(err, ErrNotFound) {
			oi, serr := m.b.stat(ctx, m.op, m.key)
			if serr == nil && oi.ETag == multipartETag(m.parts) {
				up = minio.UploadInfo{ETag: oi.ETag, LastModified: oi.LastModified}
				return nil
			}
		}
		return err
	})
	if err != nil {
		return ObjectInfo{}, m.b.fail(m.op, m.key, err)
	}
	return ObjectInfo{Key: m.key, Size: m.size, ETag: up.ETag, LastModified: up.LastModified, ContentType: opts.ContentType}, nil
}

// multipartETag is the ETag S3 gives an object made of parts: the MD5 of
// the parts' binary MD5s, a dash and the part count. It is "" when a part's
// ETag is not an MD5 (as with some server-side encryption).
func multipartETag(parts []minio.CompletePart) string {
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(sum) != md5.Size {
			return ""
		}
		h.Write(sum)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
}

// abort discards the upload and its parts. It runs on a context detached
// from ctx's cancellation (a cancelled Put must still clean up) and logs
// rather than returns a failure, as the caller already has an error.
func (m *multipart) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err := withRetry(actx, m.b.retry, m.b.log, "abort", m.b.URI(m.key), func() error {
		return m.b.cause(m.b.core.AbortMultipartUpload(actx, m.b.bucket, m.key, m.id))
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		m.b.log.LogAttrs(ctx, slog.LevelWarn, "storage: could not abort a multipart upload; its parts use storage until a lifecycle rule removes them",
			slog.String("uri", m.b.URI(m.key)), slog.String("upload_id", m.id), slog.String("error", err.Error()))
		return
	}
	m.b.log.LogAttrs(ctx, slog.LevelInfo, "storage: aborted multipart upload",
		slog.String("uri", m.b.URI(m.key)), slog.String("upload_id", m.id))
}
