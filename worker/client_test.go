package worker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
)

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

// TestClientDialsThroughItsDialer runs coordinator calls over a faultnet
// dialer (Config.Dialer): they reach the coordinator, fail with Unavailable
// within their deadline while the worker is partitioned from it, and get
// through again once healed.
func TestClientDialsThroughItsDialer(t *testing.T) {
	f := newFake(t)
	fnet := faultnet.New()
	fnet.Register("coordinator", f.addr)
	c := newClient([]string{f.addr}, rpc.TLSConfig{}, slog.New(slog.DiscardHandler)).via(fnet.Node("w1").DialContext)
	defer c.close()
	register := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return c.call(ctx, d, "register", func(ctx context.Context, wc nightshiftv1.WorkerServiceClient) error {
			_, err := wc.Register(ctx, &nightshiftv1.RegisterRequest{Worker: &nightshiftv1.Worker{Id: "w1"}})
			return err
		})
	}
	if err := register(waitTimeout); err != nil {
		t.Fatal(err)
	}
	if fnet.Dials("w1") == 0 {
		t.Fatal("the client did not dial through its dialer")
	}
	fnet.Partition([]string{"w1"}, []string{"coordinator"})
	if err := register(300 * time.Millisecond); status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a call across the partition: %v", err)
	}
	fnet.Heal()
	if err := register(waitTimeout); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.registers) }); n != 2 {
		t.Fatalf("the coordinator saw %d registrations, want 2", n)
	}
}
