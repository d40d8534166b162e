package worker

import (
	"context"
	"crypto/rand"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// defaultHeartbeat is used when a coordinator names no interval.
const defaultHeartbeat = time.Second

// register announces the worker to the coordinators, retrying until one
// accepts, ctx ends, or the refusal is one retrying cannot fix. Retries of
// one registration share a request ID, so the coordinator applies it once.
func (a *Agent) register(ctx context.Context) error {
	log := a.base.With("subsystem", "worker-register")
	req := &nightshiftv1.RegisterRequest{Worker: a.record(), RequestId: a.cfg.ID + "/register/" + rand.Text()}
	bo := rpc.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		var resp *nightshiftv1.RegisterResponse
		err := a.client.call(ctx, a.cfg.RPCTimeout, "register", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) (err error) {
			resp, err = c.Register(ctx, req)
			return err
		})
		if err == nil {
			a.registeredWith(resp)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fatalRegister(err) {
			return err
		}
		log.Warn("registration failed; retrying", "err", err)
		if !rpc.Sleep(ctx, bo.Next()) {
			return ctx.Err()
		}
	}
}

// record is the worker as the coordinator stores it.
func (a *Agent) record() *nightshiftv1.Worker {
	w := &nightshiftv1.Worker{
		Id:          a.cfg.ID,
		Pool:        a.cfg.Pool,
		Slots:       int32(a.cfg.Slots),
		Labels:      a.cfg.Labels,
		GrpcAddr:    a.grpcAddr,
		Version:     a.cfg.Version,
		MemoryBytes: a.cfg.MemoryBytes,
		GossipAddr:  a.GossipAddr(),
	}
	a.mu.Lock()
	if a.localDrain || a.shutdown {
		w.State = nightshiftv1.WorkerState_WORKER_STATE_DRAINING
	}
	a.mu.Unlock()
	return w
}

// registeredWith applies a coordinator's registration answer.
func (a *Agent) registeredWith(resp *nightshiftv1.RegisterResponse) {
	ttl := time.Duration(resp.GetLeaseTtlMs()) * time.Millisecond
	iv := time.Duration(resp.GetHeartbeatIntervalMs()) * time.Millisecond
	if iv <= 0 {
		iv = defaultHeartbeat
		if ttl > 0 {
			iv = min(iv, ttl/3)
		}
	}
	a.mu.Lock()
	a.registered, a.reregister = true, false
	a.hbInterval, a.leaseTTL = iv, ttl
	a.notifyLocked()
	a.mu.Unlock()
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	a.log.Info("registered", "lease_ttl", ttl, "heartbeat_interval", iv)
}
