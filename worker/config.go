package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/storage"
)

// Config configures one worker. Start from DefaultConfig.
type Config struct {
	// ID names the worker in gossip and in the coordinator; unique.
	ID string
	// Pool is the worker pool; jobs run only on workers of their pool.
	Pool   string
	Slots  int
	Labels map[string]string
	// MemoryBytes bounds the memory the worker's running tasks may need
	// together (by their estimates); 0 means no bound.
	MemoryBytes int64

	// Coordinators are gRPC addresses of coordinators; any will do
	// (followers forward to the leader). More are learnt from gossip.
	Coordinators []string
	// GRPCAddr is the worker's own gRPC server (collectives between
	// workers); GRPCAdvertise what peers dial.
	GRPCAddr      string
	GRPCAdvertise string
	// HTTPAddr serves /metrics, /healthz, /readyz and /drain (loopback
	// callers only); empty disables it.
	HTTPAddr string
	// GossipAddr is the memberlist host:port; Seeds are members to join.
	GossipAddr      string
	GossipAdvertise string
	Seeds           []string
	GossipKey       []byte
	FastGossip      bool
	// TLS, when enabled, is used for every gRPC connection (mTLS).
	TLS          rpc.TLSConfig
	LoopbackOnly bool
	// Insecure lets the collective listener (grpc_addr) listen beyond
	// loopback without TLS; without it such a worker refuses to start.
	Insecure bool
	// Dialer, when set, opens the connections the worker dials (to the
	// coordinators and to its ring neighbours) instead of a TCP dial.
	// Tests inject network faults through it; nil in production.
	Dialer rpc.Dialer

	Storage storage.Config

	// DrainGrace is how long a draining worker lets running tasks finish
	// before handing the rest back.
	DrainGrace time.Duration
	// LeaseWait is how long one lease call waits for work (long poll).
	LeaseWait time.Duration
	// RPCTimeout bounds one attempt of a unary call to a coordinator (a
	// lease call gets LeaseWait on top); a call that times out is retried
	// on the next coordinator.
	RPCTimeout time.Duration
	// FlushTimeout bounds what a stopping worker spends, after its tasks
	// ended, delivering its last reports and leaving gossip.
	FlushTimeout time.Duration
	// PodDeletionCost, on Kubernetes, keeps the worker's own pod's
	// controller.kubernetes.io/pod-deletion-cost annotation current
	// (podcost.go has the rule), so that a Deployment scaling down deletes
	// idle and draining workers first and training members last. It needs
	// env POD_NAME (and POD_NAMESPACE, or the service account's namespace
	// file) and RBAC to patch the pod.
	PodDeletionCost bool
	// kube overrides where the pod-deletion-cost loop finds the API
	// server and the service account; tests set it, production leaves it
	// zero.
	kube kubeEnv

	// TrainStepDelay pauses a training member after every step: tests and
	// demos of elasticity slow training down to act mid-epoch with it. 0
	// in production.
	TrainStepDelay time.Duration

	Version string
	Logger  *slog.Logger
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		Pool:         jobspec.DefaultPool,
		Slots:        2,
		GRPCAddr:     "127.0.0.1:7200",
		GossipAddr:   "127.0.0.1:7202",
		DrainGrace:   30 * time.Second,
		LeaseWait:    2 * time.Second,
		RPCTimeout:   5 * time.Second,
		FlushTimeout: 10 * time.Second,
		Version:      "dev",
	}
}

// TestConfig returns fast timings for in-process clusters on loopback.
func TestConfig() Config {
	c := DefaultConfig()
	c.GRPCAddr, c.GossipAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.FastGossip, c.LoopbackOnly = true, true
	c.DrainGrace = 5 * time.Second
	c.LeaseWait = 500 * time.Millisecond
	c.RPCTimeout = 2 * time.Second
	c.FlushTimeout = 3 * time.Second
	return c
}

// Validate reports configuration errors.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if c.Pool == "" {
		errs = append(errs, errors.New("pool is required"))
	}
	if c.Slots < 1 {
		errs = append(errs, fmt.Errorf("slots must be at least 1, got %d", c.Slots))
	}
	if len(c.Coordinators) == 0 && len(c.Seeds) == 0 {
		errs = append(errs, errors.New("give coordinators or gossip seeds to find the cluster"))
	}
	for name, addr := range map[string]string{"grpc_addr": c.GRPCAddr, "gossip_addr": c.GossipAddr} {
		if err := rpc.CheckBindAddr(name, addr, c.LoopbackOnly); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MemoryBytes < 0 {
		errs = append(errs, fmt.Errorf("memory_bytes must not be negative, got %d", c.MemoryBytes))
	}
	for name, d := range map[string]time.Duration{"drain_grace": c.DrainGrace, "lease_wait": c.LeaseWait,
		"rpc_timeout": c.RPCTimeout, "flush_timeout": c.FlushTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", name, d))
		}
	}
	if c.PodDeletionCost && os.Getenv(envPodName) == "" {
		errs = append(errs, fmt.Errorf("pod_deletion_cost needs env %s, the worker's pod name (downward API: valueFrom.fieldRef.fieldPath: metadata.name)", envPodName))
	}
	if err := gossip.CheckKey(c.GossipKey); err != nil {
		errs = append(errs, err)
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	} else if err := rpc.CheckExposure(c.exposed(), c.TLS, c.Insecure); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults fills the timings a caller may leave zero (a Config built
// without DefaultConfig) with the production defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RPCTimeout == 0 {
		c.RPCTimeout = d.RPCTimeout
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = d.FlushTimeout
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	return c
}

// exposed lists the listeners mutual TLS protects: the collective
// endpoint other members dial.
func (c *Config) exposed() []rpc.Listener {
	return []rpc.Listener{{Field: "grpc_addr", Addr: c.GRPCAddr}}
}

// InsecureWarning is the worker's line about listening open beyond
// loopback (insecure: true), "" when it does not.
func (c *Config) InsecureWarning() string { return rpc.InsecureWarning(c.exposed(), c.TLS, c.Insecure) }
