package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator/alert"
	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/storage"
)

// Config configures one coordinator. Start from DefaultConfig.
type Config struct {
	// ID names the node in Raft and gossip; unique in the cluster.
	ID string
	// DataDir holds the Raft log, stable store and snapshots.
	DataDir string
	// Bootstrap starts a new cluster with this node as its only voter when
	// DataDir holds no Raft state. Set it on the first node only; the
	// leader adds the others when they join gossip (or an operator does,
	// with `nightshift operator raft add-peer`).
	Bootstrap bool
	// BootstrapExpect forms a new cluster by itself: once this many
	// coordinators, all started with the same BootstrapExpect, are alive in
	// gossip and none of them holds Raft state, each bootstraps the same
	// configuration of all of them (autojoin.go). Exclusive with
	// Bootstrap; 0 turns it off.
	BootstrapExpect int
	// Autopilot tunes how the leader adds new coordinators and removes
	// dead ones (autopilot.go).
	Autopilot AutopilotConfig
	// Autoscale configures the per-pool desired_workers signal.
	Autoscale AutoscaleConfig
	// InitialToken is a bearer token ("nst_ID_SECRET") the leader installs
	// as the first admin token while the state holds none, so a cluster
	// deployed from manifests has a known admin token without a manual
	// `tokens bootstrap` (Consul's initial_management token).
	InitialToken string

	// RaftAddr is the host:port the Raft TCP transport binds; RaftAdvertise
	// is what peers dial (default RaftAddr).
	RaftAddr      string
	RaftAdvertise string
	// GRPCAddr is the host:port of the API; GRPCAdvertise what others dial.
	GRPCAddr      string
	GRPCAdvertise string
	// HTTPAddr serves /metrics, /healthz, /readyz and the console; empty
	// disables it.
	HTTPAddr string
	// HTTPTLS serves HTTPAddr over TLS with the node's certificate (TLS's
	// cert_file and key_file), verifying no client certificate: browsers
	// and Prometheus check the server against the cluster's CA, and the
	// console's token cookie is then sent only over TLS (Secure).
	HTTPTLS bool
	// GossipAddr is the memberlist host:port; Seeds are members to join.
	GossipAddr      string
	GossipAdvertise string
	Seeds           []string
	// GossipKey encrypts gossip (16, 24 or 32 bytes) when set.
	GossipKey []byte
	// TLS, when enabled, secures the gRPC API and the Raft transport with
	// mutual TLS.
	TLS rpc.TLSConfig
	// LoopbackOnly refuses any non-loopback bind address (dev mode).
	LoopbackOnly bool
	// Insecure lets the API and Raft listen beyond loopback without TLS;
	// without it such a coordinator refuses to start (rpc.CheckExposure),
	// with it the coordinator says so at start and in /readyz.
	Insecure bool
	// Tokens requires bearer tokens on the client API: TokensAuto (the
	// default, "" too) when grpc_addr listens beyond loopback,
	// TokensRequired always, TokensOff never.
	Tokens string

	// Storage reaches the object store (finalizing outputs, ingest plans).
	Storage storage.Config

	// LeaseTTL is how long an attempt lives without a heartbeat.
	LeaseTTL time.Duration
	// HeartbeatInterval is how often workers are told to heartbeat.
	HeartbeatInterval time.Duration
	// RetryBackoff is the first retry delay of a failed task; it doubles per
	// failure up to MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// MaxAttempts is the default attempt budget of a task.
	MaxAttempts int32
	// Speculation starts a backup attempt of a task running longer than
	// SpeculationMultiplier × the job's median task time, once
	// SpeculationQuantile of its tasks are done. 0 disables it.
	SpeculationMultiplier float64
	SpeculationQuantile   float64
	SpeculationMinRuntime time.Duration

	// JobGCAge is how long a finished job (and its tasks, and its
	// idempotency key) stays in the state; 0 keeps jobs forever. Checked
	// every JobGCInterval.
	JobGCAge      time.Duration
	JobGCInterval time.Duration
	// SweepInterval is how often the leader removes what the attempts of
	// ended jobs left in storage (see sweep.go); 0 disables it.
	SweepInterval time.Duration

	// Schedules and pipelines (docs/architecture.md §11). Clock is the
	// schedules' clock: it places slots and decides what is late; nil is
	// time.Now (tests run a faster one). Every ScheduleInterval the leader
	// claims the slots that came due and moves every running pipeline run
	// on. A slot claimed less than SlotGrace after it came due is on time;
	// a later one was missed while no leader ran (the catch-up policy).
	Clock            func() time.Time
	ScheduleInterval time.Duration
	SlotGrace        time.Duration
	// Alerts are posted to these webhooks from committed state.
	Alerts alert.Config
	// ClusterName names the cluster in alerts.
	ClusterName string

	// Raft timings; zero keeps hashicorp/raft's defaults.
	RaftHeartbeatTimeout time.Duration
	RaftElectionTimeout  time.Duration
	RaftLeaderLease      time.Duration
	RaftCommitTimeout    time.Duration
	SnapshotThreshold    uint64
	SnapshotInterval     time.Duration
	// TrailingLogs is how many log entries a snapshot leaves behind (0 keeps
	// raft's default); a follower further behind gets the snapshot instead.
	TrailingLogs uint64
	// FastGossip tightens memberlist timings (loopback tests and dev).
	FastGossip bool

	// Dialer, when set, opens the connections this coordinator dials to
	// other coordinators (Raft, forwarded calls) instead of a TCP dial;
	// Listen, when set, binds its Raft and gRPC listeners instead of
	// net.Listen. Tests inject network faults through them; nil in
	// production.
	Dialer rpc.Dialer
	Listen func(network, addr string) (net.Listener, error)

	// Version is advertised in gossip.
	Version string
	Logger  *slog.Logger
}

// DefaultConfig returns production defaults; ID, DataDir and addresses are
// still to be set.
func DefaultConfig() Config {
	return Config{
		RaftAddr:              "127.0.0.1:7101",
		GRPCAddr:              "127.0.0.1:7100",
		GossipAddr:            "127.0.0.1:7102",
		LeaseTTL:              10 * time.Second,
		HeartbeatInterval:     time.Second,
		RetryBackoff:          time.Second,
		MaxRetryBackoff:       30 * time.Second,
		MaxAttempts:           4,
		SpeculationMultiplier: 2,
		SpeculationQuantile:   0.75,
		SpeculationMinRuntime: 2 * time.Second,
		JobGCAge:              7 * 24 * time.Hour,
		JobGCInterval:         5 * time.Minute,
		SweepInterval:         time.Minute,
		ScheduleInterval:      time.Second,
		SlotGrace:             time.Minute,
		// Followers learn the commit index within this; raft's 50ms default
		// puts that on every forwarded lease's path (measured: the 10k-task
		// benchmark runs ~1.4x faster at 5ms).
		RaftCommitTimeout: 5 * time.Millisecond,
		SnapshotThreshold: 8192,
		SnapshotInterval:  2 * time.Minute,
		Autopilot:         DefaultAutopilot(),
		Version:           "dev",
	}
}

// TestConfig returns timings for in-process clusters: sub-second elections,
// leases and gossip.
func TestConfig() Config {
	c := DefaultConfig()
	c.RaftAddr, c.GRPCAddr, c.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	c.LoopbackOnly = true
	c.LeaseTTL = 2 * time.Second
	c.HeartbeatInterval = 200 * time.Millisecond
	c.RetryBackoff = 50 * time.Millisecond
	c.MaxRetryBackoff = 500 * time.Millisecond
	c.SpeculationMinRuntime = 500 * time.Millisecond
	c.RaftHeartbeatTimeout = 300 * time.Millisecond
	c.RaftElectionTimeout = 300 * time.Millisecond
	c.RaftLeaderLease = 150 * time.Millisecond
	c.RaftCommitTimeout = 5 * time.Millisecond
	c.FastGossip = true
	c.SweepInterval = 250 * time.Millisecond
	c.ScheduleInterval = 100 * time.Millisecond
	c.Autopilot.Interval = 250 * time.Millisecond
	c.Autopilot.ServerStabilizationTime = time.Second
	c.Autopilot.LastContactThreshold = time.Second
	return c
}

// Validate reports the first configuration error.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is required"))
	}
	for name, addr := range map[string]string{"raft_addr": c.RaftAddr, "grpc_addr": c.GRPCAddr, "gossip_addr": c.GossipAddr} {
		if err := rpc.CheckBindAddr(name, addr, c.LoopbackOnly); err != nil {
			errs = append(errs, err)
		}
	}
	if c.HTTPAddr != "" {
		if err := rpc.CheckBindAddr("http_addr", c.HTTPAddr, c.LoopbackOnly); err != nil {
			errs = append(errs, err)
		}
	}
	if err := gossip.CheckKey(c.GossipKey); err != nil {
		errs = append(errs, err)
	}
	if c.HTTPTLS && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("http_tls needs tls.cert_file and tls.key_file: the console serves the node's certificate"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	} else if err := rpc.CheckExposure(c.exposed(), c.TLS, c.Insecure); err != nil {
		errs = append(errs, err)
	}
	switch c.Tokens {
	case "", TokensAuto, TokensRequired, TokensOff:
	default:
		errs = append(errs, fmt.Errorf("tokens %q: want %s, %s or %s", c.Tokens, TokensAuto, TokensRequired, TokensOff))
	}
	if c.LeaseTTL <= 0 || c.HeartbeatInterval <= 0 || c.HeartbeatInterval*2 > c.LeaseTTL {
		errs = append(errs, fmt.Errorf("lease_ttl (%s) must be at least twice heartbeat_interval (%s)", c.LeaseTTL, c.HeartbeatInterval))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("max_attempts must be at least 1"))
	}
	if c.ScheduleInterval <= 0 || c.SlotGrace < c.ScheduleInterval {
		errs = append(errs, fmt.Errorf("slot_grace (%s) must be at least schedule_interval (%s), which must be positive", c.SlotGrace, c.ScheduleInterval))
	}
	if err := c.Alerts.Check(); err != nil {
		errs = append(errs, fmt.Errorf("alerts.%w", err))
	}
	switch {
	case c.BootstrapExpect < 0:
		errs = append(errs, fmt.Errorf("bootstrap_expect %d: want 0 (off) or the number of coordinators", c.BootstrapExpect))
	case c.BootstrapExpect > 0 && c.Bootstrap:
		errs = append(errs, errors.New("bootstrap and bootstrap_expect exclude each other: bootstrap starts a one-voter cluster, bootstrap_expect waits for all its coordinators"))
	case c.BootstrapExpect > 1 && len(c.Seeds) == 0:
		errs = append(errs, fmt.Errorf("bootstrap_expect %d needs seeds: the gossip addresses (or a DNS name) the coordinators find each other through", c.BootstrapExpect))
	}
	if err := c.Autopilot.check(); err != nil {
		errs = append(errs, fmt.Errorf("autopilot.%w", err))
	}
	if err := c.Autoscale.check(); err != nil {
		errs = append(errs, fmt.Errorf("autoscale.%w", err))
	}
	if c.InitialToken != "" {
		if err := rpc.CheckToken(c.InitialToken); err != nil {
			errs = append(errs, fmt.Errorf("initial token: %w", err))
		}
	}
	return errors.Join(errs...)
}

// listen binds a listener through the Listen hook, or net.Listen.
func (c *Config) listen(network, addr string) (net.Listener, error) {
	if c.Listen != nil {
		return c.Listen(network, addr)
	}
	return net.Listen(network, addr)
}

// dialer returns the Dialer hook, or a TCP dial.
func (c *Config) dialer() rpc.Dialer {
	if c.Dialer != nil {
		return c.Dialer
	}
	var d net.Dialer
	return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}

// exposed lists the listeners mutual TLS protects (the API and Raft), by
// config field: beyond loopback they must verify their callers.
func (c *Config) exposed() []rpc.Listener {
	return []rpc.Listener{{Field: "grpc_addr", Addr: c.GRPCAddr}, {Field: "raft_addr", Addr: c.RaftAddr}}
}

// InsecureWarning is the coordinator's line about listening open beyond
// loopback (insecure: true), "" when it does not.
func (c *Config) InsecureWarning() string { return rpc.InsecureWarning(c.exposed(), c.TLS, c.Insecure) }
