package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// raftNode is the Raft machinery of one coordinator and what must be
// closed with it.
type raftNode struct {
	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	notify    chan bool
}

// startRaft opens the durable log and stable store (bbolt), the file
// snapshot store and the TCP transport (mTLS when configured), then starts
// Raft, bootstrapping a single-voter cluster when asked and the data
// folder is new.
func startRaft(cfg *Config, f raft.FSM, log *slog.Logger) (*raftNode, error) {
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft data folder: %w", err)
	}
	hl := newHCLogger("raft", log)
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("raft log store %s: %w", dir, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("raft snapshot store: %w", err)
	}
	stream, err := newStreamLayer(cfg)
	if err != nil {
		_ = bolt.Close()
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hl,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hl
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.RaftHeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.RaftHeartbeatTimeout
	}
	if cfg.RaftElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.RaftElectionTimeout
	}
	if cfg.RaftLeaderLease > 0 {
		rc.LeaderLeaseTimeout = cfg.RaftLeaderLease
	}
	if cfg.RaftCommitTimeout > 0 {
		rc.CommitTimeout = cfg.RaftCommitTimeout
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 512
	fail := func(err error) (*raftNode, error) {
		_ = trans.Close()
		_ = bolt.Close()
		return nil, err
	}
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(bolt, bolt, snaps)
		if err != nil {
			return fail(fmt.Errorf("raft: %w", err))
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: trans.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, bolt, bolt, snaps, trans, conf); err != nil {
				return fail(fmt.Errorf("raft bootstrap: %w", err))
			}
		}
	}
	r, err := raft.NewRaft(rc, f, bolt, bolt, snaps, trans)
	if err != nil {
		return fail(fmt.Errorf("raft: %w", err))
	}
	return &raftNode{raft: r, transport: trans, store: bolt, notify: notify}, nil
}

// close shuts Raft down and releases its files.
func (n *raftNode) close() error {
	err := n.raft.Shutdown().Error()
	return errors.Join(err, n.transport.Close(), n.store.Close())
}

// streamLayer is Raft's TCP transport, wrapped in mutual TLS when the
// coordinator has certificates.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	server    *tls.Config
	client    *tls.Config
	dial      rpc.Dialer
}

func newStreamLayer(cfg *Config) (*streamLayer, error) {
	ln, err := cfg.listen("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft listen %s: %w", cfg.RaftAddr, err)
	}
	s := &streamLayer{Listener: ln, advertise: ln.Addr(), dial: cfg.dialer()}
	if cfg.RaftAdvertise != "" {
		// Kept as written, not resolved: a DNS name (a StatefulSet pod's
		// stable name) stays valid when the pod comes back with a new IP,
		// and peers resolve it each time they dial.
		if _, port, err := net.SplitHostPort(cfg.RaftAdvertise); err != nil || port == "" {
			_ = ln.Close()
			return nil, fmt.Errorf("raft_advertise %q: want host:port", cfg.RaftAdvertise)
		}
		s.advertise = namedAddr(cfg.RaftAdvertise)
	}
	if s.server, err = cfg.TLS.ServerTLS(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if s.client, err = cfg.TLS.ClientTLS(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if s.server != nil {
		s.Listener = tls.NewListener(ln, s.server)
	}
	return s, nil
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

// namedAddr is an advertised address kept as its host:port text.
type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }

// Accept hands Raft only connections from coordinators: with mutual TLS,
// the handshake is completed here and a peer whose certificate names
// another role (a worker, a client) is dropped.
func (s *streamLayer) Accept() (net.Conn, error) {
	for {
		conn, err := s.Listener.Accept()
		if err != nil || s.server == nil {
			return conn, err
		}
		tc := conn.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			_ = tc.Close()
			continue
		}
		_ = tc.SetDeadline(time.Time{})
		if rpc.StateRole(tc.ConnectionState()) != rpc.RoleCoordinator {
			_ = tc.Close()
			continue
		}
		return tc, nil
	}
}

// Dial opens a stream to a peer through the coordinator's dialer, with
// the TLS handshake (when on) inside the same timeout.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := s.dial(ctx, string(addr))
	if err != nil || s.client == nil {
		return conn, err
	}
	cfg := s.client
	if cfg.ServerName == "" { // as tls.Dial: check the dialled host
		host, _, err := net.SplitHostPort(string(addr))
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// RaftTerm returns the node's current Raft term and whether it leads in
// that term. The pair is consistent: the term is read before and after
// the state and the read is retried until both agree (a node leads in at
// most one term at a time, and terms only grow).
func (s *Server) RaftTerm() (term uint64, leader bool) {
	r := s.raft.raft
	for {
		before := r.CurrentTerm()
		leader = r.State() == raft.Leader
		if after := r.CurrentTerm(); after == before {
			return before, leader
		}
	}
}

// newHCLogger bridges hashicorp's logger to the coordinator's slog logger:
// warnings and errors only, one line each.
func newHCLogger(name string, log *slog.Logger) hclog.Logger {
	var out io.Writer = io.Discard
	level := hclog.Off
	if log != nil {
		out, level = slogWriter{log.With("subsystem", name)}, hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: out, DisableTime: true})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.log.Warn(msg)
	return len(p), nil
}
