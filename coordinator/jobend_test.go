package coordinator

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestEndedJobsOncePerEnd applies commands to a bare store: a command that
// moves a job into a terminal state names it in its result; a later
// command touching the finished job, or a retried request, does not.
func TestEndedJobsOncePerEnd(t *testing.T) {
	st := NewStore()
	var index uint64
	apply := func(cmd *pb.Command) *applyResult {
		t.Helper()
		index++
		cmd.Version, cmd.UnixMs = commandVersion, 1_000_000+int64(index)
		res := st.apply(index, cmd)
		if res.err != nil {
			t.Fatalf("apply %T: %v", cmd.Op, res.err)
		}
		return res
	}
	ended := func(res *applyResult) string {
		var ids []string
		for _, j := range res.ended {
			ids = append(ids, j.Id+":"+j.State.String())
		}
		return strings.Join(ids, ",")
	}
	submit := func(id string, tasks int32, requestID string) *applyResult {
		return apply(&pb.Command{RequestId: requestID, Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
			Job: &pb.Job{Id: id, Spec: &pb.JobSpec{MaxAttempts: 1, Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: tasks}}}}, TaskCount: tasks}}})
	}
	batch := func(ops ...*pb.TaskOp) *applyResult {
		return apply(&pb.Command{Op: &pb.Command_TaskBatch{TaskBatch: &pb.TaskBatch{Ops: ops}}})
	}
	lease := func(job string, task int32) *pb.TaskOp {
		return &pb.TaskOp{JobId: job, Task: task, WorkerId: "w1", Op: &pb.TaskOp_Lease{Lease: &pb.LeaseOp{}}}
	}
	succeed := func(job string, task int32) *pb.TaskOp {
		return &pb.TaskOp{JobId: job, Task: task, Attempt: 1, WorkerId: "w1",
			Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{Rows: 5}}}}
	}
	cancel := func(id string) *applyResult {
		return apply(&pb.Command{Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: id}}})
	}
	apply(&pb.Command{Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: "w1", Pool: "default", Slots: 8}}}})

	for _, step := range []struct {
		name string
		res  func() *applyResult
		want string
	}{
		{"a job of no tasks ends at submission", func() *applyResult { return submit("empty", 0, "req-1") }, "empty:JOB_STATE_SUCCEEDED"},
		{"its retried submission", func() *applyResult { return submit("empty", 0, "req-1") }, ""},
		{"a job of two tasks starts", func() *applyResult { return submit("two", 2, "") }, ""},
		{"its leases", func() *applyResult { return batch(lease("two", 0), lease("two", 1)) }, ""},
		{"its first task", func() *applyResult { return batch(succeed("two", 0)) }, ""},
		{"its last task", func() *applyResult { return batch(succeed("two", 1)) }, "two:JOB_STATE_SUCCEEDED"},
		{"a retried report", func() *applyResult { return batch(succeed("two", 1)) }, ""},
		{"a job cancelled", func() *applyResult { submit("gone", 1, ""); return cancel("gone") }, "gone:JOB_STATE_CANCELLED"},
		{"cancelled again", func() *applyResult { return cancel("gone") }, ""},
		{"a task failing for good", func() *applyResult {
			submit("bad", 1, "")
			batch(lease("bad", 0))
			return batch(&pb.TaskOp{JobId: "bad", Task: 0, Attempt: 1, WorkerId: "w1",
				Op: &pb.TaskOp_Fail{Fail: &pb.FailOp{Error: "boom", Permanent: true}}})
		}, "bad:JOB_STATE_FAILED"},
		{"two jobs ended by one batch", func() *applyResult {
			submit("x", 1, "")
			submit("y", 1, "")
			batch(lease("x", 0), lease("y", 0))
			return batch(succeed("y", 0), succeed("x", 0))
		}, "x:JOB_STATE_SUCCEEDED,y:JOB_STATE_SUCCEEDED"},
	} {
		if got := ended(step.res()); got != step.want {
			t.Errorf("%s: ended %q, want %q", step.name, got, step.want)
		}
	}
}

// nodeLogs keeps each coordinator's log apart.
type nodeLogs struct {
	mu  sync.Mutex
	buf map[string]*bytes.Buffer
}

type nodeWriter struct {
	l  *nodeLogs
	id string
}

func (w nodeWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.buf[w.id].Write(p)
}

func (l *nodeLogs) logger(id string) *slog.Logger {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf[id] = &bytes.Buffer{}
	return slog.New(slog.NewTextHandler(nodeWriter{l, id}, nil))
}

// lines returns a node's log lines holding every one of parts.
func (l *nodeLogs) lines(id string, parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(l.buf[id].String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// TestJobEndLoggedOnceByLeader runs jobs to their end on a 3-voter cluster
// (one of no tasks, one worked through the worker API, one cancelled) and
// checks that each end is logged in exactly one line, by the leader, with
// its state, duration and counts, and not at all by the followers.
func TestJobEndLoggedOnceByLeader(t *testing.T) {
	logs := &nodeLogs{buf: map[string]*bytes.Buffer{}}
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Logger = logs.logger(cfg.ID) })
	l := c.waitLeader()
	conn := dial(t, l.Addr())
	jobs, workers := pb.NewJobServiceClient(conn), pb.NewWorkerServiceClient(conn)
	submit := func(name string, tasks int32) string {
		return callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
			return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: name, Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: tasks}}}})
		}).Job.Id
	}
	empty := submit("empty", 0)
	worked := submit("worked", 3)
	cancelled := submit("cancelled", 2)
	callRetry(t, func(ctx context.Context) (*pb.CancelJobResponse, error) {
		return jobs.CancelJob(ctx, &pb.CancelJobRequest{Id: cancelled, Reason: "test"})
	})
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return workers.Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 8}})
	})
	var reports []*pb.TaskReport
	testkit.Wait(t, 20*time.Second, "job worked to finish", func() bool {
		resp, err := workers.Lease(context.Background(), &pb.LeaseRequest{WorkerId: "w1", MaxTasks: 8, Reports: reports, WaitMs: 100})
		if err != nil {
			return false
		}
		reports = nil
		for _, as := range resp.Assignments {
			reports = append(reports, &pb.TaskReport{Attempt: as.Attempt, Outcome: &pb.TaskReport_Success{Success: &pb.TaskResult{Rows: 7}}})
		}
		j, err := jobs.GetJob(context.Background(), &pb.GetJobRequest{Id: worked})
		return err == nil && j.Job.State == pb.JobState_JOB_STATE_SUCCEEDED
	})
	ids := []string{empty, worked, cancelled}
	for _, s := range c.nodes {
		testkit.Wait(t, 10*time.Second, "every job to end on "+s.ID(), func() bool {
			v := s.Store().Snapshot()
			for _, id := range ids {
				if j := v.Job(id); j == nil || !terminal(j.State) {
					return false
				}
			}
			return true
		})
	}
	// The leader logs before the proposer hears back, so the lines are
	// there once the calls returned; wait anyway, not to race the writer.
	count := func(id string) (n int, by string) {
		for _, s := range c.nodes {
			if k := len(logs.lines(s.ID(), `msg="job ended"`, "job="+id)); k > 0 {
				n, by = n+k, s.ID()
			}
		}
		return n, by
	}
	testkit.Wait(t, 10*time.Second, "a job-end line for every job", func() bool {
		for _, id := range ids {
			if n, _ := count(id); n == 0 {
				return false
			}
		}
		return true
	})
	want := map[string][]string{
		empty:     {"state=succeeded", "tasks_succeeded=0", "tasks_total=0", "name=empty", "duration="},
		worked:    {"state=succeeded", "tasks_succeeded=3", "tasks_total=3", "rows=21", "name=worked"},
		cancelled: {"state=cancelled", "tasks_succeeded=0", "tasks_total=2", `error="cancelled: test"`},
	}
	for _, id := range ids {
		n, by := count(id)
		if n != 1 {
			t.Errorf("job %s: %d job-end lines in the cluster, want 1", id, n)
			continue
		}
		// Leadership may move under load; whoever logged must have led.
		if len(logs.lines(by, "gained leadership")) == 0 {
			t.Errorf("job %s: logged by %s, which never led", id, by)
		}
		line := logs.lines(by, `msg="job ended"`, "job="+id)[0]
		t.Log(line)
		for _, w := range want[id] {
			if !strings.Contains(line, w) {
				t.Errorf("job %s: line %q lacks %q", id, line, w)
			}
		}
	}
	for _, s := range c.nodes {
		if s.ID() != l.ID() && len(logs.lines(s.ID(), "gained leadership")) == 0 {
			if got := logs.lines(s.ID(), `msg="job ended"`); len(got) != 0 {
				t.Errorf("follower %s logged job ends: %q", s.ID(), got)
			}
		}
	}
}
