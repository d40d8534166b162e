package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker"
)

// Options configures an in-process cluster.
type Options struct {
	// Coordinators is the number of Raft voters (1, 3 or 5).
	Coordinators int
	// Workers to start, each with Slots task slots, in Pool.
	Workers int
	Slots   int
	Pool    string
	// DataDir holds each coordinator's Raft state.
	DataDir string
	// GRPCAddr is the first coordinator's API address ("" picks a free port).
	GRPCAddr string
	Storage  storage.Config
	Logger   *slog.Logger
	// Fast uses test timings: sub-second elections, leases and gossip.
	Fast bool
	// ClientTLS is what the cluster's own admin calls (adding peers) use
	// when the coordinators require mutual TLS.
	ClientTLS rpc.TLSConfig
	// Coordinator and Worker adjust each node's config before it starts.
	Coordinator func(i int, c *coordinator.Config)
	Worker      func(i int, c *worker.Config)
	// Faults runs Raft and gRPC between the nodes (client API, worker to
	// coordinator, the training ring) over Cluster.Net, where tests
	// partition, blackhole and delay nodes by ID. Gossip stays on plain
	// loopback.
	Faults bool
}

// Cluster is coordinators and workers running in this process on loopback.
type Cluster struct {
	opts Options
	mu   sync.Mutex
	// Coordinators[i] is nil once killed.
	Coordinators []*coordinator.Server
	Workers      []*Worker
	// Net carries the nodes' connections when Options.Faults is set; nil
	// otherwise. A node's name there is its ID.
	Net      *faultnet.Network
	seeds    []string
	apiAddrs []string
	addrs    []nodeAddrs
}

// nodeAddrs are the addresses a coordinator bound, kept for its restart.
type nodeAddrs struct{ raft, grpc, gossip string }

// Worker is one running worker agent.
type Worker struct {
	*worker.Agent
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, err set
	err    error
}

// Stop drains the worker (as SIGTERM does) and waits for it. Calling it
// again (Close after a test stopped a worker) returns the same result.
func (w *Worker) Stop() error {
	w.cancel()
	<-w.done
	return w.err
}

// Start starts the coordinators, waits for a leader, then starts the workers
// and waits until each registered.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Coordinators < 1 {
		opts.Coordinators = 1
	}
	if opts.Slots < 1 {
		opts.Slots = 2
	}
	if opts.Pool == "" {
		opts.Pool = jobspec.DefaultPool
	}
	c := &Cluster{opts: opts}
	if opts.Faults {
		c.Net = faultnet.New()
	}
	if err := c.startCoordinators(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	for range opts.Workers {
		if _, err := c.AddWorker(ctx, nil); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) coordinatorConfig(i int) coordinator.Config {
	cfg := coordinator.DefaultConfig()
	if c.opts.Fast {
		cfg = coordinator.TestConfig()
	}
	cfg.ID = fmt.Sprintf("coordinator-%d", i+1)
	cfg.DataDir = filepath.Join(c.opts.DataDir, cfg.ID)
	cfg.RaftAddr, cfg.GossipAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if i == 0 && c.opts.GRPCAddr != "" {
		cfg.GRPCAddr = c.opts.GRPCAddr
	}
	cfg.LoopbackOnly = true
	cfg.Bootstrap = i == 0
	cfg.Seeds = c.seeds
	cfg.Storage = c.opts.Storage
	if c.opts.Logger != nil {
		cfg.Logger = c.opts.Logger.With("role", "coordinator")
	}
	if c.opts.Coordinator != nil {
		c.opts.Coordinator(i, &cfg)
	}
	if c.Net != nil {
		nd := c.Net.Node(cfg.ID)
		cfg.Dialer, cfg.Listen = nd.DialContext, nd.Listen
	}
	return cfg
}

func (c *Cluster) startCoordinators(ctx context.Context) error {
	for i := range c.opts.Coordinators {
		s, err := coordinator.New(c.coordinatorConfig(i))
		if err != nil {
			return err
		}
		c.Coordinators = append(c.Coordinators, s)
		c.apiAddrs = append(c.apiAddrs, s.Addr())
		c.addrs = append(c.addrs, nodeAddrs{raft: s.RaftAddr(), grpc: s.Addr(), gossip: s.GossipAddr()})
		if i == 0 {
			c.seeds = []string{s.GossipAddr()}
			if _, err := c.WaitLeader(ctx); err != nil {
				return err
			}
			continue
		}
		if err := c.AddPeer(ctx, s); err != nil {
			return err
		}
	}
	_, err := c.WaitLeader(ctx)
	return err
}

// AddPeer makes a running coordinator a voter through the admin API, as
// `nightshift operator raft add-peer` does.
func (c *Cluster) AddPeer(ctx context.Context, s *coordinator.Server) error {
	return retry(ctx, func(ctx context.Context) error {
		conn, err := rpc.Dial(c.Addr(), c.opts.ClientTLS)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = pb.NewAdminServiceClient(conn).AddPeer(ctx, &pb.AddPeerRequest{Id: s.ID(), RaftAddr: s.RaftAddr()})
		return err
	})
}

// retry calls fn until it succeeds or ctx ends (a minute at most).
func retry(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AddWorker starts one more worker and waits until it registered.
func (c *Cluster) AddWorker(ctx context.Context, tweak func(*worker.Config)) (*Worker, error) {
	c.mu.Lock()
	i := len(c.Workers)
	c.mu.Unlock()
	cfg := worker.DefaultConfig()
	if c.opts.Fast {
		cfg = worker.TestConfig()
	}
	cfg.ID = fmt.Sprintf("worker-%d", i+1)
	cfg.Pool, cfg.Slots = c.opts.Pool, c.opts.Slots
	cfg.GRPCAddr, cfg.GossipAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.LoopbackOnly = true
	cfg.Coordinators = append([]string(nil), c.apiAddrs...)
	cfg.Seeds = c.seeds
	cfg.Storage = c.opts.Storage
	if c.opts.Logger != nil {
		cfg.Logger = c.opts.Logger.With("role", "worker")
	}
	if c.opts.Worker != nil {
		c.opts.Worker(i, &cfg)
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if c.Net != nil {
		cfg.Dialer = c.Net.Node(cfg.ID).DialContext
	}
	a, err := worker.New(cfg)
	if err != nil {
		return nil, err
	}
	if c.Net != nil {
		c.Net.Register(cfg.ID, a.GRPCAddr()) // its ring neighbours dial it there
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Worker{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() { w.err = a.Run(wctx); close(w.done) }()
	c.mu.Lock()
	c.Workers = append(c.Workers, w)
	c.mu.Unlock()
	err = retry(ctx, func(ctx context.Context) error {
		if l := c.Leader(); l != nil && l.Store().Snapshot().Worker(cfg.ID) != nil {
			return nil
		}
		return fmt.Errorf("worker %s not registered yet", cfg.ID)
	})
	return w, err
}

// Leader returns the coordinator leading now, or nil.
func (c *Cluster) Leader() *coordinator.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.Coordinators {
		if s != nil && s.IsLeader() {
			return s
		}
	}
	return nil
}

// WaitLeader waits until a coordinator leads.
func (c *Cluster) WaitLeader(ctx context.Context) (*coordinator.Server, error) {
	var l *coordinator.Server
	err := retry(ctx, func(context.Context) error {
		if l = c.Leader(); l == nil {
			return errors.New("no leader yet")
		}
		return nil
	})
	return l, err
}

// Addr returns the API address of a live coordinator (the first one alive).
func (c *Cluster) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.Coordinators {
		if s != nil {
			return s.Addr()
		}
	}
	return ""
}

// Isolate cuts each node named (by ID) off from every other node of
// Cluster.Net, the others named included, until Net.Heal. It needs
// Options.Faults.
func (c *Cluster) Isolate(ids ...string) {
	for _, id := range ids {
		var rest []string
		for _, n := range c.Net.Nodes() {
			if n != id {
				rest = append(rest, n)
			}
		}
		c.Net.Partition([]string{id}, rest)
	}
}

// KillCoordinator crashes coordinator i (no graceful leave).
func (c *Cluster) KillCoordinator(i int) {
	c.mu.Lock()
	s := c.Coordinators[i]
	c.Coordinators[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Kill()
	}
}

// RestartCoordinator starts killed coordinator i again from its Raft
// state, on the addresses it had (its peers know them), as a process
// restart does.
func (c *Cluster) RestartCoordinator(ctx context.Context, i int) error {
	c.mu.Lock()
	if c.Coordinators[i] != nil {
		c.mu.Unlock()
		return fmt.Errorf("coordinator %d is running", i)
	}
	old := c.addrs[i]
	c.mu.Unlock()
	cfg := c.coordinatorConfig(i)
	cfg.RaftAddr, cfg.GRPCAddr, cfg.GossipAddr, cfg.Bootstrap = old.raft, old.grpc, old.gossip, false
	var s *coordinator.Server
	// The killed node's ports may take a moment to be free again.
	err := retry(ctx, func(context.Context) error {
		var err error
		s, err = coordinator.New(cfg)
		return err
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.Coordinators[i] = s
	c.mu.Unlock()
	return nil
}

// Live returns the coordinators that run.
func (c *Cluster) Live() []*coordinator.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*coordinator.Server
	for _, s := range c.Coordinators {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// KillLeader crashes the current leader and returns its index.
func (c *Cluster) KillLeader() int {
	c.mu.Lock()
	idx := -1
	for i, s := range c.Coordinators {
		if s != nil && s.IsLeader() {
			idx = i
		}
	}
	c.mu.Unlock()
	if idx >= 0 {
		c.KillCoordinator(idx)
	}
	return idx
}

// Close stops every worker (draining) and coordinator.
func (c *Cluster) Close() error {
	c.mu.Lock()
	workers, coords := c.Workers, c.Coordinators
	c.Workers, c.Coordinators = nil, nil
	c.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Stop() }()
	}
	wg.Wait()
	for _, s := range coords {
		if s != nil {
			errs = append(errs, s.Shutdown())
		}
	}
	return errors.Join(errs...)
}
