package storage

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// List yields the objects under prefix in key order (S3's byte order, so
// "a-b" comes before "a/b"), skipping temp files of unfinished writes.
func (b *fileBucket) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if _, err := b.path(prefix, true); err != nil {
			yield(ObjectInfo{}, &Error{Op: "list", URI: b.URI(prefix), Err: err})
			return
		}
		b.walk(ctx, "", prefix, yield)
	}
}

// listEntry is one directory entry with the key it sorts by: its key, plus
// a trailing "/" for a directory, whose keys all start that way.
type listEntry struct {
	key   string
	isDir bool
	info  fs.FileInfo // files only
}

// walk yields, in key order, the objects under the directory whose key
// prefix is dir ("" for the root, else ending in "/") that match prefix. It
// returns false once the consumer has stopped or an error was yielded.
func (b *fileBucket) walk(ctx context.Context, dir, prefix string, yield func(ObjectInfo, error) bool) bool {
	entries, err := b.readDir(dir, prefix)
	if err != nil {
		yield(ObjectInfo{}, b.fail("list", dir, err))
		return false
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, &Error{Op: "list", URI: b.URI(prefix), Err: err})
			return false
		}
		if e.isDir {
			if !b.walk(ctx, e.key, prefix, yield) {
				return false
			}
		} else if !yield(fileInfo(e.key, e.info), nil) {
			return false
		}
	}
	return true
}

// readDir returns the entries of directory dir that can hold keys starting
// with prefix, sorted by key. A missing directory has no entries.
func (b *fileBucket) readDir(dir, prefix string) ([]listEntry, error) {
	des, err := os.ReadDir(filepath.Join(b.root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]listEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, TempPrefix) {
			continue
		}
		key := dir + name
		if de.IsDir() {
			key += "/"
			if strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key) {
				out = append(out, listEntry{key: key, isDir: true})
			}
			continue
		}
		if !strings.HasPrefix(key, prefix) || ValidateKey(key) != nil {
			continue
		}
		info, err := os.Stat(filepath.Join(b.root, filepath.FromSlash(key))) // follows symlinks to files
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, err
		}
		if info.Mode().IsRegular() {
			out = append(out, listEntry{key: key, info: info})
		}
	}
	slices.SortFunc(out, func(x, y listEntry) int { return strings.Compare(x.key, y.key) })
	return out, nil
}
