package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on key length in bytes.
const maxKeyLen = 1024

// ValidateKey checks an object key: non-empty, relative, UTF-8, at most 1024
// bytes, and made of segments that are neither empty, "." nor "..". A valid
// key can never name anything outside the bucket's root.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q ends with '/'", ErrInvalidKey, key)
	}
	return validatePrefix(key)
}

// validatePrefix checks a key or a listing prefix; an empty prefix is the root.
// A trailing slash is allowed (a folder-like prefix).
func validatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > maxKeyLen {
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidKey, len(p), maxKeyLen)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidKey, p)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q must be relative (no leading '/')", ErrInvalidKey, p)
	}
	if strings.ContainsAny(p, "\x00\\") {
		return fmt.Errorf("%w: %q contains a NUL byte or a backslash", ErrInvalidKey, p)
	}
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for _, s := range segs {
		switch s {
		case "":
			return fmt.Errorf("%w: %q has an empty path segment", ErrInvalidKey, p)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, p, s)
		}
	}
	return nil
}

// validateBucketName applies S3's bucket naming rules (3-63 chars of
// lowercase letters, digits, '.' and '-', starting and ending alphanumeric).
func validateBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("%w: bucket %q must be 3-63 characters", ErrInvalidKey, b)
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '.' || c == '-') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("%w: bucket %q: invalid character %q at %d", ErrInvalidKey, b, c, i)
		}
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("%w: bucket %q has consecutive dots", ErrInvalidKey, b)
	}
	return nil
}
