package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// putIDHeader carries a random token with each PutIfAbsent, so a retry that
// meets 412 can tell its own earlier success from another writer's.
const putIDHeader = "X-Amz-Meta-Nightshift-Put-Id"

// Put streams r into key. A body that fits one part goes up in a single
// PUT; a larger one as a multipart upload, one part buffered at a time, so
// memory stays near PartSize whatever the object's size. Every request is
// sent from a buffer and so can be retried; a failed upload is aborted. On
// s3 the returned ObjectInfo has no LastModified (it would cost a HEAD).
func (b *s3Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, b.fail("put", key, err)
	}
	partSize := b.partSizeFor(size)
	limit := partSize
	if size >= 0 && size < partSize {
		limit = size + 1 // one byte more than promised shows a body that is too long
	}
	first, eof, err := readUpTo(ctxReader{ctx, r}, limit, size)
	if err != nil {
		return ObjectInfo{}, b.fail("put", key, fmt.Errorf("reading the body: %w", err))
	}
	if err := checkSize(int64(len(first)), size, eof); err != nil {
		return ObjectInfo{}, b.fail("put", key, err)
	}
	if eof {
		return b.putSingle(ctx, "put", key, first, opts, false)
	}
	return b.putParts(ctx, key, ctxReader{ctx, r}, first, size, opts)
}

// partSizeFor returns the part size for an object of size bytes (-1 when
// unknown): the configured one, or larger when the object would need more
// than maxParts parts.
func (b *s3Bucket) partSizeFor(size int64) int64 {
	if size > b.partSize*maxParts {
		const mib = 1 << 20
		return ((size+maxParts-1)/maxParts + mib - 1) / mib * mib
	}
	return b.partSize
}

// checkSize compares the bytes read so far with the size the caller gave
// (when it gave one, size >= 0).
func checkSize(got, size int64, eof bool) error {
	if size >= 0 && (got > size || eof && got != size) {
		return fmt.Errorf("%w: the body has %s bytes, the caller said %d", ErrInvalidArgument, moreThan(got, eof), size)
	}
	return nil
}

func moreThan(n int64, eof bool) string {
	if eof {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("at least %d", n)
}

// putParts uploads first, then the rest of r, as a multipart upload,
// reusing first's buffer for every later part.
func (b *s3Bucket) putParts(ctx context.Context, key string, r io.Reader, first []byte, size int64, opts PutOptions) (info ObjectInfo, err error) {
	popts := minio.PutObjectOptions{ContentType: opts.ContentType}
	m, err := b.startMultipart(ctx, "put", key, popts)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer func() {
		if err != nil {
			m.abort(ctx)
		}
	}()
	buf := first[:cap(first)]
	part, eof := first, false
	for {
		if err := m.upload(ctx, part); err != nil {
			return ObjectInfo{}, err
		}
		if eof {
			break
		}
		n, end, err := fill(r, buf)
		if err != nil {
			return ObjectInfo{}, b.fail("put", key, fmt.Errorf("reading the body: %w", err))
		}
		if err := checkSize(m.size+int64(n), size, end); err != nil {
			return ObjectInfo{}, b.fail("put", key, err)
		}
		if n == 0 {
			break
		}
		part, eof = buf[:n], end
	}
	return m.complete(ctx, popts)
}

// PutIfAbsent creates key only if it does not exist, with a conditional PUT
// (If-None-Match: *). The body must fit in one part (S3Config.PartSize): a
// single PUT is what every S3 implementation makes atomic with respect to
// that condition.
func (b *s3Bucket) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	const op = "put-if-absent"
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, b.fail(op, key, err)
	}
	tooBig := fmt.Errorf("%w: put-if-absent takes objects of at most %d bytes (S3Config.PartSize)", ErrInvalidArgument, b.partSize)
	if size > b.partSize {
		return ObjectInfo{}, b.fail(op, key, tooBig)
	}
	data, eof, err := readUpTo(ctxReader{ctx, r}, b.partSize+1, size)
	if err != nil {
		return ObjectInfo{}, b.fail(op, key, fmt.Errorf("reading the body: %w", err))
	}
	if err := checkSize(int64(len(data)), size, eof); err != nil {
		return ObjectInfo{}, b.fail(op, key, err)
	}
	if !eof {
		return ObjectInfo{}, b.fail(op, key, tooBig)
	}
	return b.putSingle(ctx, op, key, data, opts, true)
}

// putSingle PUTs data in one request; with ifAbsent, only if key is free.
func (b *s3Bucket) putSingle(ctx context.Context, op, key string, data []byte, opts PutOptions, ifAbsent bool) (ObjectInfo, error) {
	sum := sha256.Sum256(data)
	popts := minio.PutObjectOptions{ContentType: opts.ContentType, DisableContentSha256: true}
	token := ""
	if ifAbsent {
		token = rand.Text()
		popts.SetMatchETagExcept("*")
		popts.UserMetadata = map[string]string{putIDHeader: token}
	}
	var up minio.UploadInfo
	attempts := 0
	err := withRetry(ctx, b.retry, b.log, op, b.URI(key), func() error {
		attempts++
		var err error
		up, err = b.core.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), "", hex.EncodeToString(sum[:]), popts)
		err = b.cause(err)
		if ifAbsent && attempts > 1 && errors.Is(err, ErrExists) {
			// An earlier attempt may have succeeded with its reply lost.
			if oi, serr := b.stat(ctx, op, key); serr == nil && http.Header(oi.Metadata).Get(putIDHeader) == token {
				up = minio.UploadInfo{ETag: oi.ETag, LastModified: oi.LastModified}
				return nil
			}
		}
		return err
	})
	if err != nil {
		return ObjectInfo{}, b.fail(op, key, err)
	}
	return ObjectInfo{Key: key, Size: int64(len(data)), ETag: up.ETag, LastModified: up.LastModified, ContentType: opts.ContentType}, nil
}

// readUpTo reads r until it has limit bytes or r ends (eof), growing its
// buffer as data arrives so that a small body of unknown size costs little
// memory; with a known size it allocates size+1 bytes at once (capped by
// limit). The buffer's capacity never exceeds limit. A read error other than
// io.EOF is returned.
func readUpTo(r io.Reader, limit, size int64) (buf []byte, eof bool, err error) {
	start := min(limit, 64<<10)
	if size >= 0 {
		start = min(limit, size+1)
	}
	buf = make([]byte, 0, start)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == limit {
				return buf, false, nil
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf))+1, limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}
