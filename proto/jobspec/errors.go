package jobspec

import (
	"fmt"
	"strings"
)

// FieldError is one bad field of a spec, by its path in the spec's
// document form: "model_name", "features[1].kind", "optimizer.lr".
type FieldError struct {
	Path string
	Msg  string
}

// Error implements error: "path: message".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors lists every bad field of a spec, in field order. Normalize
// returns it as its error when any field is bad, so a user fixes all of
// them at once.
type Errors []FieldError

// Error implements error: the fields' errors joined by "; ".
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// err returns es as an error, or nil when it is empty (a nil Errors in an
// error interface would not be nil).
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// checker collects field errors under a path prefix.
type checker struct {
	prefix string
	errs   *Errors
}

func newChecker() checker { return checker{errs: &Errors{}} }

// at returns a checker whose paths are below field.
func (c checker) at(field string) checker {
	return checker{prefix: join(c.prefix, field), errs: c.errs}
}

// bad records that field is wrong.
func (c checker) bad(field, format string, args ...any) {
	*c.errs = append(*c.errs, FieldError{Path: join(c.prefix, field), Msg: fmt.Sprintf(format, args...)})
}

func join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "" || strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// index names the i-th item of a list field: "features[3]".
func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
