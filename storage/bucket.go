package storage

import (
	"context"
	"io"
	"iter"
	"time"
)

// Bucket is an object store rooted at one S3 bucket or one local directory.
// Keys are slash-separated paths relative to that root.
type Bucket interface {
	// Get streams a whole object. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// GetRange streams length bytes from offset; length < 0 reads to the end.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Put streams r into key, replacing any object there atomically. size is
	// the byte count when known, or -1.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// PutIfAbsent is Put that fails with ErrExists when key already exists.
	// Of concurrent callers exactly one succeeds.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// Stat returns an object's metadata, or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List yields every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Copy copies src to dst inside the bucket (server-side where possible).
	Copy(ctx context.Context, src, dst string) (ObjectInfo, error)
	// URI returns the full URI of key, for messages and manifests.
	URI(key string) string
	// RemoveIncomplete discards the unfinished uploads (started, neither
	// completed nor aborted, as a writer killed mid-Put leaves them) to keys
	// under prefix started more than olderThan ago (s3: the upload's
	// initiation; file: the temp file's modification time), and
	// returns how many it removed; olderThan <= 0 removes every one. On s3
	// these are incomplete multipart uploads; on the file backend, temp
	// files, matched by folder: pass a prefix ending in "/" for the same
	// answer everywhere. A Put whose upload is removed fails.
	RemoveIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
	ContentType  string    `json:"content_type,omitempty"`
}

// PutOptions tunes one Put.
type PutOptions struct {
	// ContentType is stored with the object when the backend keeps it.
	ContentType string
}

// UploadLister is implemented by buckets that can count uploads which were
// started but neither completed nor aborted: S3 multipart uploads, or the
// file backend's leftover temp files. Tests use it to check that a failed
// Put cleans up after itself, and that RemoveIncomplete removed what it
// should.
type UploadLister interface {
	// IncompleteUploads counts unfinished uploads to keys under prefix (on
	// the file backend, also the temp files in the folder prefix ends in).
	IncompleteUploads(ctx context.Context, prefix string) (int, error)
}
