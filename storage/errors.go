package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists means PutIfAbsent found the key taken.
	ErrExists = errors.New("object already exists")
	// ErrPermission means the store refused the request (403, EACCES).
	ErrPermission = errors.New("permission denied")
	// ErrInvalidKey means a key or URI failed validation; nothing was sent.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidArgument means the store rejected the request as malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrTooLarge means an object is larger than the reader allows.
	ErrTooLarge = errors.New("object too large")
)

// Error is the error every Bucket method returns: the operation, the URI it
// touched and the cause. It never holds credentials.
type Error struct {
	Op  string // "get", "put", "list", ...
	URI string // the object or prefix, e.g. s3://bucket/key
	Err error  // the cause; errors.Is works through it
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.URI, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err means a missing object.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
