package storage

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// Secret is a credential. It prints as "REDACTED" through fmt, %v, %+v, %#v,
// JSON and slog, so it cannot leak into logs or errors by accident.
type Secret string

func (Secret) String() string   { return "REDACTED" }
func (Secret) GoString() string { return `"REDACTED"` }

// LogValue keeps the secret out of structured logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalText keeps the secret out of JSON and YAML output.
func (Secret) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Reveal returns the secret's value; only the s3 backend calls it.
func (s Secret) Reveal() string { return string(s) }

// S3Config addresses an S3-compatible server.
type S3Config struct {
	Endpoint  string // host:port, no scheme
	Region    string
	AccessKey Secret
	SecretKey Secret
	Secure    bool // HTTPS
	// PartSize is the multipart part size in bytes; it bounds the memory one
	// streamed upload of unknown size holds. 0 means 16 MiB.
	PartSize int64
	// Transport replaces the HTTP transport (tests inject faults with it).
	Transport http.RoundTripper
}

// RetryPolicy bounds retries of transient failures. The caller's context
// bounds them too, whichever ends first.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, including the first; 0 means 6
	BaseDelay   time.Duration // first backoff; 0 means 50ms
	MaxDelay    time.Duration // cap on one backoff; 0 means 2s
}

// Config opens buckets.
type Config struct {
	S3 S3Config
	// FileRoot, when set, confines file:// URIs to that directory.
	FileRoot string
	Retry    RetryPolicy
	// Logger receives retry and abort notices; nil discards them.
	Logger *slog.Logger
}

// ConfigFromEnv reads NIGHTSHIFT_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION and NIGHTSHIFT_S3_SECURE (true/false).
// An endpoint may be given as http://host:port or https://host:port, which
// also sets Secure.
func ConfigFromEnv() Config {
	var c Config
	c.S3.Endpoint = os.Getenv("NIGHTSHIFT_S3_ENDPOINT")
	c.S3.AccessKey = Secret(os.Getenv("AWS_ACCESS_KEY_ID"))
	c.S3.SecretKey = Secret(os.Getenv("AWS_SECRET_ACCESS_KEY"))
	c.S3.Region = os.Getenv("AWS_REGION")
	c.S3.Secure = strings.EqualFold(os.Getenv("NIGHTSHIFT_S3_SECURE"), "true")
	switch {
	case strings.HasPrefix(c.S3.Endpoint, "https://"):
		c.S3.Endpoint, c.S3.Secure = strings.TrimPrefix(c.S3.Endpoint, "https://"), true
	case strings.HasPrefix(c.S3.Endpoint, "http://"):
		c.S3.Endpoint, c.S3.Secure = strings.TrimPrefix(c.S3.Endpoint, "http://"), false
	}
	c.FileRoot = os.Getenv("NIGHTSHIFT_FILE_ROOT")
	return c
}
