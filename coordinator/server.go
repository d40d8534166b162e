package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Server is one coordinator: a Raft voter serving the gRPC API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *Store
	fsm     *fsm
	raft    *raftNode
	gossip  *gossip.Node
	grpc    *grpc.Server
	grpcLn  net.Listener
	http    *http.Server
	httpLn  net.Listener
	batch   *batcher
	metrics *metrics
	fwd     *forwarder
	hb      *heartbeats
	pilot   *pilot
	// timelines keeps the console's per-worker timelines between ticks.
	timelines *timelineCache

	// leader holds the leader loops' cancel while this node leads.
	leaderMu     sync.Mutex
	leaderCancel context.CancelFunc
	leaderDone   chan struct{}
	leaderState  *leaderState

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
	wg        sync.WaitGroup
}

// New starts a coordinator's listeners, Raft and gossip. Run drives it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("coordinator config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("node", cfg.ID)
	if w := cfg.InsecureWarning(); w != "" {
		log.Warn(w)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: NewStore(), stop: make(chan struct{})}
	s.metrics = newMetrics()
	s.metrics.reg.MustRegister(newStateCollector(s))
	s.fsm = &fsm{store: s.store, onApply: s.metrics.observeApply}
	s.hb = newHeartbeats()
	s.timelines = newTimelineCache()
	s.fwd = newForwarder(s)
	var err error
	if s.grpcLn, err = s.cfg.listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("grpc listen %s: %w", cfg.GRPCAddr, err)
	}
	if s.cfg.GRPCAdvertise == "" {
		s.cfg.GRPCAdvertise = s.grpcLn.Addr().String()
	}
	if s.raft, err = startRaft(&s.cfg, s.fsm, log); err != nil {
		_ = s.grpcLn.Close()
		return nil, err
	}
	s.batch = newBatcher(s)
	s.pilot = newPilot(s)
	if err := s.startGossip(); err != nil {
		s.Kill()
		return nil, err
	}
	if err := s.startGRPC(); err != nil {
		s.Kill()
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		s.Kill()
		return nil, err
	}
	s.wg.Add(3)
	go s.monitorLeadership()
	go s.keyringLoop()
	go s.bootstrapLoop()
	return s, nil
}

// startGossip binds the gossip member and starts joining the seeds.
func (s *Server) startGossip() error {
	meta := gossip.Meta{Role: gossip.RoleCoordinator, ID: s.cfg.ID, GRPC: s.cfg.GRPCAdvertise,
		Raft: string(s.raft.transport.LocalAddr()), Version: s.cfg.Version, Expect: s.cfg.BootstrapExpect}
	n, err := gossip.Start(gossip.Config{Name: s.cfg.ID, BindAddr: s.cfg.GossipAddr, AdvertiseAddr: s.cfg.GossipAdvertise,
		Key: s.cfg.GossipKey, Meta: meta, Fast: s.cfg.FastGossip, OnChange: s.onGossip, Logger: s.log})
	if err != nil {
		return err
	}
	s.gossip = n
	// Seeds may not be up yet (a cluster restarted in any order): the node
	// retries until one answers or it stops, and /readyz says so meanwhile.
	n.JoinInBackground(context.Background(), s.cfg.Seeds, s.log.With("subsystem", "gossip"))
	return nil
}

func (s *Server) startGRPC() error {
	opts, err := rpc.ServerOptions(s.cfg.TLS)
	if err != nil {
		return err
	}
	// A certificate names its role: workers may only call the worker API,
	// clients only the job, admin, model, schedule and data APIs;
	// coordinators (forwarding) all.
	opts = append(opts, rpc.Policy{
		"nightshift.v1.JobService":      {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.AdminService":    {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.ModelService":    {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.ScheduleService": {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.DataService":     {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.TokenService":    {rpc.RoleClient, rpc.RoleCoordinator},
		"nightshift.v1.WorkerService":   {rpc.RoleWorker, rpc.RoleCoordinator},
		"nightshift.v1.PeerService":     {rpc.RoleCoordinator},
	}.Interceptors()...)
	opts = append(opts, s.authInterceptors()...)
	s.grpc = grpc.NewServer(opts...)
	pb.RegisterJobServiceServer(s.grpc, &jobAPI{s: s})
	pb.RegisterWorkerServiceServer(s.grpc, &workerAPI{s: s})
	pb.RegisterAdminServiceServer(s.grpc, &adminAPI{s: s})
	pb.RegisterModelServiceServer(s.grpc, &modelAPI{s: s})
	pb.RegisterScheduleServiceServer(s.grpc, &scheduleAPI{s: s})
	pb.RegisterDataServiceServer(s.grpc, &dataAPI{s: s})
	pb.RegisterTokenServiceServer(s.grpc, &tokensAPI{s: s})
	pb.RegisterPeerServiceServer(s.grpc, &peerAPI{s: s})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.grpc.Serve(s.grpcLn)
	}()
	return nil
}

// ID returns the node's ID.
func (s *Server) ID() string { return s.cfg.ID }

// Addr returns the gRPC address clients and workers dial.
func (s *Server) Addr() string { return s.cfg.GRPCAdvertise }

// RaftAddr returns the Raft transport address.
func (s *Server) RaftAddr() string { return string(s.raft.transport.LocalAddr()) }

// GossipAddr returns the memberlist address others join through.
func (s *Server) GossipAddr() string { return s.gossip.Addr() }

// IsLeader reports whether this node leads the Raft cluster.
func (s *Server) IsLeader() bool { return s.raft.raft.State() == raft.Leader }

// Store returns the node's replicated state (reads only).
func (s *Server) Store() *Store { return s.store }

// AppliedIndex returns the last Raft index applied to the state.
func (s *Server) AppliedIndex() uint64 { return s.raft.raft.AppliedIndex() }

// Registry returns the node's Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Run serves until ctx ends, then shuts the node down gracefully.
func (s *Server) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-s.stop:
	}
	return s.Shutdown()
}

// Shutdown stops the node: leader loops, API, gossip (leaving), Raft.
func (s *Server) Shutdown() error {
	return s.close(true)
}

// Kill stops the node at once, as a crash would (tests): no gossip leave,
// no leadership transfer, connections cut.
func (s *Server) Kill() {
	_ = s.close(false)
}

func (s *Server) close(graceful bool) error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.stopLeading()
		var errs []error
		if s.grpc == nil {
			_ = s.grpcLn.Close()
		} else {
			if graceful {
				stopped := make(chan struct{})
				go func() { s.grpc.GracefulStop(); close(stopped) }()
				select {
				case <-stopped:
				case <-time.After(3 * time.Second):
					s.grpc.Stop()
				}
			} else {
				s.grpc.Stop()
			}
		}
		if s.http != nil {
			errs = append(errs, s.http.Close())
		}
		if s.gossip != nil {
			if graceful {
				// Leaving is a courtesy: peers detect a silent node anyway.
				if err := s.gossip.Leave(time.Second); err != nil {
					s.log.Warn("leaving gossip", "err", err)
				}
			} else {
				errs = append(errs, s.gossip.Shutdown())
			}
		}
		errs = append(errs, s.raft.close())
		s.fwd.close()
		s.wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
