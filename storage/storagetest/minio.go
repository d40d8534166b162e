package storagetest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/storage"
)

// Environment of the test MinIO server; scripts/with-minio.sh sets them.
const (
	EnvEndpoint     = "NIGHTSHIFT_TEST_S3_ENDPOINT"
	EnvAccessKey    = "NIGHTSHIFT_TEST_S3_ACCESS_KEY"
	EnvSecretKey    = "NIGHTSHIFT_TEST_S3_SECRET_KEY"
	EnvRequireMinIO = "NIGHTSHIFT_REQUIRE_MINIO"
)

// MinIO returns a Config for the test MinIO server named by
// NIGHTSHIFT_TEST_S3_ENDPOINT, NIGHTSHIFT_TEST_S3_ACCESS_KEY and
// NIGHTSHIFT_TEST_S3_SECRET_KEY, with quick retries and logs going to the
// test's output. When they are unset the test is skipped, or fails if
// NIGHTSHIFT_REQUIRE_MINIO=1 (as in CI, so a lost server is not a pass).
func MinIO(t testing.TB) storage.Config {
	t.Helper()
	endpoint, ak, sk := os.Getenv(EnvEndpoint), os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)
	if endpoint == "" || ak == "" || sk == "" {
		msg := "no test MinIO server: set " + EnvEndpoint + ", " + EnvAccessKey + " and " + EnvSecretKey +
			", or run: scripts/with-minio.sh go test ./storage/..."
		if os.Getenv(EnvRequireMinIO) == "1" {
			t.Fatal(msg + " (" + EnvRequireMinIO + "=1)")
		}
		t.Skip(msg)
	}
	secure := strings.HasPrefix(endpoint, "https://")
	endpoint = strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://")
	return storage.Config{
		S3: storage.S3Config{
			Endpoint:  endpoint,
			AccessKey: storage.Secret(ak),
			SecretKey: storage.Secret(sk),
			Secure:    secure,
		},
		Retry:  storage.RetryPolicy{BaseDelay: 5 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// FreshBucket creates an empty bucket with a unique name on the server cfg
// names and returns the name. When the test ends its objects are deleted
// (the empty bucket stays; the server's data dir is temporary anyway).
func FreshBucket(t testing.TB, cfg storage.Config) string {
	t.Helper()
	name := bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := storage.MakeBucket(ctx, "s3://"+name, cfg); err != nil {
		t.Fatalf("creating test bucket: %v", err)
	}
	t.Cleanup(func() { emptyBucket(t, cfg, name) })
	return name
}

// MinIOBucket returns a Bucket over a fresh bucket on the test server.
func MinIOBucket(t testing.TB, cfg storage.Config) storage.Bucket {
	t.Helper()
	b, err := storage.NewS3Bucket(context.Background(), cfg, FreshBucket(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bucketName makes a valid, unique S3 bucket name from a test name.
func bucketName(testName string) string {
	var b strings.Builder
	b.WriteString("nst-")
	for _, c := range strings.ToLower(testName) {
		if b.Len() >= 40 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else if !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	if !strings.HasSuffix(b.String(), "-") {
		b.WriteByte('-')
	}
	b.WriteString(strings.ToLower(rand.Text()[:12]))
	return b.String()
}

// emptyBucket deletes every object in the bucket, 16 at a time.
func emptyBucket(t testing.TB, cfg storage.Config, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg.S3.Transport = nil // clean up past any injected faults
	b, err := storage.NewS3Bucket(ctx, cfg, name)
	if err != nil {
		t.Errorf("cleaning up bucket %s: %v", name, err)
		return
	}
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range keys {
				if err := b.Delete(ctx, k); err != nil {
					t.Errorf("cleaning up: %v", err)
				}
			}
		})
	}
	for info, err := range b.List(ctx, "") {
		if err != nil {
			t.Errorf("cleaning up bucket %s: %v", name, err)
			break
		}
		keys <- info.Key
	}
	close(keys)
	wg.Wait()
}
