package jobspec

import "testing"

// TestCanonicalURI checks the canonical form of storage URIs, and that it
// is a fixed point.
func TestCanonicalURI(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b/p":        "s3://b/p",
		" s3://b/p/ ":     "s3://b/p",
		"s3://b/p//":      "s3://b/p",
		"file:///0/0 /":   "file:///0/0",
		"file:///x / / ":  "file:///x",
		"file:///":        "file:///",
		"s3://":           "s3://",
		"file:///a/b c/d": "file:///a/b c/d",
		"":                "",
	} {
		got := CanonicalURI(in)
		if got != want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", in, got, want)
		}
		if again := CanonicalURI(got); again != got {
			t.Errorf("CanonicalURI(%q) = %q, not a fixed point (%q)", in, got, again)
		}
	}
}
