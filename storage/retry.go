package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"syscall"
	"time"
)

// Retry policy defaults, used where a RetryPolicy field is zero.
const (
	defaultMaxAttempts = 6
	defaultBaseDelay   = 50 * time.Millisecond
	defaultMaxDelay    = 2 * time.Second
)

// withDefaults fills the zero fields of p.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = defaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = defaultMaxDelay
	}
	return p
}

// backoff returns the wait before retry number n (1 for the first retry):
// "full jitter", uniform in [0, min(MaxDelay, BaseDelay*2^(n-1))].
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.MaxDelay
	if n-1 < 30 {
		if d := p.BaseDelay << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

// withRetry runs fn until it succeeds, fails with an error that is not
// transient, has run policy.MaxAttempts times, or ctx ends. It returns fn's
// last error, annotated with the attempt count when there was more than one;
// when ctx ends during a backoff the error wraps both ctx.Err() and the last
// failure. Retry notices go to log with op and uri; errors reaching the log
// must already be free of credentials (the s3 backend scrubs them).
func withRetry(ctx context.Context, policy RetryPolicy, log *slog.Logger, op, uri string, fn func() error) error {
	p := policy.withDefaults()
	var prev error // the previous attempt's failure
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && prev != nil {
			return fmt.Errorf("%w (attempt %d; the one before failed with: %w)", err, attempt, prev)
		}
		if ctx.Err() != nil || !isTransient(err) {
			return annotate(err, attempt)
		}
		prev = err
		if attempt >= p.MaxAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		wait := p.backoff(attempt)
		if log != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "storage: transient failure, retrying",
				slog.String("op", op), slog.String("uri", uri), slog.Int("attempt", attempt),
				slog.Duration("backoff", wait), slog.String("error", err.Error()))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts; last error: %w)", ctx.Err(), attempt, err)
		case <-t.C:
		}
	}
}

// annotate adds the attempt count to err when there was more than one attempt.
func annotate(err error, attempts int) error {
	if attempts == 1 {
		return err
	}
	return fmt.Errorf("attempt %d: %w", attempts, err)
}

// transienter is implemented by causes that know whether a retry can help,
// such as an S3 error response carrying an HTTP status.
type transienter interface{ Transient() bool }

// isTransient reports whether err is worth another attempt. Sentinel
// (permanent) errors and the caller's context ending never are.
func isTransient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrPermission), errors.Is(err, ErrInvalidKey),
		errors.Is(err, ErrInvalidArgument):
		return false
	}
	var t transienter
	if errors.As(err, &t) {
		return t.Transient()
	}
	return isNetTransient(err)
}

// isNetTransient reports whether err is a network failure that a new
// connection may not repeat: a reset, refused or aborted connection, a broken
// pipe, a timeout, or a connection that closed in the middle of a request.
func isNetTransient(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ECONNRESET, syscall.ECONNREFUSED,
		syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(ue.Err, io.EOF) {
		return true // the server closed the connection mid-request
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
