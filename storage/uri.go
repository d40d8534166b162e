package storage

import (
	"fmt"
	"net/url"
	"strings"
)

// URI is a parsed storage URI: s3://bucket/key or file:///abs/path.
type URI struct {
	Scheme string // "s3" or "file"
	Bucket string // the S3 bucket; empty for file
	Key    string // the key inside the bucket, or the absolute path without its leading "/" for file
}

// ParseURI parses and validates a storage URI. Paths are never cleaned
// silently: "..", "." and empty segments are rejected.
func ParseURI(raw string) (URI, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return URI{}, fmt.Errorf("%w: %q is not a URI: %v", ErrInvalidKey, raw, err)
	}
	if u.User != nil {
		return URI{}, fmt.Errorf("%w: URI must not carry credentials; use the environment or config", ErrInvalidKey)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return URI{}, fmt.Errorf("%w: %q: query and fragment are not allowed", ErrInvalidKey, raw)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return URI{}, fmt.Errorf("%w: %q has no bucket", ErrInvalidKey, raw)
		}
		if err := validateBucketName(u.Host); err != nil {
			return URI{}, err
		}
		key := strings.TrimPrefix(u.Path, "/")
		if err := validatePrefix(key); err != nil {
			return URI{}, fmt.Errorf("%s: %w", raw, err)
		}
		return URI{Scheme: "s3", Bucket: u.Host, Key: key}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return URI{}, fmt.Errorf("%w: %q: file URIs take an absolute path (file:///path)", ErrInvalidKey, raw)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return URI{}, fmt.Errorf("%w: %q: file URIs take an absolute path (file:///path)", ErrInvalidKey, raw)
		}
		key := strings.TrimPrefix(u.Path, "/")
		if err := validatePrefix(key); err != nil {
			return URI{}, fmt.Errorf("%s: %w", raw, err)
		}
		return URI{Scheme: "file", Key: key}, nil
	case "":
		return URI{}, fmt.Errorf("%w: %q has no scheme; use s3://bucket/key or file:///abs/path", ErrInvalidKey, raw)
	default:
		return URI{}, fmt.Errorf("%w: %q: unsupported scheme %q (want s3 or file)", ErrInvalidKey, raw, u.Scheme)
	}
}

// String formats the URI back into its canonical text, which ParseURI
// reads back into the same URI. Bytes that would change a URI's meaning
// ('%', '?', '#' and control characters) are percent-escaped; the rest of
// the key, non-ASCII text included, is kept as it is for readable messages.
func (u URI) String() string {
	if u.Scheme == "file" {
		return "file:///" + escapeKey(u.Key)
	}
	return "s3://" + u.Bucket + "/" + escapeKey(u.Key)
}

// escapeKey percent-escapes the bytes of key that url.Parse would not read
// back as themselves.
func escapeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '%' || c == '?' || c == '#' || c < 0x20 || c == 0x7f {
			b.Grow(len(key) + 2)
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Join returns the URI of key below u, as if u were a folder.
func (u URI) Join(key string) URI {
	out := u
	out.Key = JoinKey(u.Key, key)
	return out
}

// JoinKey joins key segments with single slashes.
func JoinKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}
