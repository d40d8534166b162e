package worker

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 15 * time.Second

// fakeCoord is a test double of the coordinator's WorkerService over real
// loopback gRPC: it records every call, hands out scripted assignments in
// order (honouring max_tasks and free_bytes, long-polling like the real
// one) and can fail calls with Unavailable.
type fakeCoord struct {
	nightshiftv1.UnimplementedWorkerServiceServer
	addr string

	mu      sync.Mutex
	changed chan struct{}
	queue   []*nightshiftv1.Assignment

	registers  []*nightshiftv1.RegisterRequest
	heartbeats []*nightshiftv1.HeartbeatRequest
	leases     []*nightshiftv1.LeaseRequest
	reportRPCs int
	delivered  []*nightshiftv1.TaskReport // every report received, repeats included
	seen       map[attemptKey]int         // reports received per attempt

	down        bool // every call fails with Unavailable
	failReports int  // the next n calls carrying reports fail with Unavailable...
	loseAnswers bool // ...after recording them (the answer, not the request, is lost)
	abort       []*nightshiftv1.AttemptRef
	drain       bool
	unknown     int // the next n heartbeats answer unknown_worker
	reject      map[attemptKey]bool
	hbInterval  time.Duration
}

func newFake(t *testing.T) *fakeCoord {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCoord{addr: lis.Addr().String(), changed: make(chan struct{}), reject: map[attemptKey]bool{}, seen: map[attemptKey]int{},
		hbInterval: 50 * time.Millisecond}
	srv := grpc.NewServer()
	nightshiftv1.RegisterWorkerServiceServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return f
}

// update changes the fake's script under its lock and wakes waiters.
func (f *fakeCoord) update(fn func(f *fakeCoord)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
	f.notifyLocked()
}

func (f *fakeCoord) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCoord) add(as ...*nightshiftv1.Assignment) {
	f.update(func(f *fakeCoord) { f.queue = append(f.queue, as...) })
}

// waitFor waits until cond (called under the fake's lock) holds.
func (f *fakeCoord) waitFor(t *testing.T, what string, cond func(f *fakeCoord) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok, ch := cond(f), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
	}
}

// read returns a value computed under the fake's lock.
func read[T any](f *fakeCoord, fn func(f *fakeCoord) T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fn(f)
}

// reportsFor returns the reports received for one attempt.
func (f *fakeCoord) reportsForLocked(job string, task, attempt int32) []*nightshiftv1.TaskReport {
	var out []*nightshiftv1.TaskReport
	for _, r := range f.delivered {
		if keyOf(r.GetAttempt()) == (attemptKey{job, task, attempt}) {
			out = append(out, r)
		}
	}
	return out
}

// distinctLocked counts the attempts that delivered at least one report.
func (f *fakeCoord) distinctLocked() int { return len(f.seen) }

// recordLocked keeps delivered reports.
func (f *fakeCoord) recordLocked(reports []*nightshiftv1.TaskReport) {
	f.delivered = append(f.delivered, reports...)
	for _, r := range reports {
		f.seen[keyOf(r.GetAttempt())]++
	}
}

func (f *fakeCoord) Register(_ context.Context, req *nightshiftv1.RegisterRequest) (*nightshiftv1.RegisterResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "fake: down")
	}
	f.registers = append(f.registers, req)
	f.notifyLocked()
	return &nightshiftv1.RegisterResponse{Worker: req.GetWorker(), LeaseTtlMs: 2000,
		HeartbeatIntervalMs: f.hbInterval.Milliseconds()}, nil
}

func (f *fakeCoord) Heartbeat(_ context.Context, req *nightshiftv1.HeartbeatRequest) (*nightshiftv1.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "fake: down")
	}
	f.heartbeats = append(f.heartbeats, req)
	f.notifyLocked()
	if f.unknown > 0 {
		// As the coordinator: a worker marked down lost its attempts.
		f.unknown--
		return &nightshiftv1.HeartbeatResponse{UnknownWorker: true, Abort: req.GetRunning()}, nil
	}
	resp := &nightshiftv1.HeartbeatResponse{Abort: f.abort, Drain: f.drain}
	f.abort = nil
	return resp, nil
}

// takeReportsLocked records reports and answers them, or fails the call.
func (f *fakeCoord) takeReportsLocked(reports []*nightshiftv1.TaskReport) ([]bool, error) {
	if len(reports) == 0 {
		return nil, nil
	}
	if f.failReports > 0 {
		f.failReports--
		if f.loseAnswers {
			f.recordLocked(reports)
		}
		f.notifyLocked()
		return nil, status.Error(codes.Unavailable, "fake: injected failure")
	}
	f.recordLocked(reports)
	accepted := make([]bool, len(reports))
	for i, r := range reports {
		accepted[i] = !f.reject[keyOf(r.GetAttempt())]
	}
	f.notifyLocked()
	return accepted, nil
}

func (f *fakeCoord) Report(_ context.Context, req *nightshiftv1.ReportRequest) (*nightshiftv1.ReportResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "fake: down")
	}
	f.reportRPCs++
	accepted, err := f.takeReportsLocked(req.GetReports())
	if err != nil {
		return nil, err
	}
	return &nightshiftv1.ReportResponse{Accepted: accepted}, nil
}

func (f *fakeCoord) Lease(ctx context.Context, req *nightshiftv1.LeaseRequest) (*nightshiftv1.LeaseResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "fake: down")
	}
	f.leases = append(f.leases, req)
	accepted, err := f.takeReportsLocked(req.GetReports())
	if err != nil {
		return nil, err
	}
	f.notifyLocked()
	deadline := time.NewTimer(time.Duration(req.GetWaitMs()) * time.Millisecond)
	defer deadline.Stop()
	for {
		if as := f.popLocked(req); len(as) > 0 || f.drain {
			return &nightshiftv1.LeaseResponse{Assignments: as, Accepted: accepted, Drain: f.drain}, nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			f.mu.Lock()
			return &nightshiftv1.LeaseResponse{Accepted: accepted, Drain: f.drain}, nil
		case <-ctx.Done():
			f.mu.Lock()
			return nil, ctx.Err()
		}
		f.mu.Lock()
		if f.down {
			return nil, status.Error(codes.Unavailable, "fake: down")
		}
	}
}

// popLocked hands out queued assignments in order within the request's
// task count and free memory.
func (f *fakeCoord) popLocked(req *nightshiftv1.LeaseRequest) []*nightshiftv1.Assignment {
	var out []*nightshiftv1.Assignment
	free := req.GetFreeBytes()
	for len(f.queue) > 0 && int32(len(out)) < req.GetMaxTasks() {
		as := f.queue[0]
		if req.GetFreeBytes() > 0 {
			if as.GetEstBytes() > free {
				break
			}
			free -= as.GetEstBytes()
		}
		out = append(out, as)
		f.queue = f.queue[1:]
	}
	if len(out) > 0 {
		f.notifyLocked()
	}
	return out
}

// noop returns a no-op assignment.
func noop(job string, task int32, sleepMs int32, failTasks ...int32) *nightshiftv1.Assignment {
	return &nightshiftv1.Assignment{
		Attempt: &nightshiftv1.AttemptRef{JobId: job, Task: task, Attempt: 1},
		Spec: &nightshiftv1.JobSpec{Kind: &nightshiftv1.JobSpec_Noop{Noop: &nightshiftv1.NoopSpec{
			SleepMs: sleepMs, FailTasks: slices.Clone(failTasks)}}},
	}
}

// testConfig is a worker config pointing at the given coordinators.
func testConfig(t *testing.T, id string, coords ...string) Config {
	cfg := TestConfig()
	cfg.ID = id
	cfg.Coordinators = coords
	cfg.Slots = 2
	cfg.LeaseWait = 100 * time.Millisecond
	cfg.DrainGrace = 2 * time.Second
	cfg.FlushTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}

// runAgent starts an agent; the returned stop cancels Run's context and
// returns Run's result. Stop also runs at cleanup if the test did not.
func runAgent(t *testing.T, cfg Config) (*Agent, func() error) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitTimeout):
				t.Errorf("Run did not return within %s of cancel", waitTimeout)
				a.Kill()
				runErr = <-done
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return a, stop
}

// waitUntil polls cond until it holds, failing the test after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Wait(t, waitTimeout, what, cond)
}

// agentState reads the agent's state under its lock.
func agentState[T any](a *Agent, fn func(a *Agent) T) T {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fn(a)
}
