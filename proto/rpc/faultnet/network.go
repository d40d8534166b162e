package faultnet

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"
)

// ErrPartitioned is the error of a dial, read or write across a partition.
var ErrPartitioned = errors.New("faultnet: partitioned")

// link is one direction between two nodes.
type link struct{ from, to string }

// Network is a set of named nodes and the fault rules between them. The
// zero value is not usable; call New.
type Network struct {
	mu     sync.Mutex
	addrs  map[string]string // listen address → node
	local  map[string]string // local address of a dialed connection → node
	nodes  map[string]bool
	cut    map[link]bool
	holes  map[string]bool
	delays map[link]time.Duration
	conns  map[*conn]struct{}
	dials  map[string]int // connections dialed per node
}

// New returns a Network with no rules.
func New() *Network {
	return &Network{addrs: map[string]string{}, local: map[string]string{}, nodes: map[string]bool{},
		cut: map[link]bool{}, holes: map[string]bool{}, delays: map[link]time.Duration{},
		conns: map[*conn]struct{}{}, dials: map[string]int{}}
}

// Node returns the endpoint of the node named name.
func (n *Network) Node(name string) *Node {
	n.mu.Lock()
	n.nodes[name] = true
	n.mu.Unlock()
	return &Node{net: n, name: name}
}

// Register records addr (host:port) as node's, for a listener bound
// without Node.Listen: dials to addr then know whom they reach.
func (n *Network) Register(node, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes[node] = true
	n.addrs[addr] = node
}

// Nodes returns the names of every node the Network has seen, sorted.
func (n *Network) Nodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.nodes))
	for name := range n.nodes {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Dials returns how many connections node has dialed through the Network:
// a test checks with it that a component uses its dial hook.
func (n *Network) Dials(node string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dials[node]
}

// Partition cuts every node of a from every node of b, both ways: new
// dials fail with ErrPartitioned and open connections are closed.
func (n *Network) Partition(a, b []string) {
	n.mu.Lock()
	for _, x := range a {
		for _, y := range b {
			if x != y {
				n.cut[link{x, y}], n.cut[link{y, x}] = true, true
			}
		}
	}
	var doomed []*conn
	for c := range n.conns {
		if n.cut[link{c.from, c.to}] {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

// Blackhole silences node: connections to and from it are accepted, and
// what is written on them is read and dropped, never delivered.
func (n *Network) Blackhole(node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.holes[node] = true
}

// Delay makes every transfer from → to wait d; 0 removes the delay.
func (n *Network) Delay(from, to string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d <= 0 {
		delete(n.delays, link{from, to})
		return
	}
	n.delays[link{from, to}] = d
}

// Heal removes every rule and closes the connections that dropped bytes
// while blackholed (their streams have lost data and cannot resume).
func (n *Network) Heal() {
	n.mu.Lock()
	clear(n.cut)
	clear(n.holes)
	clear(n.delays)
	var doomed []*conn
	for c := range n.conns {
		if c.tainted.Load() {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
}

// rule returns what applies to bytes travelling from → to now.
func (n *Network) rule(from, to string) (cut, hole bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut[link{from, to}], n.holes[from] || n.holes[to], n.delays[link{from, to}]
}

func (n *Network) nodeOf(addr string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs[addr]
}

// track records an open connection, unless a partition between its ends
// began while it was being dialed.
func (n *Network) track(c *conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut[link{c.from, c.to}] {
		return false
	}
	n.conns[c] = struct{}{}
	if c.dialed {
		n.local[c.Conn.LocalAddr().String()] = c.from
	}
	return true
}

func (n *Network) untrack(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
	if c.dialed {
		delete(n.local, c.Conn.LocalAddr().String())
	}
}

// Node is one named endpoint of a Network.
type Node struct {
	net  *Network
	name string
}

// Name returns the node's name.
func (nd *Node) Name() string { return nd.name }

// DialContext dials addr (host:port over TCP) from this node; it has the
// shape of grpc.WithContextDialer's function and of a dial hook. Across a
// partition it fails at once with ErrPartitioned.
func (nd *Node) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	n := nd.net
	to := n.nodeOf(addr)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(addr), Err: err} }
	if cut, _, _ := n.rule(nd.name, to); cut {
		return nil, opErr(ErrPartitioned)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := newConn(n, raw, nd.name, to, true)
	if !n.track(c) {
		_ = raw.Close()
		return nil, opErr(ErrPartitioned)
	}
	n.mu.Lock()
	n.dials[nd.name]++
	n.mu.Unlock()
	return c, nil
}

// Listen binds network/addr (as net.Listen) and records the bound address
// as this node's; it has the shape of a listen hook.
func (nd *Node) Listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	nd.net.Register(nd.name, ln.Addr().String())
	return &listener{Listener: ln, node: nd}, nil
}

// listener forgets its address when closed and subjects connections from
// unknown dialers to the blackhole rule of its node.
type listener struct {
	net.Listener
	node *Node
	once sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.node.net
	n.mu.Lock()
	_, known := n.local[raw.RemoteAddr().String()]
	n.mu.Unlock()
	if known {
		return raw, nil // the dialer's end applies the rules
	}
	c := newConn(n, raw, "", l.node.name, false)
	n.track(c)
	return c, nil
}

func (l *listener) Close() error {
	l.once.Do(func() {
		n := l.node.net
		n.mu.Lock()
		if n.addrs[l.Addr().String()] == l.node.name {
			delete(n.addrs, l.Addr().String())
		}
		n.mu.Unlock()
	})
	return l.Listener.Close()
}

type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }
