package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TempPrefix starts the name of every file the file backend is still
// writing. List skips such files and keys may not use the prefix; tools
// that walk a folder themselves (scripts/e2e/checkout) recognise them by it.
const TempPrefix = ".nightshift-tmp-"

// fileBucket is the file backend: a Bucket over the directory tree at root.
// Writes go to a temp file in the target directory and are renamed (or
// hard-linked, for PutIfAbsent) into place, so readers never see half an
// object. A key cannot be both an object and a "folder" of other objects
// here ("a" and "a/b"), which S3 allows.
type fileBucket struct {
	root string // absolute and clean
}

// NewFileBucket returns a Bucket over the directory root, which need not
// exist yet (Put creates directories as needed). A relative root is made
// absolute against the working directory.
func NewFileBucket(root string) Bucket {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &fileBucket{root: filepath.Clean(root)}
}

// URI returns file:///root/key.
func (b *fileBucket) URI(key string) string {
	p := strings.TrimPrefix(filepath.ToSlash(b.root), "/")
	if p != "" {
		p += "/"
	}
	return URI{Scheme: "file", Key: p + key}.String()
}

// fail wraps err in an *Error for op on key, translating OS errors.
func (b *fileBucket) fail(op, key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		err = fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return &Error{Op: op, URI: b.URI(key), Err: err}
}

// path validates key (or, with prefix set, a listing prefix) and returns the
// file it names. It does no I/O.
func (b *fileBucket) path(key string, prefix bool) (string, error) {
	check := ValidateKey
	if prefix {
		check = validatePrefix
	}
	if err := check(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, TempPrefix) {
			return "", fmt.Errorf("%w: %q: segments may not start with %q", ErrInvalidKey, key, TempPrefix)
		}
	}
	p := filepath.Join(b.root, filepath.FromSlash(key))
	// Second guard: a valid key can never leave the root, but check anyway.
	if rel, err := filepath.Rel(b.root, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q escapes the bucket root", ErrInvalidKey, key)
	}
	return p, nil
}

// open opens key for reading and returns its metadata. A directory is not
// an object, so it is reported as not found.
func (b *fileBucket) open(ctx context.Context, op, key string) (*os.File, ObjectInfo, error) {
	p, err := b.path(key, false)
	if err != nil {
		return nil, ObjectInfo{}, &Error{Op: op, URI: b.URI(key), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, ObjectInfo{}, &Error{Op: op, URI: b.URI(key), Err: err}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, ObjectInfo{}, b.fail(op, key, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file: %w", p, fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, ObjectInfo{}, b.fail(op, key, err)
	}
	return f, fileInfo(key, st), nil
}

// fileInfo describes the object key stored in a file with metadata st.
func fileInfo(key string, st fs.FileInfo) ObjectInfo {
	return ObjectInfo{
		Key:          key,
		Size:         st.Size(),
		ETag:         fileETag(st.Size(), st.ModTime()),
		LastModified: st.ModTime(),
	}
}

// fileETag is a stable version tag: the size and the modification time in
// nanoseconds. Put stamps each new file with the current time to the
// nanosecond, so rewrites of the same size still change it.
func fileETag(size int64, mtime time.Time) string {
	return fmt.Sprintf("%x-%x", size, mtime.UnixNano())
}

// Get streams the whole object.
func (b *fileBucket) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	f, info, err := b.open(ctx, "get", key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	return newCtxReadCloser(ctx, f), info, nil
}

// GetRange streams length bytes from offset (to the end when length < 0).
// An offset at or past the end is ErrInvalidArgument, except offset 0 of an
// empty object; a range running past the end is cut short.
func (b *fileBucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, &Error{Op: "get", URI: b.URI(key), Err: fmt.Errorf("%w: negative offset %d", ErrInvalidArgument, offset)}
	}
	f, info, err := b.open(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	if length != 0 && offset >= info.Size && !(offset == 0 && info.Size == 0) {
		f.Close()
		return nil, &Error{Op: "get", URI: b.URI(key), Err: fmt.Errorf("%w: offset %d is past the end of a %d-byte object", ErrInvalidArgument, offset, info.Size)}
	}
	if length < 0 || offset+length > info.Size {
		length = max(info.Size-offset, 0)
	}
	r := io.NewSectionReader(f, offset, length)
	return newCtxReadCloser(ctx, readCloser{r, f}), nil
}

// readCloser pairs a reader with the closer of what it reads.
type readCloser struct {
	io.Reader
	io.Closer
}

// Stat returns the object's metadata.
func (b *fileBucket) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := b.path(key, false)
	if err != nil {
		return ObjectInfo{}, &Error{Op: "stat", URI: b.URI(key), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, &Error{Op: "stat", URI: b.URI(key), Err: err}
	}
	st, err := os.Stat(p)
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file: %w", p, fs.ErrNotExist)
	}
	if err != nil {
		return ObjectInfo{}, b.fail("stat", key, err)
	}
	return fileInfo(key, st), nil
}

// Delete removes the object; a missing one (or a directory) is not an error.
func (b *fileBucket) Delete(ctx context.Context, key string) error {
	p, err := b.path(key, false)
	if err != nil {
		return &Error{Op: "delete", URI: b.URI(key), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: "delete", URI: b.URI(key), Err: err}
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && st.IsDir() {
		return nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return b.fail("delete", key, err)
	}
	return nil
}
