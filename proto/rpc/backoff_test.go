package rpc

import (
	"testing"
	"time"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	var last time.Duration
	for i := range 40 {
		d := b.Next()
		ceiling := min(b.Min<<i, b.Max)
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("delay %d = %s, want within [%s, %s]", i, d, ceiling/2, ceiling)
		}
		last = d
	}
	if last < b.Max/2 {
		t.Errorf("delays did not grow to the cap: last %s", last)
	}
}
