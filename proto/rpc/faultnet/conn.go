package faultnet

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// conn is a TCP connection between two nodes that obeys the Network's
// rules on every Read and Write: from is the end holding it (the dialer,
// or "" for an accepted connection of unknown origin), to the other.
type conn struct {
	net.Conn
	n        *Network
	from, to string
	dialed   bool
	closed   chan struct{}
	once     sync.Once
	// tainted is set once the connection dropped bytes (blackhole): its
	// stream is broken for good, so Heal closes it.
	tainted atomic.Bool
}

func newConn(n *Network, raw net.Conn, from, to string, dialed bool) *conn {
	return &conn{Conn: raw, n: n, from: from, to: to, dialed: dialed, closed: make(chan struct{})}
}

// Write sends p to the peer, unless the link is cut (the connection is
// closed), blackholed (p is dropped and reported written) or delayed
// (the write waits first).
func (c *conn) Write(p []byte) (int, error) {
	cut, hole, delay := c.n.rule(c.from, c.to)
	switch {
	case cut:
		_ = c.Close()
		return 0, c.opErr("write", ErrPartitioned)
	case hole:
		c.tainted.Store(true)
		return len(p), nil
	case delay > 0 && !c.wait(delay):
		return 0, c.opErr("write", net.ErrClosed)
	}
	return c.Conn.Write(p)
}

// Read returns what the peer sent, under the rules of the reverse
// direction: a blackholed link reads and drops until it is closed or its
// deadline passes; a delayed one hands the bytes over late.
func (c *conn) Read(p []byte) (int, error) {
	for {
		k, err := c.Conn.Read(p)
		if k == 0 {
			return 0, err
		}
		cut, hole, delay := c.n.rule(c.to, c.from)
		switch {
		case cut:
			_ = c.Close()
			return 0, c.opErr("read", ErrPartitioned)
		case hole:
			c.tainted.Store(true)
			if err != nil {
				return 0, err
			}
			continue
		case delay > 0 && !c.wait(delay):
			return 0, c.opErr("read", net.ErrClosed)
		}
		return k, err
	}
}

// wait sleeps d unless the connection closes first.
func (c *conn) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.closed:
		return false
	}
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		close(c.closed)
		c.n.untrack(c)
		err = c.Conn.Close()
	})
	return err
}

func (c *conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: err}
}
