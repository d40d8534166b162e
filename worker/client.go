package worker

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Retry delays of coordinator calls: the first retry goes almost at once
// (usually to another coordinator), later ones back off so a cluster
// electing a leader is not hammered.
const (
	retryMin = 10 * time.Millisecond
	retryMax = time.Second
)

// client calls WorkerService on any coordinator. It sticks to one address
// while it answers and moves to the next on a transient failure; the
// addresses are the configured ones plus those gossip reports for live
// coordinators. Connections are lazy and kept until close. Safe for
// concurrent use.
type client struct {
	tls  rpc.TLSConfig
	dial rpc.Dialer // nil: TCP
	log  *slog.Logger

	mu      sync.Mutex
	static  []string
	learnt  map[string]string // gossip node name → gRPC address
	addrs   []string          // static, then learnt, without repeats
	cur     int               // index in addrs of the address in use
	conns   map[string]*grpc.ClientConn
	changed chan struct{} // closed when addrs or closed change
	closed  bool
}

func newClient(static []string, tlsCfg rpc.TLSConfig, log *slog.Logger) *client {
	c := &client{
		tls: tlsCfg, log: log, static: slices.Clone(static),
		learnt: map[string]string{}, conns: map[string]*grpc.ClientConn{}, changed: make(chan struct{}),
	}
	c.rebuildLocked()
	return c
}

// via makes the client open its connections with dial (Config.Dialer;
// nil dials TCP). Call it before the first call.
func (c *client) via(dial rpc.Dialer) *client {
	c.dial = dial
	return c
}

// learn records what gossip says of a coordinator: its gRPC address while
// it is alive, nothing once it is gone.
func (c *client) learn(node, addr string, alive bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, known := c.learnt[node]
	switch {
	case alive && known && old == addr, !alive && !known:
		return
	case alive:
		c.learnt[node] = addr
	default:
		delete(c.learnt, node)
	}
	c.rebuildLocked()
}

// rebuildLocked recomputes addrs, keeping the address in use current.
func (c *client) rebuildLocked() {
	var using string
	if len(c.addrs) > 0 {
		using = c.addrs[c.cur%len(c.addrs)]
	}
	addrs := slices.Clone(c.static)
	names := make([]string, 0, len(c.learnt))
	for n := range c.learnt {
		names = append(names, n)
	}
	slices.Sort(names) // a stable order, so rotation visits every address
	for _, n := range names {
		if a := c.learnt[n]; !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	c.addrs, c.cur = addrs, max(0, slices.Index(addrs, using))
	close(c.changed)
	c.changed = make(chan struct{})
}

// pick returns the address in use and a stub for it, waiting (bounded by
// ctx) while no coordinator address is known yet.
func (c *client) pick(ctx context.Context) (string, nightshiftv1.WorkerServiceClient, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return "", nil, errClientClosed
		}
		if len(c.addrs) > 0 {
			addr := c.addrs[c.cur%len(c.addrs)]
			conn, ok := c.conns[addr]
			if !ok {
				var err error
				if conn, err = rpc.DialVia(addr, c.tls, c.dial); err != nil {
					c.mu.Unlock()
					return addr, nil, err
				}
				c.conns[addr] = conn
			}
			c.mu.Unlock()
			return addr, nightshiftv1.NewWorkerServiceClient(conn), nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
	}
}

// rotate moves off addr after it failed, unless another call already did.
func (c *client) rotate(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.addrs); n > 0 && c.addrs[c.cur%n] == addr {
		c.cur = (c.cur + 1) % n
	}
}

// call runs fn against a coordinator, each try bounded by tryTimeout. On a
// transient failure it moves to the next coordinator and tries again after
// a capped, jittered backoff, until ctx ends. Other errors are returned as
// they are (gRPC status errors).
func (c *client) call(ctx context.Context, tryTimeout time.Duration, op string,
	fn func(context.Context, nightshiftv1.WorkerServiceClient) error) error {
	bo := rpc.Backoff{Min: retryMin, Max: retryMax}
	for {
		addr, wc, err := c.pick(ctx)
		if err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, tryTimeout)
		err = fn(tctx, wc)
		cancel()
		if err == nil {
			return nil
		}
		if !transient(err) {
			return err
		}
		c.rotate(addr)
		if ctx.Err() != nil {
			return err
		}
		c.log.Debug("coordinator call failed; retrying", "op", op, "addr", addr, "err", err)
		if !rpc.Sleep(ctx, bo.Next()) {
			return err
		}
	}
}

// close closes every connection; later calls fail with errClientClosed.
func (c *client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for addr, conn := range c.conns {
		if err := conn.Close(); err != nil {
			c.log.Debug("closing coordinator connection", "addr", addr, "err", err)
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}
