package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// Agent is one worker process: it registers with the coordinators, joins
// gossip, leases tasks, runs them and reports their outcomes. Create it
// with New, then call Run once.
type Agent struct {
	cfg     Config
	base    *slog.Logger // the configured logger with the worker's ID
	log     *slog.Logger // base, subsystem "worker"
	metrics *metrics
	client  *client

	grpcLis net.Listener
	grpcSrv *grpc.Server
	health  *health.Server
	// collectives serves the ring streams of the training groups this worker is in.
	collectives *collective.Hub
	grpcAddr    string
	httpLis     net.Listener
	httpSrv     *http.Server
	gossip      *gossip.Node

	plans    *cache[*shard.Plan]
	datasets *cache[*shard.Dataset]
	models   *cache[*model.Model]

	// life ends when Run finishes or Kill is called: every loop and RPC
	// lives inside it. work ends earlier, when a drain's grace runs out:
	// running tasks and the lease loop live inside it.
	life, work              context.Context
	lifeCancel, workCancel  context.CancelFunc
	cleanup                 context.Context // stale-output deletes; ends with Run or Kill
	cleanupCancel           context.CancelFunc
	started                 atomic.Bool
	killed                  chan struct{}
	killOnce, closeOnce     sync.Once
	loops, tasks, deletions sync.WaitGroup
	leaseDone               chan struct{} // closed when the lease loop returns
	kick                    chan struct{} // wakes the heartbeat loop (cap 1)
	metaDone                chan struct{} // closed when the gossip metadata loop returns
	// keyringVersion is the version of the replicated gossip keyring this
	// worker applied (0: its configured key); heartbeats report it.
	keyringVersion atomic.Uint64

	mu sync.Mutex
	// changed is closed and replaced on every change of the fields below:
	// the loops wait on it as on a condition variable that can be selected.
	changed    chan struct{}
	registered bool
	hbInterval time.Duration
	leaseTTL   time.Duration
	localDrain bool          // Drain was called
	drainStart time.Time     // when Drain was first called: DrainGrace counts from it
	opDrain    bool          // the coordinator says drain (operator)
	shutdown   bool          // Run's context ended: draining to stop
	dead       bool          // Kill was called
	resume     chan struct{} // non-nil while paused; closed by Resume
	held       int           // tasks waiting in hold (tests watch it)
	running    map[attemptKey]*attempt
	usedBytes  int64
	// High-water marks of len(running) and usedBytes, for tests.
	peakRunning int
	peakBytes   int64
	lease       leasePhase
	pending     []*pendingReport
	// unsettled holds every report queued or in flight until a coordinator
	// answered for it: its attempt still counts as the worker's in
	// heartbeats (runningRefs), so the leader does not take an attempt
	// that finished a moment ago for one whose lease answer was lost.
	unsettled  map[*pendingReport]struct{}
	reporting  bool // a Report call is in flight
	reregister bool // a call was refused as from an unknown worker
}

// New validates cfg and binds the worker's gRPC, HTTP and gossip listeners
// (port 0 picks a free port), so that the addresses are known before Run.
// It starts no work; an Agent that will never Run must be released with
// Kill.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("worker", cfg.ID)
	if w := cfg.InsecureWarning(); w != "" {
		log.Warn(w)
	}
	a := &Agent{
		cfg:       cfg,
		base:      log,
		log:       log.With("subsystem", "worker"),
		metrics:   newMetrics(cfg.ID),
		client:    newClient(cfg.Coordinators, cfg.TLS, log.With("subsystem", "worker-client")).via(cfg.Dialer),
		plans:     newCache[*shard.Plan](16),
		datasets:  newCache[*shard.Dataset](16),
		models:    newCache[*model.Model](4),
		killed:    make(chan struct{}),
		leaseDone: make(chan struct{}),
		kick:      make(chan struct{}, 1),
		metaDone:  make(chan struct{}),
		changed:   make(chan struct{}),
		running:   map[attemptKey]*attempt{},
	}
	a.life, a.lifeCancel = context.WithCancel(context.Background())
	a.work, a.workCancel = context.WithCancel(a.life)
	a.cleanup, a.cleanupCancel = context.WithCancel(context.Background())
	if err := a.listen(log); err != nil {
		a.closeResources(false)
		a.lifeCancel()
		a.cleanupCancel()
		return nil, err
	}
	return a, nil
}

// listen binds the servers and starts the gossip member (not yet joined).
func (a *Agent) listen(log *slog.Logger) error {
	var err error
	if err = a.newGRPCServer(); err != nil {
		return err
	}
	if err = a.newHTTPServer(); err != nil {
		return err
	}
	a.gossip, err = gossip.Start(gossip.Config{
		Name:          a.cfg.ID,
		BindAddr:      a.cfg.GossipAddr,
		AdvertiseAddr: a.cfg.GossipAdvertise,
		Key:           a.cfg.GossipKey,
		Meta:          a.meta(stateActive),
		Fast:          a.cfg.FastGossip,
		OnChange:      a.onMember,
		Logger:        log,
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// ID returns the worker's ID.
func (a *Agent) ID() string { return a.cfg.ID }

// GRPCAddr returns the address peers dial for the worker's gRPC server:
// GRPCAdvertise when set, else the bound address.
func (a *Agent) GRPCAddr() string { return a.grpcAddr }

// GossipAddr returns the host:port of the worker's gossip member.
func (a *Agent) GossipAddr() string { return a.gossip.Addr() }

// HTTPAddr returns the bound address of /metrics, /healthz, /readyz and /drain,
// or "" when HTTPAddr was not configured.
func (a *Agent) HTTPAddr() string {
	if a.httpLis == nil {
		return ""
	}
	return a.httpLis.Addr().String()
}

// Running returns the number of attempts running now.
func (a *Agent) Running() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.running)
}

// Run registers with a coordinator, joins gossip and leases and runs tasks
// until ctx ends or Kill is called. When ctx ends it drains: it leases no
// more, lets running tasks finish within DrainGrace, hands back the rest as
// released, delivers its last reports, leaves gossip and returns nil. It
// returns an error only when the coordinators refuse the registration for
// good (bad request or credentials).
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errRunTwice
	}
	defer a.client.close()
	if a.isDead() {
		return nil
	}
	a.goLoop(a.serveGRPC)
	a.goLoop(a.serveHTTP)
	a.joinGossip()
	a.goLoop(a.rejoinLoop)
	a.goLoop(func() {
		defer close(a.metaDone)
		a.metaLoop()
	})
	if a.cfg.PodDeletionCost {
		a.goLoop(a.podCostLoop)
	}

	regCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(a.life, cancel)
	err := a.register(regCtx)
	stop()
	cancel()
	if err != nil {
		close(a.leaseDone)
		if ctx.Err() == nil && !a.isDead() {
			a.log.Error("registration refused; stopping", "err", err)
			a.stopAll(true)
			return fmt.Errorf("worker %s: register: %w", a.cfg.ID, err)
		}
	} else {
		a.goLoop(a.heartbeatLoop)
		a.goLoop(a.flushLoop)
		a.loops.Add(1)
		go func() {
			defer a.loops.Done()
			defer close(a.leaseDone)
			a.leaseLoop()
		}()
	}
	select {
	case <-ctx.Done():
		a.drainToStop()
	case <-a.killed:
	}
	a.stopAll(!a.isDead())
	return nil
}

// goLoop runs fn on a goroutine Run waits for.
func (a *Agent) goLoop(fn func()) {
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		fn()
	}()
}

// stopAll ends every loop and server and waits for them. graceful leaves
// gossip (others learn at once that the worker is gone) instead of just
// stopping it.
func (a *Agent) stopAll(graceful bool) {
	a.workCancel()
	<-a.leaseDone
	a.tasks.Wait()
	a.lifeCancel()
	// A metadata update racing the leave would carry a newer incarnation
	// and bring the worker back to life in the others' eyes.
	<-a.metaDone
	a.closeResources(graceful)
	a.loops.Wait()
	a.waitDeletions() // after the loops: no report can be settled any more
}

// closeResources stops the servers and the gossip member, once.
func (a *Agent) closeResources(graceful bool) {
	a.closeOnce.Do(func() {
		if a.health != nil {
			a.health.Shutdown()
		}
		if a.gossip != nil {
			var err error
			if graceful {
				err = a.gossip.Leave(a.cfg.FlushTimeout)
			} else {
				err = a.gossip.Shutdown()
			}
			if err != nil {
				a.log.Warn("leaving gossip", "err", err)
			}
		}
		if a.grpcSrv != nil {
			a.grpcSrv.Stop()
		}
		if a.grpcLis != nil {
			_ = a.grpcLis.Close() // Stop closed it when Serve ran; else it is still open
		}
		if a.httpSrv != nil {
			_ = a.httpSrv.Close()
		}
		if a.httpLis != nil {
			_ = a.httpLis.Close()
		}
	})
}

// notifyLocked wakes everything waiting for a change of the agent's state.
func (a *Agent) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// isDead reports whether Kill was called.
func (a *Agent) isDead() bool {
	select {
	case <-a.killed:
		return true
	default:
		return false
	}
}

// waitChange waits until the state changes after ch was read, or ctx ends.
func waitChange(ctx context.Context, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}
