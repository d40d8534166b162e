package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/worker"
)

// scaler plays KEDA and a Deployment's ReplicaSet for one pool: it scrapes
// the leader's /metrics for nightshift_pool_desired_workers, adds workers
// up to it at once, and removes them only after the signal stayed lower
// for a stabilization window (HPA's scale-down window). A removal is what
// Kubernetes does to a pod: pick the lowest pod-deletion-cost, run the
// preStop hook (POST /drain?wait= on the worker's loopback HTTP), then
// SIGTERM (Worker.Stop).
type scaler struct {
	t      *testing.T
	c      *Cluster
	pool   string
	window time.Duration

	mu       sync.Mutex
	live     []*Worker
	peak     int
	history  []int // every replica count the pool went through
	lowSince time.Time
}

// desired scrapes the leader's metrics endpoint over HTTP, as Prometheus
// does, and returns the pool's desired_workers (-1 when absent).
func (s *scaler) desired() int {
	l := s.c.Leader()
	if l == nil || l.HTTPAddr() == "" {
		return -1
	}
	resp, err := http.Get("http://" + l.HTTPAddr() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	prefix := fmt.Sprintf("nightshift_pool_desired_workers{pool=%q} ", s.pool)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n float64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return int(n)
			}
		}
	}
	return -1
}

func (s *scaler) tick(ctx context.Context) {
	want := s.desired()
	if want < 0 {
		return
	}
	s.mu.Lock()
	n := len(s.live)
	s.mu.Unlock()
	switch {
	case want > n:
		s.lowSince = time.Time{}
		for range want - n {
			w, err := s.c.AddWorker(ctx, nil)
			if err != nil {
				s.t.Errorf("scale up: %v", err)
				return
			}
			s.record(func() { s.live = append(s.live, w) })
		}
	case want < n:
		if s.lowSince.IsZero() {
			s.lowSince = time.Now()
		}
		if time.Since(s.lowSince) < s.window {
			return
		}
		s.lowSince = time.Now() // one pod per window, as a scale-down policy of 1 pod allows
		s.remove(ctx)
	default:
		s.lowSince = time.Time{}
	}
}

// remove deletes the pod Kubernetes would: the lowest deletion cost.
func (s *scaler) remove(ctx context.Context) {
	s.mu.Lock()
	victim := slices.MinFunc(s.live, func(a, b *Worker) int { return int(a.PodDeletionCost()) - int(b.PodDeletionCost()) })
	s.mu.Unlock()
	cost := victim.PodDeletionCost()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+victim.HTTPAddr()+"/drain?wait=20s", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("preStop drain of %s: %v", victim.ID(), err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Errorf("preStop drain of %s: %s %s", victim.ID(), resp.Status, body)
	}
	if err := victim.Stop(); err != nil {
		s.t.Errorf("stopping %s: %v", victim.ID(), err)
	}
	s.t.Logf("removed %s (deletion cost %d)", victim.ID(), cost)
	s.record(func() { s.live = slices.DeleteFunc(s.live, func(w *Worker) bool { return w == victim }) })
}

func (s *scaler) record(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
	s.peak = max(s.peak, len(s.live))
	if len(s.history) == 0 || s.history[len(s.history)-1] != len(s.live) {
		s.history = append(s.history, len(s.live))
	}
}

func (s *scaler) replicas() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// TestPoolScalesByDesiredWorkers: a pool of one worker grows to four when
// a job queues 60 tasks (desired_workers, bounded by max_workers 4) and
// shrinks back to one as the queue empties, the workers removed the
// Kubernetes way (lowest deletion cost, preStop drain, SIGTERM). No task
// is lost: the job succeeds with every task done in exactly one attempt.
func TestPoolScalesByDesiredWorkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Coordinators: 1, Workers: 0, Slots: 2, DataDir: t.TempDir(), Fast: true,
		Coordinator: func(_ int, cfg *coordinator.Config) {
			cfg.HTTPAddr = "127.0.0.1:0"
			cfg.Autoscale.Pools = map[string]coordinator.PoolScale{"default": {MinWorkers: 1, MaxWorkers: 4}}
			cfg.SpeculationMultiplier = 0 // backups would blur "one attempt per task"
		},
		Worker: func(_ int, cfg *worker.Config) { cfg.HTTPAddr = "127.0.0.1:0" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := &scaler{t: t, c: c, pool: "default", window: 600 * time.Millisecond}
	loop := func(until func() bool) {
		t.Helper()
		for !until() {
			if ctx.Err() != nil {
				t.Fatalf("timed out; replicas went through %v", s.history)
			}
			s.tick(ctx)
			time.Sleep(100 * time.Millisecond)
		}
	}
	loop(func() bool { return s.replicas() == 1 }) // min_workers: the idle pool holds one
	jobs, _ := clients(t, c.Addr())
	sub, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: "burst",
		Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 60, SleepMs: 400}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := func() bool {
		j, err := getJob(c, sub.Job.Id)
		return err == nil && j.State != pb.JobState_JOB_STATE_PENDING && j.State != pb.JobState_JOB_STATE_RUNNING
	}
	loop(done)
	loop(func() bool { return s.replicas() == 1 })
	t.Logf("replicas went through %v", s.history)
	if s.peak != 4 {
		t.Errorf("the pool peaked at %d workers, want max_workers 4 (history %v)", s.peak, s.history)
	}
	final, err := getJob(c, sub.Job.Id)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	tasks := 0
	c.Leader().Store().Snapshot().EachTask(final.Id, func(tk *pb.Task) bool {
		tasks++
		if tk.State != pb.TaskState_TASK_STATE_SUCCEEDED || tk.Attempts != 1 {
			t.Errorf("task %d: %s after %d attempts (failures %d, last error %q): scaling lost or repeated it", tk.Index, tk.State, tk.Attempts, tk.Failures, tk.LastError)
		}
		return true
	})
	if tasks != 60 {
		t.Errorf("%d tasks, want 60", tasks)
	}
}
