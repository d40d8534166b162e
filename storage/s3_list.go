package storage

import (
	"context"
	"iter"

	"github.com/minio/minio-go/v7"
)

// List yields the objects under prefix in key order, following S3's pages
// of 1000. A transient failure resumes the listing after the last key
// yielded, so the consumer never sees a key twice.
func (b *s3Bucket) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(ObjectInfo{}, b.fail("list", prefix, err))
			return
		}
		after, stopped := "", false
		err := withRetry(ctx, b.retry, b.log, "list", b.URI(prefix), func() error {
			lctx, cancel := context.WithCancel(ctx)
			defer cancel()
			opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: after}
			for oi := range b.core.ListObjectsIter(lctx, b.bucket, opts) {
				if oi.Err != nil {
					return b.cause(oi.Err)
				}
				after = oi.Key
				if !yield(objectInfo(oi.Key, oi), nil) {
					stopped = true
					return nil
				}
			}
			return ctx.Err()
		})
		if err != nil && !stopped {
			yield(ObjectInfo{}, b.fail("list", prefix, err))
		}
	}
}
