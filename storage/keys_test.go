package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	for _, key := range []string{"a", "a/b/c.bin", "ünï cødé/✓", ".hidden", "a..b", "a/...", strings.Repeat("k", 1024)} {
		if err := ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range []string{"", "/a", "a/", "a//b", ".", "..", "a/..", "../a", "a/./b", "a\\b", "a\x00b", "\xff\xfe", strings.Repeat("k", 1025)} {
		if err := ValidateKey(key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b/", "shard-0"} {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "a//", "../", "a/./", "a//b/"} {
		if err := validatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validatePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}

func TestValidateBucketName(t *testing.T) {
	for _, b := range []string{"abc", "my-bucket", "my.bucket.1", strings.Repeat("b", 63)} {
		if err := validateBucketName(b); err != nil {
			t.Errorf("validateBucketName(%q) = %v", b, err)
		}
	}
	for _, b := range []string{"", "ab", strings.Repeat("b", 64), "Abc", "-abc", "abc-", "a..b", "a_b", "a b"} {
		if err := validateBucketName(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validateBucketName(%q) = %v, want ErrInvalidKey", b, err)
		}
	}
}

// FuzzValidateKey checks that a key ValidateKey accepts is clean: joining
// it under a root never climbs out, and it has no empty segment.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a//b", ".", "ü/✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("ValidateKey accepted %q with segment %q", key, seg)
			}
		}
		if strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("ValidateKey accepted %q", key)
		}
	})
}
