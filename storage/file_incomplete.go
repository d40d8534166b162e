package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A write to the file backend goes to a temp file named TempPrefix+random in
// the object's folder, renamed into place when it is complete. A writer
// killed mid-write (a crashed process, a SIGKILL) leaves its temp file
// behind, and the name does not say which key it was for: only its folder
// is known. List never shows temp files; the two methods below find them.

// IncompleteUploads counts the temp files of unfinished writes that may be
// for keys under prefix: those in the folder prefix ends in (its part up to
// the last "/") and in the folders under prefix.
func (b *fileBucket) IncompleteUploads(ctx context.Context, prefix string) (int, error) {
	n := 0
	err := b.walkTemp(ctx, "list-uploads", prefix, func(string, string, fs.DirEntry) error {
		n++
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RemoveIncomplete deletes the temp files of unfinished writes in the
// folders under prefix (a folder's key, with its trailing "/", starts with
// prefix) whose last write is more than olderThan ago; olderThan <= 0
// deletes every one. A temp file directly in the folder a non-folder prefix
// ends in ("a/" for "a/b") is kept, as it may be for a key outside prefix.
// A write whose temp file is deleted fails (its rename finds nothing); one
// still writing after the age bound does too, which is why the bound should
// be far longer than any write takes.
func (b *fileBucket) RemoveIncomplete(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	err := b.walkTemp(ctx, "remove-uploads", prefix, func(folder, p string, d fs.DirEntry) error {
		if !strings.HasPrefix(folder, prefix) {
			return nil
		}
		if olderThan > 0 {
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // renamed or removed since it was listed
			}
			if err != nil {
				return err
			}
			if info.ModTime().After(cutoff) {
				return nil
			}
		}
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, nil
}

// walkTemp calls fn for every temp file in the folder prefix ends in and in
// the folders under prefix, with the key of the file's folder ("" for the
// root, else ending in "/") and its path. Folders that can hold no key
// under prefix are not entered.
func (b *fileBucket) walkTemp(ctx context.Context, op, prefix string, fn func(folder, p string, d fs.DirEntry) error) error {
	if _, err := b.path(prefix, true); err != nil {
		return &Error{Op: op, URI: b.URI(prefix), Err: err}
	}
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	start := filepath.Join(b.root, filepath.FromSlash(path.Clean("/"+dir)))
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != start && errors.Is(err, fs.ErrNotExist) {
				return nil // a folder removed during the walk
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			folder := b.folderKey(p)
			if p != start && !strings.HasPrefix(folder, prefix) && !strings.HasPrefix(prefix, folder) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), TempPrefix) {
			return nil
		}
		return fn(b.folderKey(filepath.Dir(p)), p, d)
	})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // no such folder: nothing was ever written there
	}
	if err != nil {
		return b.fail(op, prefix, err)
	}
	return nil
}

// folderKey is the key prefix of the folder at path p below the root: ""
// for the root, else its slash-separated path with a trailing "/".
func (b *fileBucket) folderKey(p string) string {
	rel, err := filepath.Rel(b.root, p)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel) + "/"
}
