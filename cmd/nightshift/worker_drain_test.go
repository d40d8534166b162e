package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestWorkerDrainOnRealWorker drains a worker of an in-process cluster
// while it runs two tasks: a short --wait fails naming what still runs;
// a long one, made of many short calls (drainCallWait lowered), ends once
// the tasks finished; the tasks succeed, and the drained worker leases
// nothing more.
func TestWorkerDrainOnRealWorker(t *testing.T) {
	c, err := cluster.Start(context.Background(), cluster.Options{Workers: 1, Slots: 2, DataDir: t.TempDir(), Fast: true,
		Worker: func(_ int, cfg *worker.Config) { cfg.HTTPAddr = "127.0.0.1:0" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := c.Workers[0]
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	jobs := pb.NewJobServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 2, SleepMs: 2000}}}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 10*time.Second, "both tasks running", func() bool { return w.Running() == 2 })

	_, err = run(t, "worker", "drain", "--http", w.HTTPAddr(), "--wait", "1ms")
	if err == nil || !strings.Contains(err.Error(), "still busy") || !strings.Contains(err.Error(), "2 still running") {
		t.Fatalf("drain --wait 1ms while 2 tasks run: %v; want an error naming 2 still running", err)
	}

	defer func(d time.Duration) { drainCallWait = d }(drainCallWait)
	drainCallWait = 200 * time.Millisecond
	out, err := run(t, "worker", "drain", "--http", w.HTTPAddr(), "--wait", "20s")
	if err != nil || !strings.Contains(out, "drained") {
		t.Fatalf("drain --wait 20s: %q, %v; want drained", out, err)
	}
	if n := w.Running(); n != 0 {
		t.Fatalf("drained, yet %d attempts run", n)
	}
	testkit.Wait(t, 10*time.Second, "the job to succeed", func() bool {
		j, err := jobs.GetJob(ctx, &pb.GetJobRequest{Id: sub.GetJob().GetId()})
		return err == nil && j.GetJob().GetState() == pb.JobState_JOB_STATE_SUCCEEDED
	})

	// Drained for good: a new job's task waits for another worker.
	sub2, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	j, err := jobs.GetJob(ctx, &pb.GetJobRequest{Id: sub2.GetJob().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if j.GetJob().GetState() == pb.JobState_JOB_STATE_SUCCEEDED || w.Running() != 0 {
		t.Fatalf("a drained worker ran a new job (state %s)", j.GetJob().GetState())
	}
}

// drainServer plays a worker's /drain: it answers the scripted codes in
// order (the last one for ever) and records the calls.
type drainServer struct {
	mu    sync.Mutex
	codes []int
	calls []string // the raw queries
	srv   *httptest.Server
}

func newDrainServer(t *testing.T, codes ...int) *drainServer {
	d := &drainServer{codes: codes}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/drain" {
			t.Errorf("%s %s; want POST /drain", r.Method, r.URL.Path)
		}
		d.calls = append(d.calls, r.URL.RawQuery)
		code := d.codes[min(len(d.calls), len(d.codes))-1]
		w.WriteHeader(code)
		switch code {
		case http.StatusOK:
			_, _ = w.Write([]byte("drained\n"))
		case http.StatusAccepted:
			_, _ = w.Write([]byte("draining: 3 still running\n"))
		default:
			_, _ = w.Write([]byte("POST /drain is accepted only from loopback\n"))
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *drainServer) addr() string { return strings.TrimPrefix(d.srv.URL, "http://") }

func (d *drainServer) queries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func TestWorkerDrainCLI(t *testing.T) {
	t.Run("keeps asking until drained", func(t *testing.T) {
		d := newDrainServer(t, http.StatusAccepted, http.StatusAccepted, http.StatusOK)
		out, err := run(t, "worker", "drain", "--http", d.addr(), "--wait", "1m")
		if err != nil || !strings.Contains(out, "drained") {
			t.Fatalf("%q, %v; want drained", out, err)
		}
		q := d.queries()
		if len(q) != 3 || q[0] != "wait=30s" {
			t.Fatalf("calls %v; want 3, each waiting 30s at most", q)
		}
	})
	t.Run("still running when --wait is spent", func(t *testing.T) {
		d := newDrainServer(t, http.StatusAccepted)
		start := time.Now()
		_, err := run(t, "worker", "drain", "--http", d.addr(), "--wait", "1500ms")
		if err == nil || !strings.Contains(err.Error(), "still busy after --wait 1.5s: draining: 3 still running") {
			t.Fatalf("err %v; want still busy, naming what runs", err)
		}
		if took := time.Since(start); took < 1500*time.Millisecond || took > 10*time.Second {
			t.Errorf("gave up after %s with --wait 1.5s", took)
		}
		if n := len(d.queries()); n < 2 || n > 5 {
			t.Errorf("%d calls to a worker that answers at once; want a few, not a spin", n)
		}
	})
	t.Run("--wait 0 only starts the drain", func(t *testing.T) {
		d := newDrainServer(t, http.StatusAccepted)
		out, err := run(t, "worker", "drain", "--http", d.addr(), "--wait", "0")
		if err != nil || !strings.Contains(out, "drain started") || !strings.Contains(out, "3 still running") {
			t.Fatalf("%q, %v", out, err)
		}
		if q := d.queries(); len(q) != 1 || q[0] != "wait=0s" {
			t.Fatalf("calls %v; want one with wait=0s", q)
		}
	})
	t.Run("refused", func(t *testing.T) {
		d := newDrainServer(t, http.StatusForbidden)
		_, err := run(t, "worker", "drain", "--http", d.addr())
		if err == nil || !strings.Contains(err.Error(), "403 Forbidden: POST /drain is accepted only from loopback") {
			t.Fatalf("err %v; want the 403 and its reason", err)
		}
	})
	t.Run("no worker", func(t *testing.T) {
		out, err := run(t, "worker", "drain", "--http", testkit.DeadAddr(t), "--wait", "5s")
		if err != nil || !strings.Contains(out, "nothing to drain") {
			t.Fatalf("%q, %v; want exit 0, nothing to drain", out, err)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		if _, err := run(t, "worker", "drain", "--http", "7203"); err == nil || !strings.Contains(err.Error(), "host:port") {
			t.Errorf("--http 7203: %v", err)
		}
		if _, err := run(t, "worker", "drain", "--wait", "-1s"); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("--wait -1s: %v", err)
		}
	})
}

func TestWorkerDrainURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:7203":        "http://127.0.0.1:7203/drain",
		"0.0.0.0:7203":          "http://127.0.0.1:7203/drain",
		":7203":                 "http://127.0.0.1:7203/drain",
		"[::]:7203":             "http://[::1]:7203/drain",
		"http://localhost:7203": "http://localhost:7203/drain",
	} {
		if got, err := drainURL(in); err != nil || got != want {
			t.Errorf("drainURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestWorkerConfigPodDeletionCost: pod_deletion_cost defaults to false,
// is read from the file, and needs POD_NAME to validate.
func TestWorkerConfigPodDeletionCost(t *testing.T) {
	cfg, _, err := loadWorkerConfig(writeConfig(t, "id: w1\ncoordinators: [127.0.0.1:7100]\n"))
	if err != nil || cfg.PodDeletionCost {
		t.Fatalf("default: %v, %v; want false", cfg.PodDeletionCost, err)
	}
	path := writeConfig(t, "id: w1\ncoordinators: [127.0.0.1:7100]\npod_deletion_cost: true\n")
	if cfg, _, err = loadWorkerConfig(path); err != nil || !cfg.PodDeletionCost {
		t.Fatalf("pod_deletion_cost: true: %v, %v", cfg.PodDeletionCost, err)
	}
	t.Setenv("POD_NAME", "")
	if _, err := run(t, "worker", "--config", path, "--check"); err == nil || !strings.Contains(err.Error(), "POD_NAME") {
		t.Fatalf("--check without POD_NAME: %v; want an error naming POD_NAME", err)
	}
	t.Setenv("POD_NAME", "worker-abc")
	if _, err := run(t, "worker", "--config", path, "--check"); err != nil {
		t.Fatal(err)
	}
}
