package storage

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Multipart uploads that were started but neither completed nor aborted
// (a writer killed mid-Put leaves one) keep their parts, and the storage
// they use, until someone aborts them. S3 lists them by key prefix; MinIO
// matches a non-empty prefix only as a whole key, and answers an empty one
// from the uploads it saw since it started. incompleteUploads asks both
// ways and keeps the uploads under prefix, so the answer holds on both. On
// AWS the second question pages through every unfinished upload of the
// bucket, which a lifecycle rule aborting old uploads keeps short.

// IncompleteUploads counts the multipart uploads under prefix that were
// neither completed nor aborted.
func (b *s3Bucket) IncompleteUploads(ctx context.Context, prefix string) (int, error) {
	ups, err := b.incompleteUploads(ctx, "list-uploads", prefix)
	if err != nil {
		return 0, err
	}
	return len(ups), nil
}

// RemoveIncomplete aborts the multipart uploads to keys under prefix that
// were initiated more than olderThan ago (olderThan <= 0: every one). A Put
// whose upload is aborted fails. An upload that completes or is aborted
// meanwhile is not counted.
func (b *s3Bucket) RemoveIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	ups, err := b.incompleteUploads(ctx, "remove-uploads", prefix)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	for _, u := range ups {
		if olderThan > 0 && u.Initiated.After(cutoff) {
			continue
		}
		err := withRetry(ctx, b.retry, b.log, "remove-uploads", b.URI(u.Key), func() error {
			return b.cause(b.core.AbortMultipartUpload(ctx, b.bucket, u.Key, u.UploadID))
		})
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, b.fail("remove-uploads", u.Key, err)
		}
		n++
	}
	return n, nil
}

// incompleteUploads lists the unfinished multipart uploads to keys under
// prefix, each once.
func (b *s3Bucket) incompleteUploads(ctx context.Context, op, prefix string) ([]minio.ObjectMultipartInfo, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, b.fail(op, prefix, err)
	}
	seen := map[string]bool{}
	var out []minio.ObjectMultipartInfo
	queries := []string{prefix}
	if prefix != "" {
		queries = append(queries, "") // MinIO: every upload it knows of
	}
	for _, q := range queries {
		err := b.listUploads(ctx, op, prefix, q, func(u minio.ObjectMultipartInfo) {
			if strings.HasPrefix(u.Key, prefix) && !seen[u.UploadID] {
				seen[u.UploadID] = true
				out = append(out, u)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listUploads pages through ListMultipartUploads with prefix query and
// calls fn on each upload.
func (b *s3Bucket) listUploads(ctx context.Context, op, prefix, query string, fn func(minio.ObjectMultipartInfo)) error {
	keyMarker, idMarker := "", ""
	for {
		var res minio.ListMultipartUploadsResult
		err := withRetry(ctx, b.retry, b.log, op, b.URI(prefix), func() error {
			var err error
			res, err = b.core.ListMultipartUploads(ctx, b.bucket, query, keyMarker, idMarker, "", 1000)
			return b.cause(err)
		})
		if err != nil {
			return b.fail(op, prefix, err)
		}
		for _, u := range res.Uploads {
			fn(u)
		}
		if !res.IsTruncated || res.NextKeyMarker == "" && res.NextUploadIDMarker == "" {
			return nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}
