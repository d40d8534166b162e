package storage

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestS3ErrorsAreScrubbed(t *testing.T) {
	const access, secret = "AKIAEXAMPLEKEY", "sec/ret+key=="
	b := &s3Bucket{bucket: "bkt", secrets: []string{access, secret}}
	leaky := "id " + access + " secret " + secret + " escaped " + url.QueryEscape(secret)

	resp := b.cause(minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403, Message: leaky})
	netErr := b.cause(&url.Error{Op: "Get", URL: "http://h/" + access, Err: &wrapErr{leaky, syscall.ECONNRESET}})
	for _, err := range []error{resp, netErr, b.fail("get", "k", resp)} {
		for _, s := range []string{access, secret, url.QueryEscape(secret)} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%q leaks %q", err, s)
			}
		}
	}
	if !errors.Is(resp, ErrPermission) {
		t.Errorf("403 maps to %v, want ErrPermission", resp)
	}
	if !errors.Is(netErr, syscall.ECONNRESET) || !isTransient(netErr) {
		t.Errorf("a scrubbed reset %v must stay a transient ECONNRESET", netErr)
	}
}

type wrapErr struct {
	msg string
	err error
}

func (w *wrapErr) Error() string { return w.msg }
func (w *wrapErr) Unwrap() error { return w.err }

func TestS3Kinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{404, "NoSuchKey", ErrNotFound},
		{404, "NoSuchBucket", ErrNotFound},
		{403, "AccessDenied", ErrPermission},
		{403, "InvalidAccessKeyId", ErrPermission},
		{403, "SignatureDoesNotMatch", ErrPermission},
		{412, "PreconditionFailed", ErrExists},
		{400, "InvalidArgument", ErrInvalidArgument},
		{416, "InvalidRange", ErrInvalidArgument},
		{400, "RequestTimeout", nil},
		{503, "SlowDown", nil},
	} {
		if got := s3Kind(tc.status, tc.code); got != tc.want {
			t.Errorf("s3Kind(%d, %s) = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	// Two parts whose MD5s are all zero bytes and all 0xff bytes.
	parts := []minio.CompletePart{{ETag: `"00000000000000000000000000000000"`}, {ETag: "ffffffffffffffffffffffffffffffff"}}
	if got := multipartETag(parts); !strings.HasSuffix(got, "-2") || len(got) != 34 {
		t.Errorf("multipartETag = %q", got)
	}
	if got := multipartETag([]minio.CompletePart{{ETag: "not-md5"}}); got != "" {
		t.Errorf("multipartETag of a non-MD5 part = %q, want empty", got)
	}
}

// TestS3CopyByParts copies an object larger than copyMax (lowered to the
// smallest part size) so that Copy takes the multipart path. It cannot use
// storagetest (an import cycle), so it reads the MinIO environment itself.
func TestS3CopyByParts(t *testing.T) {
	endpoint := os.Getenv("NIGHTSHIFT_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("NIGHTSHIFT_REQUIRE_MINIO") == "1" {
			t.Fatal("NIGHTSHIFT_TEST_S3_ENDPOINT is unset and NIGHTSHIFT_REQUIRE_MINIO=1")
		}
		t.Skip("no test MinIO server; run scripts/with-minio.sh go test ./storage/...")
	}
	cfg := Config{S3: S3Config{
		Endpoint:  endpoint,
		AccessKey: Secret(os.Getenv("NIGHTSHIFT_TEST_S3_ACCESS_KEY")),
		SecretKey: Secret(os.Getenv("NIGHTSHIFT_TEST_S3_SECRET_KEY")),
	}}
	ctx := t.Context()
	name := "nst-copy-by-parts-" + strings.ToLower(rand.Text()[:12])
	if err := MakeBucket(ctx, "s3://"+name, cfg); err != nil {
		t.Fatal(err)
	}
	b, err := newS3Bucket(ctx, cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	b.copyMax = minPartSize
	data := bytes.Repeat([]byte("0123456789abcdef"), 12<<20/16) // 12 MiB: three copied parts
	data[5<<20] = 'X'                                           // so that parts differ
	defer func() {
		for _, k := range []string{"src", "dst"} {
			_ = b.Delete(ctx, k)
		}
	}()
	if _, err := b.Put(ctx, "src", bytes.NewReader(data), int64(len(data)), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := b.Copy(ctx, "src", "dst")
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("copy ETag %q, want a three-part ETag", info.ETag)
	}
	rc, _, err := b.Get(ctx, "dst")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("copy holds %d bytes (%v), want the %d of the source", len(got), err, len(data))
	}
	if n, err := b.IncompleteUploads(ctx, "dst"); err != nil || n != 0 {
		t.Errorf("IncompleteUploads = %d, %v", n, err)
	}
}
