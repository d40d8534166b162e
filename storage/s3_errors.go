package storage

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
)

// s3Error is an error response from the server, with the message scrubbed
// of credentials. It unwraps to the sentinel its status means, if any.
type s3Error struct {
	kind   error // ErrNotFound, ErrPermission, ... or nil
	status int   // HTTP status; 0 when minio-go refused the request itself
	code   string
	msg    string
}

func (e *s3Error) Error() string {
	s := fmt.Sprintf("s3 %s (HTTP %d): %s", e.code, e.status, e.msg)
	if e.kind != nil {
		s = e.kind.Error() + ": " + s
	}
	return s
}

func (e *s3Error) Unwrap() error { return e.kind }

// Transient reports whether the server asked to be tried again later or
// failed in a way a retry may not repeat.
func (e *s3Error) Transient() bool {
	switch e.code {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "XMinioServerNotInitialized":
		return true
	}
	return e.status >= 500 || e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout
}

// s3Kind maps an error response to the sentinel it means.
func s3Kind(status int, code string) error {
	switch {
	case code == "RequestTimeout":
		return nil // AWS sends it as a 400, but it is transient
	case status == http.StatusNotFound, code == "NoSuchKey", code == "NoSuchBucket", code == "NoSuchUpload":
		return ErrNotFound
	case status == http.StatusForbidden, code == "AccessDenied", code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch":
		return ErrPermission
	case status == http.StatusPreconditionFailed, code == "PreconditionFailed":
		return ErrExists
	case status == http.StatusBadRequest, status == http.StatusRequestedRangeNotSatisfiable,
		code == "InvalidRange", code == "InvalidArgument", code == "InvalidRequest":
		return ErrInvalidArgument
	}
	return nil
}

// netError is a transport failure (reset, timeout, refused connection),
// with its message scrubbed. It keeps the original in its chain so that
// errors.Is sees syscall errnos and context errors.
type netError struct {
	msg    string
	err    error
	closed bool // minio-go's "Connection closed by foreign host"
}

func (e *netError) Error() string { return e.msg }
func (e *netError) Unwrap() error { return e.err }

// Transient reports whether a new connection may succeed.
func (e *netError) Transient() bool { return e.closed || isNetTransient(e.err) }

// cause turns an error from minio-go into one this package classifies, and
// scrubs credentials out of its text. nil stays nil.
func (b *s3Bucket) cause(err error) error {
	if err == nil {
		return nil
	}
	var se *s3Error
	var ne *netError
	if errors.As(err, &se) || errors.As(err, &ne) {
		return err // already mapped
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return &s3Error{kind: s3Kind(er.StatusCode, er.Code), status: er.StatusCode, code: er.Code, msg: b.scrub(er.Error())}
	}
	msg := b.scrub(err.Error())
	return &netError{msg: msg, err: err, closed: strings.Contains(msg, "Connection closed by foreign host")}
}

// scrub replaces the configured credentials, plain or URL-escaped, in s.
func (b *s3Bucket) scrub(s string) string {
	for _, secret := range b.secrets {
		if secret == "" {
			continue
		}
		s = strings.ReplaceAll(s, secret, "REDACTED")
		s = strings.ReplaceAll(s, url.QueryEscape(secret), "REDACTED")
	}
	return s
}

// fail wraps err in an *Error naming the object. Errors from minio-go must
// have gone through cause first.
func (b *s3Bucket) fail(op, key string, err error) error {
	return &Error{Op: op, URI: b.URI(key), Err: err}
}

// asS3Error finds an *s3Error in err's chain.
func asS3Error(err error) (*s3Error, bool) {
	var se *s3Error
	ok := errors.As(err, &se)
	return se, ok
}
