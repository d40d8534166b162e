package rpc

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields capped exponential delays with jitter for a loop that
// retries a peer (a worker calling the coordinators, a gossip join): the
// n-th delay is drawn from [d/2, d] with d = Min·2ⁿ capped at Max, so that
// processes retrying together spread out. The zero value retries at once;
// it is not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	d := b.Min << min(b.n, 20)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

// Reset starts the delays again from Min (after a success).
func (b *Backoff) Reset() { b.n = 0 }

// Sleep waits d, or less when ctx ends first; it reports whether the whole
// wait passed. Retry loops wait between tries with it.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
