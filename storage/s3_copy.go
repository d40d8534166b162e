package storage

import (
	"context"

	"github.com/minio/minio-go/v7"
)

// Copy copies src to dst on the server. Objects up to 5 GiB take one
// request; larger ones are copied part by part (each part pinned to the
// source's ETag) as a multipart upload that is aborted on failure.
func (b *s3Bucket) Copy(ctx context.Context, src, dst string) (ObjectInfo, error) {
	if err := ValidateKey(dst); err != nil {
		return ObjectInfo{}, b.fail("copy", dst, err)
	}
	oi, err := b.stat(ctx, "copy", src)
	if err != nil {
		return ObjectInfo{}, err
	}
	if oi.Size > b.copyMax {
		return b.copyParts(ctx, src, dst, oi)
	}
	var out minio.ObjectInfo
	err = withRetry(ctx, b.retry, b.log, "copy", b.URI(dst), func() error {
		var err error
		out, err = b.core.CopyObject(ctx, b.bucket, src, b.bucket, dst, nil, minio.CopySrcOptions{}, minio.PutObjectOptions{})
		return b.cause(err)
	})
	if err != nil {
		return ObjectInfo{}, b.fail("copy", dst, err)
	}
	return ObjectInfo{Key: dst, Size: oi.Size, ETag: out.ETag, LastModified: out.LastModified, ContentType: oi.ContentType}, nil
}

// copyParts copies an object too large for one copy request.
func (b *s3Bucket) copyParts(ctx context.Context, src, dst string, oi minio.ObjectInfo) (info ObjectInfo, err error) {
	popts := minio.PutObjectOptions{ContentType: oi.ContentType}
	m, err := b.startMultipart(ctx, "copy", dst, popts)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer func() {
		if err != nil {
			m.abort(ctx)
		}
	}()
	for start := int64(0); start < oi.Size; start += b.copyMax {
		if err := m.copyPart(ctx, src, oi.ETag, start, min(b.copyMax, oi.Size-start)); err != nil {
			return ObjectInfo{}, err
		}
	}
	return m.complete(ctx, popts)
}
