package gossip

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures one gossip member.
type Config struct {
	// Name is unique in the cluster (the node ID).
	Name string
	// BindAddr is host:port to listen on (UDP and TCP); port 0 picks one.
	BindAddr string
	// AdvertiseAddr is host:port others reach; default BindAddr's.
	AdvertiseAddr string
	// Key encrypts gossip (AES, 16, 24 or 32 bytes); nil sends clear text.
	Key []byte
	// Meta is advertised from the start.
	Meta Meta
	// Fast uses LAN timings tightened for loopback clusters (tests, dev).
	Fast bool
	// OnChange, when set, is called after a member joins, updates, or
	// leaves or is declared dead. It must not block.
	OnChange func(Member)
	Logger   *slog.Logger
}

// Member is one node as gossip sees it.
type Member struct {
	Name  string
	Addr  string
	Meta  Meta
	State string // alive, suspect, dead, left
	// MetaErr is set when the node's metadata did not decode.
	MetaErr error
}

// Alive reports whether gossip considers the member reachable.
func (m Member) Alive() bool { return m.State == "alive" || m.State == "suspect" }

// Node is a running gossip member.
type Node struct {
	ml   *memberlist.Memberlist
	cfg  Config
	mu   sync.Mutex
	meta []byte
	// kr is memberlist's keyring (nil: gossip in clear text); keyMu
	// serialises whole keyring changes (keyring.go).
	kr    *memberlist.Keyring
	keyMu sync.Mutex
	// members is this node's view, copied from memberlist's events: the
	// node records memberlist hands out stay live and are written under
	// its own lock, so reading them later would race.
	members map[string]Member
	join    joinState // under mu

	// stop is closed by Leave or Shutdown; the join loop, if any, then
	// ends and closes joinDone.
	stop     chan struct{}
	stopOnce sync.Once
	joinDone chan struct{} // nil until JoinInBackground starts a loop
}

// Start creates the member and binds its sockets. It joins nobody: call
// JoinInBackground with the seeds, so that a node started before its seeds
// keeps trying instead of failing.
func Start(cfg Config) (*Node, error) {
	n := &Node{cfg: cfg, members: map[string]Member{}, stop: make(chan struct{})}
	if len(cfg.Key) > 0 {
		kr, err := memberlist.NewKeyring(nil, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("gossip key: %w", err)
		}
		n.kr = kr
	}
	if err := n.encodeMetaLocked(); err != nil {
		return nil, err
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.Fast {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
		mc.PushPullInterval = 2 * time.Second
	}
	mc.Name = cfg.Name
	host, port, err := splitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("gossip bind address: %w", err)
	}
	mc.BindAddr, mc.BindPort = host, port
	if cfg.AdvertiseAddr != "" {
		ah, ap, err := splitHostPort(cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("gossip advertise address: %w", err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ah, ap
	}
	mc.Keyring = n.kr
	mc.Delegate = (*delegate)(n)
	mc.Events = (*events)(n)
	mc.Logger = log.New(io.Discard, "", 0)
	if cfg.Logger != nil {
		mc.Logger = slog.NewLogLogger(cfg.Logger.With("subsystem", "gossip").Handler(), slog.LevelDebug)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	n.ml = ml
	return n, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", ps, err)
	}
	return host, port, nil
}

// Addr returns the host:port the member listens on (after port 0 was resolved).
func (n *Node) Addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// SetMeta advertises new metadata and pushes it to the cluster.
func (n *Node) SetMeta(m Meta) error {
	n.mu.Lock()
	old := n.cfg.Meta
	n.cfg.Meta = m
	err := n.encodeMetaLocked()
	if err != nil {
		n.cfg.Meta = old
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	return n.ml.UpdateNode(2 * time.Second)
}

// encodeMetaLocked encodes the metadata with the keyring's key IDs filled
// in (the member's own, never the caller's) and records it in the
// member's own view, where a rotation reads it. Callers hold mu.
func (n *Node) encodeMetaLocked() error {
	m := n.cfg.Meta
	m.Keys, m.Primary = n.KeyIDs()
	b, err := m.Encode()
	if err != nil {
		return err
	}
	n.meta = b
	if self, ok := n.members[n.cfg.Name]; ok {
		self.Meta, self.MetaErr = m, nil
		n.members[n.cfg.Name] = self
	}
	return nil
}

func (n *Node) keyring() *memberlist.Keyring { return n.kr }

func (n *Node) logDebug(msg string, args ...any) {
	if n.cfg.Logger != nil {
		n.cfg.Logger.Debug(msg, args...)
	}
}

// Members returns the nodes gossip considers alive (or suspect), by name.
func (n *Node) Members() []Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Member, 0, len(n.members))
	for _, m := range n.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func toMember(nd *memberlist.Node) Member {
	m := Member{Name: nd.Name, Addr: nd.Address(), State: stateName(nd.State)}
	m.Meta, m.MetaErr = DecodeMeta(nd.Meta)
	return m
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}

// Leave tells the cluster this member is going, then stops it. It first
// ends the join loop, waiting for a join attempt in flight.
func (n *Node) Leave(timeout time.Duration) error {
	n.stopJoining()
	err := n.ml.Leave(timeout)
	return errors.Join(err, n.ml.Shutdown())
}

// Shutdown stops the member without telling anyone (as a crash would). It
// stops memberlist before it waits for the join loop, so a join attempt in
// flight fails at once instead of running out its dial timeout.
func (n *Node) Shutdown() error {
	n.signalStop()
	err := n.ml.Shutdown()
	n.waitJoining()
	return err
}

type delegate Node

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

type events Node

// notify records a change in the member view and passes it on. It runs
// on memberlist's goroutines while memberlist holds the node's record
// still, so copying it here is safe.
func (e *events) notify(m Member) {
	e.mu.Lock()
	if m.Alive() {
		e.members[m.Name] = m
	} else {
		delete(e.members, m.Name)
	}
	e.mu.Unlock()
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(m)
	}
}

func (e *events) NotifyJoin(nd *memberlist.Node)   { e.notify(withState(nd, "alive")) }
func (e *events) NotifyUpdate(nd *memberlist.Node) { e.notify(withState(nd, "alive")) }

// NotifyLeave reports a node that left or was declared dead. memberlist
// passes the node record without its new state (that lives in its
// internal record), so a departure cannot be told from a death here;
// both are reported as "dead".
func (e *events) NotifyLeave(nd *memberlist.Node) { e.notify(withState(nd, "dead")) }

func withState(nd *memberlist.Node, state string) Member {
	m := toMember(nd)
	m.State = state
	return m
}
