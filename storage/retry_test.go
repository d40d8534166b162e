package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

var fastRetry = RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func reset() error {
	return &url.Error{Op: "Put", URL: "http://h/b/k", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
}

func TestIsTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection reset", reset(), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"EOF mid-request", &url.Error{Op: "Get", URL: "u", Err: io.EOF}, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, true},
		{"503 SlowDown", &s3Error{status: 503, code: "SlowDown"}, true},
		{"500", &s3Error{status: 500, code: "InternalError"}, true},
		{"429", &s3Error{status: 429, code: "TooManyRequests"}, true},
		{"400 RequestTimeout", &s3Error{status: 400, code: "RequestTimeout", kind: s3Kind(400, "RequestTimeout")}, true},
		{"404", &s3Error{status: 404, code: "NoSuchKey", kind: s3Kind(404, "NoSuchKey")}, false},
		{"403", &s3Error{status: 403, code: "AccessDenied", kind: s3Kind(403, "AccessDenied")}, false},
		{"400", &s3Error{status: 400, code: "InvalidArgument", kind: s3Kind(400, "InvalidArgument")}, false},
		{"412", &s3Error{status: 412, code: "PreconditionFailed", kind: s3Kind(412, "PreconditionFailed")}, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"invalid key", fmt.Errorf("%w: bad", ErrInvalidKey), false},
		{"plain error", errors.New("disk on fire"), false},
	} {
		if got := isTransient(tc.err); got != tc.want {
			t.Errorf("isTransient(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestWithRetryRecovers(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	calls := 0
	err := withRetry(t.Context(), fastRetry, log, "get", "s3://b/k", func() error {
		if calls++; calls <= 3 {
			return reset()
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("withRetry = %v after %d calls; want success on call 4", err, calls)
	}
	if n := strings.Count(logs.String(), "retrying"); n != 3 {
		t.Errorf("logged %d retry notices, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "uri=s3://b/k") || !strings.Contains(logs.String(), "op=get") {
		t.Errorf("retry notice lacks op or uri:\n%s", logs.String())
	}
}

func TestWithRetryPermanent(t *testing.T) {
	for _, perm := range []error{
		&s3Error{status: 404, code: "NoSuchKey", kind: ErrNotFound},
		&s3Error{status: 403, code: "AccessDenied", kind: ErrPermission},
		errors.New("not classified"),
	} {
		calls := 0
		err := withRetry(t.Context(), fastRetry, nil, "get", "u", func() error { calls++; return perm })
		if calls != 1 || !errors.Is(err, perm) {
			t.Errorf("%v: %d calls, error %v; want 1 call and the error itself", perm, calls, err)
		}
	}
}

func TestWithRetryGivesUp(t *testing.T) {
	calls := 0
	err := withRetry(t.Context(), fastRetry, nil, "get", "u", func() error { calls++; return reset() })
	if calls != fastRetry.MaxAttempts {
		t.Errorf("%d calls, want %d", calls, fastRetry.MaxAttempts)
	}
	if !errors.Is(err, syscall.ECONNRESET) || !strings.Contains(err.Error(), "giving up after 5 attempts") {
		t.Errorf("error %q should wrap the last failure and count the attempts", err)
	}
}

func TestWithRetryStopsAtDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	p := RetryPolicy{MaxAttempts: 1 << 20, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
	start := time.Now()
	err := withRetry(ctx, p, nil, "get", "u", func() error { return reset() })
	if d := time.Since(start); d > time.Second {
		t.Errorf("withRetry ran %v past a 100ms deadline", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("error %v should wrap the deadline and the last failure", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	for n := 1; n < 100; n++ {
		ceiling := min(p.MaxDelay, p.BaseDelay<<min(n-1, 30))
		for range 50 {
			if d := p.backoff(n); d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceiling)
			}
		}
	}
}
