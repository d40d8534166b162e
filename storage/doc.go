// Package storage is nightshift's object-store layer: one Bucket interface over
// S3-compatible servers (the s3 backend, the only importer of minio-go) and the
// local disk (the file backend), plus URI parsing, key validation and retries.
//
// Semantics every backend keeps (checked by the conformance suite in
// storage/storagetest):
//
//   - Get and Put stream: no backend buffers a whole object in memory.
//   - Put is atomic as a whole object: a reader sees the old object, the new
//     one or nothing, never half of one. A failed multipart upload is aborted.
//   - PutIfAbsent creates an object only if the key is free; of concurrent
//     writers exactly one wins and the others get ErrExists. On s3 its body
//     must fit in one part (S3Config.PartSize), as only a single PUT is
//     conditional on every S3 implementation.
//   - List walks keys in lexicographic order, however many there are.
//   - An upload a killed writer left unfinished (an S3 multipart upload, a
//     file backend temp file) is never listed, and RemoveIncomplete
//     discards those under a folder prefix that are older than a bound.
//   - Transient failures (timeouts, 5xx, connection resets) are retried with
//     capped exponential backoff and jitter, bounded by the caller's context;
//     permanent ones (403, 404, bad request) are returned at once, wrapped in
//     an *Error that names the URI.
//   - Keys are validated before any I/O: no "..", no empty segments, no
//     escaping the bucket's root.
//   - Credentials never appear in errors, logs or String() output.
//
// Concurrency: a Bucket is safe for concurrent use by many goroutines.
package storage
