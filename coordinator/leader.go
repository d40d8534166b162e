package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// leaderState is what the leader loops keep in memory for one term. None
// of it is needed for correctness: a new leader rebuilds it from state.
type leaderState struct {
	mu sync.Mutex
	// leasing holds tasks with a lease proposed but not yet applied, so two
	// concurrent lease calls do not pick the same task.
	leasing map[attemptKey]bool
	// speculate holds running tasks that deserve a backup attempt.
	speculate map[attemptKey]string // task → worker holding the slow attempt
	// finalizing holds jobs whose output is being published.
	finalizing map[string]bool
}

func newLeaderState() *leaderState {
	return &leaderState{leasing: map[attemptKey]bool{}, speculate: map[attemptKey]string{}, finalizing: map[string]bool{}}
}

// monitorLeadership starts the leader loops when this node gains
// leadership and stops them when it loses it.
func (s *Server) monitorLeadership() {
	defer s.wg.Done()
	for {
		select {
		case lead := <-s.raft.notify:
			if lead {
				s.startLeading()
			} else {
				s.stopLeading()
			}
		case <-s.stop:
			return
		}
	}
}

func (s *Server) startLeading() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.leaderCancel, s.leaderDone = cancel, make(chan struct{})
	s.leaderState = newLeaderState()
	s.metrics.leader.Set(1)
	s.log.Info("gained leadership")
	done := s.leaderDone
	go func() {
		defer close(done)
		// Barrier: apply everything earlier leaders committed before acting on state.
		if err := s.raft.raft.Barrier(applyTimeout).Error(); err != nil {
			s.log.Warn("leader barrier failed; stepping back", "err", err)
			return
		}
		s.hb.reset()
		now := time.Now()
		for _, w := range s.store.Snapshot().Workers() {
			if w.State != pb.WorkerState_WORKER_STATE_DOWN {
				s.hb.seen(w.Id, now) // one TTL of grace for every worker
			}
		}
		var wg sync.WaitGroup
		for _, loop := range []func(context.Context){s.leaseLoop, s.speculationLoop, s.finalizeLoop, s.gcLoop, s.sweepLoop, s.groupLoop, s.scheduleLoop, s.pipelineLoop, s.alertLoop,
			s.addLoop, s.pilot.run, s.initialTokenLoop} {
			wg.Add(1)
			go func() { defer wg.Done(); loop(ctx) }()
		}
		wg.Wait()
	}()
}

func (s *Server) stopLeading() {
	s.leaderMu.Lock()
	cancel, done := s.leaderCancel, s.leaderDone
	s.leaderCancel, s.leaderDone = nil, nil
	s.leaderMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	s.metrics.leader.Set(0)
	s.log.Info("lost leadership")
}

// leader returns this term's memory, or nil when not leading.
func (s *Server) leading() *leaderState {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel == nil || s.raft.raft.State() != raft.Leader {
		return nil
	}
	return s.leaderState
}

// onGossip reacts to membership: a worker gossip declares dead or gone has
// its attempts expired at once (when this node leads).
func (s *Server) onGossip(m gossip.Member) {
	if m.Alive() || m.MetaErr != nil || m.Meta.Role != gossip.RoleWorker {
		return
	}
	if s.leading() == nil {
		return
	}
	go s.markDown(context.Background(), m.Meta.ID, "gossip: worker "+m.State)
}

// markDown commits a worker's DOWN state, which expires its attempts.
func (s *Server) markDown(ctx context.Context, id, reason string) {
	w := s.store.Snapshot().Worker(id)
	if w == nil || w.State == pb.WorkerState_WORKER_STATE_DOWN {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	_, err := s.apply(ctx, &pb.Command{Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{
		WorkerId: id, State: pb.WorkerState_WORKER_STATE_DOWN, Reason: reason}}})
	if err != nil {
		s.log.Warn("mark worker down", "worker", id, "err", err)
		return
	}
	s.hb.forget(id)
	s.log.Info("worker down; its attempts are requeued", "worker", id, "reason", reason)
}

// leaseLoop expires attempts whose lease ran out and marks down workers
// that stopped heartbeating.
func (s *Server) leaseLoop(ctx context.Context) {
	every(ctx, max(s.cfg.HeartbeatInterval/2, 20*time.Millisecond), func() bool {
		s.expireLeases(ctx)
		s.checkWorkers(ctx)
		return true
	})
}

// every calls fn every d until ctx ends or fn returns false: the shape of
// every leader loop.
func every(ctx context.Context, d time.Duration, fn func() bool) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !fn() {
			return
		}
	}
}

func (s *Server) expireLeases(ctx context.Context) {
	now, ttl := time.Now(), s.cfg.LeaseTTL
	live := map[attemptKey]bool{}
	var ops []*pb.TaskOp
	s.store.Snapshot().Running(func(t *pb.Task) bool {
		for _, at := range t.Active {
			k := attemptKey{t.JobId, t.Index, at.Number}
			live[k] = true
			if s.hb.expired(k, now, ttl) {
				ops = append(ops, &pb.TaskOp{JobId: t.JobId, Task: t.Index, Attempt: at.Number, WorkerId: at.WorkerId,
					Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "lease expired: no heartbeat for " + ttl.String()}}})
			}
		}
		return true
	})
	s.hb.prune(live)
	if len(ops) == 0 {
		return
	}
	res, err := s.batch.submit(ctx, ops)
	if err != nil {
		s.log.Warn("expire leases", "err", err)
		return
	}
	for i, r := range res {
		if r.Ok {
			s.metrics.expired.Inc()
			s.log.Info("lease expired", "job", ops[i].JobId, "task", ops[i].Task, "attempt", ops[i].Attempt, "worker", ops[i].WorkerId)
		}
	}
}

func (s *Server) checkWorkers(ctx context.Context) {
	now := time.Now()
	for _, w := range s.store.Snapshot().Workers() {
		if w.State == pb.WorkerState_WORKER_STATE_DOWN {
			continue
		}
		last := s.hb.lastSeen(w.Id)
		if last.IsZero() {
			s.hb.seen(w.Id, now)
			continue
		}
		if now.Sub(last) > s.cfg.LeaseTTL {
			s.markDown(ctx, w.Id, "no heartbeat for "+now.Sub(last).Round(time.Millisecond).String())
		}
	}
}
