package testkit

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollReturnsWhenTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	start := time.Now()
	if !Poll(10*time.Second, func() bool { return n.Add(1) >= 5 }) {
		t.Fatal("Poll gave up on a condition that held")
	}
	if n.Load() != 5 {
		t.Fatalf("cond called %d times after it held, want 5", n.Load())
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("five polls took %s", d)
	}
}

func TestPollGivesUpAtTheDeadline(t *testing.T) {
	start := time.Now()
	calls := 0
	if Poll(100*time.Millisecond, func() bool { calls++; return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Poll returned after %s, want about 100ms", d)
	}
	if calls < 3 {
		t.Fatalf("cond called %d times in 100ms", calls)
	}
	if Poll(0, func() bool { return true }) != true {
		t.Fatal("a zero deadline still checks once")
	}
}

// recorder is a testing.TB that records a failure instead of stopping the
// goroutine, so the failure message can be checked.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestWaitAndRetryNameWhatAndTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	Wait(r, 20*time.Millisecond, "the moon", func() bool { return false })
	if !strings.Contains(r.msg, "the moon") || !strings.Contains(r.msg, "timed out after") {
		t.Fatalf("Wait failed with %q", r.msg)
	}
	r = &recorder{TB: t}
	Retry(r, 20*time.Millisecond, "a call", func() error { return errors.New("refused") })
	if !strings.Contains(r.msg, "a call") || !strings.Contains(r.msg, "refused") {
		t.Fatalf("Retry failed with %q", r.msg)
	}
	r = &recorder{TB: t}
	Wait(r, time.Second, "nothing", func() bool { return true })
	if r.msg != "" {
		t.Fatalf("Wait failed on a condition that held: %q", r.msg)
	}
}
