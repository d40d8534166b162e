package shard

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrBadInput marks a deterministic failure caused by the data itself:
	// retrying the same input fails the same way.
	ErrBadInput = errors.New("bad input")
	// ErrEmpty means the source holds no objects or no rows.
	ErrEmpty = errors.New("empty dataset")
	// ErrCorruptShard means a shard failed its checksum or size check.
	ErrCorruptShard = errors.New("corrupt shard")
	// ErrTooManyBadRows means quarantined rows passed the allowed fraction.
	ErrTooManyBadRows = errors.New("too many bad rows")
)

// InputError names exactly where a source is wrong: the object, then a line
// (text formats) or a row (columnar formats), and a column when one is known.
type InputError struct {
	Object string // the object's URI
	Line   int64  // 1-based line in the object (CSV, JSON lines); 0 if unknown
	Row    int64  // 1-based data row in the object (Parquet, Arrow); 0 if unknown
	Column string // the column, when one is to blame
	Reason string // what was wrong, e.g. `"abc" is not a float64`
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.Object)
	switch {
	case e.Line > 0:
		fmt.Fprintf(&b, ": line %d", e.Line)
	case e.Row > 0:
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrBadInput) hold for every InputError.
func (e *InputError) Unwrap() error { return ErrBadInput }

// objectError is an InputError about a whole object.
func objectError(uri, format string, args ...any) *InputError {
	return &InputError{Object: uri, Reason: fmt.Sprintf(format, args...)}
}
