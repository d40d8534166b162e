package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Put streams r into a temp file beside the object, syncs it and renames it
// into place. A failed or cancelled Put removes its temp file and leaves any
// previous object untouched.
func (b *fileBucket) Put(ctx context.Context, key string, r io.Reader, size int64, _ PutOptions) (ObjectInfo, error) {
	return b.write(ctx, "put", key, r, size, false)
}

// PutIfAbsent writes a temp file and hard-links it to the object's name,
// which the kernel refuses atomically when the name is taken.
func (b *fileBucket) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64, _ PutOptions) (ObjectInfo, error) {
	return b.write(ctx, "put-if-absent", key, r, size, true)
}

// Copy streams src into a temp file beside dst and renames it into place.
func (b *fileBucket) Copy(ctx context.Context, src, dst string) (ObjectInfo, error) {
	if _, err := b.path(dst, false); err != nil {
		return ObjectInfo{}, &Error{Op: "copy", URI: b.URI(dst), Err: err}
	}
	f, info, err := b.open(ctx, "copy", src)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer f.Close()
	return b.write(ctx, "copy", dst, f, info.Size, false)
}

// write is Put (exclusive false) and PutIfAbsent (exclusive true).
func (b *fileBucket) write(ctx context.Context, op, key string, r io.Reader, size int64, exclusive bool) (ObjectInfo, error) {
	p, err := b.path(key, false)
	if err != nil {
		return ObjectInfo{}, &Error{Op: op, URI: b.URI(key), Err: err}
	}
	if exclusive {
		// Cheap early answer; the hard link below is the real arbiter.
		if _, err := os.Lstat(p); err == nil {
			return ObjectInfo{}, &Error{Op: op, URI: b.URI(key), Err: ErrExists}
		}
	}
	tmp, err := writeTemp(ctx, p, r, size)
	if err != nil {
		return ObjectInfo{}, b.failWrite(op, key, err)
	}
	if exclusive {
		err = os.Link(tmp, p)
		os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return ObjectInfo{}, &Error{Op: op, URI: b.URI(key), Err: ErrExists}
		}
	} else if err = os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
	}
	if err != nil {
		return ObjectInfo{}, b.failWrite(op, key, err)
	}
	syncDir(filepath.Dir(p))
	st, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, b.failWrite(op, key, err)
	}
	return fileInfo(key, st), nil
}

// failWrite wraps a write-side OS error. A parent "directory" that is in
// fact an object is a bad argument, not a missing object.
func (b *fileBucket) failWrite(op, key string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		err = fmt.Errorf("%w: the key or one of its parents is both an object and a folder: %w", ErrInvalidArgument, err)
	case errors.Is(err, fs.ErrPermission):
		err = fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return &Error{Op: op, URI: b.URI(key), Err: err}
}

// writeTemp streams r into a new temp file in p's directory, checks its
// length against size (when size >= 0), stamps it with the current time and
// syncs it. It returns the temp file's path; on error the file is removed.
func writeTemp(ctx context.Context, p string, r io.Reader, size int64) (tmp string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(p), TempPrefix+"*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("%w: the body has %d bytes, the caller said %d", ErrInvalidArgument, n, size)
	}
	now := time.Now()
	if err = os.Chtimes(f.Name(), now, now); err != nil {
		return "", err
	}
	if err = f.Chmod(0o644); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable. It is best effort: some
// file systems cannot sync a directory, and the object is already visible.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
