package storage

import (
	"errors"
	"testing"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want URI
	}{
		{"s3://bucket/key", URI{Scheme: "s3", Bucket: "bucket", Key: "key"}},
		{"s3://my-bucket.x/a/b/c.bin", URI{Scheme: "s3", Bucket: "my-bucket.x", Key: "a/b/c.bin"}},
		{"s3://bucket", URI{Scheme: "s3", Bucket: "bucket"}},
		{"s3://bucket/", URI{Scheme: "s3", Bucket: "bucket"}},
		{"s3://bucket/prefix/", URI{Scheme: "s3", Bucket: "bucket", Key: "prefix/"}},
		{"s3://bucket/a%20b", URI{Scheme: "s3", Bucket: "bucket", Key: "a b"}},
		{"s3://bucket/a%3Fb%23c%25d", URI{Scheme: "s3", Bucket: "bucket", Key: "a?b#c%d"}},
		{"file:///data/x", URI{Scheme: "file", Key: "data/x"}},
		{"file://localhost/data/x", URI{Scheme: "file", Key: "data/x"}},
		{"file:///", URI{Scheme: "file"}},
	} {
		got, err := ParseURI(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestParseURIRejects(t *testing.T) {
	for _, raw := range []string{
		"", "bucket/key", "/abs/path", "http://bucket/key", "s3://", "s3:///key",
		"s3://Bucket/key", "s3://b/key", "s3://bucket:9000/key", "s3://-bucket/key",
		"s3://bucket/a/../b", "s3://bucket/a//b", "s3://bucket/./a", "s3://bucket/a?x=1",
		"s3://bucket/a#frag", "s3://user:pass@bucket/key", "file://host/x", "file:relative",
		"file:///a/../b", "file:///a//b", "%zz",
	} {
		if u, err := ParseURI(raw); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseURI(%q) = %+v, %v; want ErrInvalidKey", raw, u, err)
		}
	}
}

func TestURIString(t *testing.T) {
	for _, tc := range []struct {
		u    URI
		want string
	}{
		{URI{Scheme: "s3", Bucket: "bkt", Key: "a/b"}, "s3://bkt/a/b"},
		{URI{Scheme: "s3", Bucket: "bkt"}, "s3://bkt/"},
		{URI{Scheme: "file", Key: "tmp/x"}, "file:///tmp/x"},
		{URI{Scheme: "s3", Bucket: "bkt", Key: "a b/ü"}, "s3://bkt/a b/ü"},
		{URI{Scheme: "s3", Bucket: "bkt", Key: "100%?#"}, "s3://bkt/100%25%3F%23"},
	} {
		if got := tc.u.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.u, got, tc.want)
		}
	}
}

func TestJoin(t *testing.T) {
	u := URI{Scheme: "s3", Bucket: "bkt", Key: "root/"}
	if got := u.Join("x/y").String(); got != "s3://bkt/root/x/y" {
		t.Errorf("Join = %q", got)
	}
	if got := JoinKey("/a/", "", "b/", "/c"); got != "a/b/c" {
		t.Errorf("JoinKey = %q", got)
	}
}

// FuzzParseURI checks that ParseURI never panics and that every URI it
// accepts survives a trip through String.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"s3://bucket/key", "file:///a/b", "s3://b.c-d/x%20y/", "file://localhost/", "s3://bucket/%25%3F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURI(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParseURI(%q) error %v does not wrap ErrInvalidKey", raw, err)
			}
			return
		}
		again, err := ParseURI(u.String())
		if err != nil || again != u {
			t.Fatalf("ParseURI(%q) = %+v; its String %q parses to %+v, %v", raw, u, u.String(), again, err)
		}
	})
}
