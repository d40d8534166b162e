// Package testkit holds what the module's tests share: waiting on a
// condition with a deadline instead of sleeping (STYLE.md, "Wait with a
// deadline, never a bare sleep"). It imports only the standard library and
// is imported only by tests.
package testkit

import (
	"testing"
	"time"
)

// Backoff bounds of the polls: the first retry comes almost at once, later
// ones space out so a slow condition does not spin a core.
const (
	firstPoll = time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Wait polls cond until it holds, with a short capped backoff between
// calls, and fails the test after d, naming what it waited for and the
// time spent. cond runs on the test's goroutine.
func Wait(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", time.Since(start).Round(time.Millisecond), what)
	}
}

// Retry calls fn until it returns nil, with the same backoff as Wait, and
// fails the test after d with the last error fn returned.
func Retry(t testing.TB, d time.Duration, what string, fn func() error) {
	t.Helper()
	start := time.Now()
	var last error
	if !Poll(d, func() bool { last = fn(); return last == nil }) {
		t.Fatalf("timed out after %s waiting for %s: last error: %v", time.Since(start).Round(time.Millisecond), what, last)
	}
}

// Poll calls cond until it holds or d has passed, and reports whether it
// held. It checks cond once more at the deadline, so a d of 0 is one check.
// For the few places without a testing.TB (TestMain).
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	pause := firstPoll
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, maxPoll)
	}
}
