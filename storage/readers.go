package storage

import (
	"context"
	"fmt"
	"io"
)

// ctxReader fails reads once ctx ends, so a long copy stops promptly.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxReadCloser is ctxReader over a ReadCloser.
type ctxReadCloser struct {
	ctxReader
	io.Closer
}

func newCtxReadCloser(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return ctxReadCloser{ctxReader{ctx, rc}, rc}
}

// fill reads into buf until it is full or r ends. It returns the byte count
// and whether r ended with io.EOF. Any other read error, io.ErrUnexpectedEOF
// included, is returned: a truncated source must never look like a complete
// one.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// ReadAll reads a whole object of at most limit bytes; a larger one is an
// error wrapping ErrTooLarge, never a silently truncated body.
func ReadAll(ctx context.Context, b Bucket, key string, limit int64) ([]byte, error) {
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", b.URI(key), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is over the %d-byte limit", ErrTooLarge, b.URI(key), limit)
	}
	return data, nil
}
