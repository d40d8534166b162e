package worker

import (
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/worker/collective"
)

// newGRPCServer binds the worker's own gRPC server: the standard health
// service and the collectives hub (ring all-reduce, broadcast and barrier
// between members of a training group). With TLS on, only worker
// certificates may join a ring.
func (a *Agent) newGRPCServer() error {
	lis, err := net.Listen("tcp", a.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("worker grpc: %w", err)
	}
	a.grpcLis = lis
	a.grpcAddr = lis.Addr().String()
	if a.cfg.GRPCAdvertise != "" {
		a.grpcAddr = a.cfg.GRPCAdvertise
	}
	opts, err := rpc.ServerOptions(a.cfg.TLS)
	if err != nil {
		return fmt.Errorf("worker grpc: %w", err)
	}
	opts = append(opts, rpc.Policy{"nightshift.v1.CollectiveService": {rpc.RoleWorker}}.Interceptors()...)
	a.grpcSrv = grpc.NewServer(opts...)
	a.collectives = collective.NewHub()
	a.collectives.Register(a.grpcSrv)
	a.health = health.NewServer()
	// Not serving until a coordinator accepted the worker.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(a.grpcSrv, a.health)
	return nil
}

func (a *Agent) serveGRPC() {
	if err := a.grpcSrv.Serve(a.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		a.log.Error("grpc server stopped", "err", err)
	}
}
