package worker

import (
	"log/slog"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	var last time.Duration
	for i := range 40 {
		d := b.next()
		ceiling := min(b.min<<i, b.max)
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("delay %d = %s, want within [%s, %s]", i, d, ceiling/2, ceiling)
		}
		last = d
	}
	if last < b.max/2 {
		t.Errorf("delays did not grow to the cap: last %s", last)
	}
}

func TestClientAddresses(t *testing.T) {
	c := newClient([]string{"a:1", "b:1"}, rpc.TLSConfig{}, slog.New(slog.DiscardHandler))
	defer c.close()
	addrs := func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]string(nil), c.addrs...)
	}
	current := func() string {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.addrs[c.cur]
	}
	c.learn("c2", "c:1", true)
	c.learn("c1", "a:1", true) // configured already
	if got := addrs(); len(got) != 3 || got[2] != "c:1" {
		t.Errorf("addresses %v, want a:1 b:1 c:1", got)
	}
	c.rotate("a:1")
	c.rotate("a:1") // a second failure report of the same address moves nothing
	if current() != "b:1" {
		t.Errorf("after a:1 failed the client uses %s, want b:1", current())
	}
	c.rotate("b:1")
	c.learn("c0", "d:1", true) // learning keeps the address in use
	if current() != "c:1" {
		t.Errorf("after learning another address the client uses %s, want c:1", current())
	}
	c.learn("c2", "c:1", false)
	if got := addrs(); len(got) != 3 || got[2] != "d:1" {
		t.Errorf("addresses %v after c2 died, want a:1 b:1 d:1", got)
	}
}
