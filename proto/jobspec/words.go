package jobspec

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nightshift-ml/nightshift/storage"
)

// oneOf reports whether s is one of the words.
func oneOf(s string, words ...string) bool { return slices.Contains(words, s) }

// want is the message for a word that is not one of words.
func want(got string, words ...string) string {
	if got == "" {
		return "required (" + orList(words) + ")"
	}
	return fmt.Sprintf("%q: want %s", got, orList(words))
}

func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// word canonicalises an enumerated value: trimmed, lower case.
func word(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// finiteNonNegative reports whether x is a finite number ≥ 0 (NaN is not).
func finiteNonNegative(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }

// CanonicalURI trims spaces and the trailing slashes of a folder URI, so
// "x/" and "x" are the same spec (and the same idempotency key). It trims
// until neither is left ("x /" is "x", not "x "), so that a canonical URI
// is its own canonical form (FuzzNormalize found "file:///0/0 /").
func CanonicalURI(u string) string {
	for {
		u = strings.TrimSpace(u)
		if !strings.HasSuffix(u, "/") || strings.HasSuffix(u, "://") || strings.HasSuffix(u, ":///") {
			return u
		}
		u = strings.TrimSuffix(u, "/")
	}
}

// checkURI records a missing or malformed storage URI.
func (c checker) checkURI(field, uri string) {
	if uri == "" {
		c.bad(field, "required (a storage URI: s3://bucket/prefix or file:///path)")
		return
	}
	if _, err := storage.ParseURI(uri); err != nil {
		c.bad(field, "%v", err)
	}
}

// inRange records an integer outside [lo, hi].
func (c checker) inRange(field string, v, lo, hi int64) {
	switch {
	case v < lo:
		c.bad(field, "must be ≥ %d, got %d", lo, v)
	case v > hi:
		c.bad(field, "at most %d, got %d", hi, v)
	}
}
