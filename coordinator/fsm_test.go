package coordinator

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

// fsmHarness applies commands to a bare store, as Raft would.
type fsmHarness struct {
	t     *testing.T
	store *Store
	index uint64
	now   int64
	late  int64 // schedule ticks: how late a slot may be and be on time (0: a minute)
}

func newHarness(t *testing.T) *fsmHarness {
	return &fsmHarness{t: t, store: NewStore(), now: 1_000_000}
}

func (h *fsmHarness) apply(cmd *pb.Command) *applyResult {
	h.t.Helper()
	h.index++
	cmd.Version, cmd.UnixMs = commandVersion, h.now
	// Round-trip through bytes, as the log does.
	data, err := proto.Marshal(cmd)
	if err != nil {
		h.t.Fatal(err)
	}
	dec, err := DecodeCommand(data)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.store.apply(h.index, dec)
}

func (h *fsmHarness) submit(id string, tasks int32, key string) *applyResult {
	return h.apply(&pb.Command{Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
		Job:       &pb.Job{Id: id, Spec: &pb.JobSpec{IdempotencyKey: key, MaxAttempts: 2, Kind: &pb.JobSpec_Score{Score: &pb.ScoreSpec{}}}},
		TaskCount: tasks, TaskRows: repeat(tasks, 10)}}})
}

func repeat(n int32, v int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func (h *fsmHarness) register(id string) {
	h.t.Helper()
	if r := h.apply(&pb.Command{Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: id, Pool: "default", Slots: 4}}}}); r.err != nil {
		h.t.Fatal(r.err)
	}
}

func (h *fsmHarness) ops(ops ...*pb.TaskOp) []*pb.TaskOpResult {
	h.t.Helper()
	r := h.apply(&pb.Command{Op: &pb.Command_TaskBatch{TaskBatch: &pb.TaskBatch{Ops: ops}}})
	if r.err != nil {
		h.t.Fatal(r.err)
	}
	return r.batch.Results
}

func leaseOp(job string, task int32, worker string, spec bool) *pb.TaskOp {
	return &pb.TaskOp{JobId: job, Task: task, WorkerId: worker, Op: &pb.TaskOp_Lease{Lease: &pb.LeaseOp{Speculative: spec}}}
}

func succeedOp(job string, task, attempt int32, worker, object string) *pb.TaskOp {
	return &pb.TaskOp{JobId: job, Task: task, Attempt: attempt, WorkerId: worker,
		Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{Object: object, Rows: 10}}}}
}

func failOp(job string, task, attempt int32, worker string, permanent bool) *pb.TaskOp {
	return &pb.TaskOp{JobId: job, Task: task, Attempt: attempt, WorkerId: worker,
		Op: &pb.TaskOp_Fail{Fail: &pb.FailOp{Error: "boom in part-0007.arrow", Permanent: permanent, RetryBaseMs: 100, RetryMaxMs: 1000}}}
}

func expireOp(job string, task, attempt int32, worker string) *pb.TaskOp {
	return &pb.TaskOp{JobId: job, Task: task, Attempt: attempt, WorkerId: worker, Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "test"}}}
}

func TestFSMJobLifecycle(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.register("w2")
	if r := h.submit("j1", 2, "k"); r.err != nil || !r.created || r.job.State != pb.JobState_JOB_STATE_RUNNING || r.job.RowsTotal != 20 {
		t.Fatalf("submit: %+v", r)
	}
	if r := h.submit("j2", 2, "k"); r.err != nil || r.created || r.job.Id != "j1" {
		t.Fatalf("idempotency key must return j1, got %+v", r)
	}
	res := h.ops(leaseOp("j1", 0, "w1", false), leaseOp("j1", 0, "w2", false), leaseOp("j1", 1, "w2", false))
	if !res[0].Ok || res[0].Attempt != 1 || res[1].Ok || !res[2].Ok {
		t.Fatalf("leases: %v", res)
	}
	// A speculative backup on another worker; the first success wins.
	res = h.ops(leaseOp("j1", 0, "w2", true))
	if !res[0].Ok || res[0].Attempt != 2 {
		t.Fatalf("speculative lease: %v", res)
	}
	res = h.ops(succeedOp("j1", 0, 2, "w2", scoreout.AttemptKey(0, 2, "parquet")), succeedOp("j1", 0, 1, "w1", scoreout.AttemptKey(0, 1, "parquet")))
	if !res[0].Ok || res[1].Ok {
		t.Fatalf("first success must win, the loser be rejected: %v", res)
	}
	// A retried report of the winner is accepted again (idempotent).
	if res = h.ops(succeedOp("j1", 0, 2, "w2", "x")); !res[0].Ok {
		t.Fatalf("retried report: %v", res)
	}
	h.ops(succeedOp("j1", 1, 1, "w2", scoreout.AttemptKey(1, 1, "parquet")))
	v := h.store.Snapshot()
	j := v.Job("j1")
	if j.State != pb.JobState_JOB_STATE_FINALIZING || j.TasksSucceeded != 2 || j.RowsDone != 20 || j.Speculative != 1 {
		t.Fatalf("job after all tasks: %v", j)
	}
	if got := v.Task("j1", 0).Result.Object; got != scoreout.AttemptKey(0, 2, "parquet") {
		t.Fatalf("committed object %q, want the winner's", got)
	}
	r := h.apply(&pb.Command{Op: &pb.Command_FinishJob{FinishJob: &pb.FinishJob{JobId: "j1", Succeeded: true, ResultUri: "file:///x/" + scoreout.ManifestName}}})
	if r.err != nil || r.job.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("finish: %+v", r)
	}
}

func TestFSMRetriesThenFails(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.submit("j", 1, "")
	h.ops(leaseOp("j", 0, "w1", false))
	h.ops(failOp("j", 0, 1, "w1", false))
	task := h.store.Snapshot().Task("j", 0)
	if task.State != pb.TaskState_TASK_STATE_PENDING || task.NotBeforeUnixMs != h.now+100 {
		t.Fatalf("after one failure: %v", task)
	}
	if res := h.ops(leaseOp("j", 0, "w1", false)); res[0].Ok {
		t.Fatal("leased during backoff")
	}
	h.now += 100
	h.ops(leaseOp("j", 0, "w1", false))
	h.ops(failOp("j", 0, 2, "w1", false))
	j := h.store.Snapshot().Job("j")
	if j.State != pb.JobState_JOB_STATE_FAILED || !strings.Contains(j.Error, "shard 0 failed 2 times") || !strings.Contains(j.Error, "part-0007.arrow") {
		t.Fatalf("job after max attempts: state %s error %q", j.State, j.Error)
	}
}

func TestFSMPermanentFailureIsNotRetried(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.submit("j", 3, "")
	h.ops(leaseOp("j", 0, "w1", false), leaseOp("j", 1, "w1", false))
	h.ops(failOp("j", 1, 1, "w1", true))
	v := h.store.Snapshot()
	j := v.Job("j")
	if j.State != pb.JobState_JOB_STATE_FAILED || !strings.HasPrefix(j.Error, "shard 1: boom") {
		t.Fatalf("job: %s %q", j.State, j.Error)
	}
	for _, task := range v.Tasks("j") {
		if task.Index != 1 && (task.State != pb.TaskState_TASK_STATE_CANCELLED || len(task.Active) != 0) {
			t.Fatalf("task %d left %s with %d attempts", task.Index, task.State, len(task.Active))
		}
	}
	// The cancelled attempt's late success is rejected.
	if res := h.ops(succeedOp("j", 0, 1, "w1", "o")); res[0].Ok {
		t.Fatal("late report of a cancelled task accepted")
	}
}

func TestFSMExpiryAndZombieReport(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.register("w2")
	h.submit("j", 1, "")
	h.ops(leaseOp("j", 0, "w1", false))
	h.ops(expireOp("j", 0, 1, "w1"))
	h.ops(leaseOp("j", 0, "w2", false))
	if res := h.ops(succeedOp("j", 0, 1, "w1", "zombie")); res[0].Ok {
		t.Fatal("the zombie attempt's report was accepted")
	}
	h.ops(succeedOp("j", 0, 2, "w2", "winner"))
	if got := h.store.Snapshot().Task("j", 0).Result.Object; got != "winner" {
		t.Fatalf("committed %q", got)
	}
}

func TestFSMWorkerDownExpiresItsAttempts(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.submit("j", 2, "")
	h.ops(leaseOp("j", 0, "w1", false), leaseOp("j", 1, "w1", false))
	h.apply(&pb.Command{Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{WorkerId: "w1", State: pb.WorkerState_WORKER_STATE_DOWN}}})
	for _, task := range h.store.Snapshot().Tasks("j") {
		if task.State != pb.TaskState_TASK_STATE_PENDING || len(task.Active) != 0 {
			t.Fatalf("task %d: %s", task.Index, task.State)
		}
	}
	if res := h.ops(leaseOp("j", 0, "w1", false)); res[0].Ok {
		t.Fatal("a down worker got a lease")
	}
}

func TestFSMDrainKeepsWorkerDrainingAcrossRegister(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.apply(&pb.Command{Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{WorkerId: "w1", State: pb.WorkerState_WORKER_STATE_DRAINING}}})
	h.register("w1")
	if st := h.store.Snapshot().Worker("w1").State; st != pb.WorkerState_WORKER_STATE_DRAINING {
		t.Fatalf("state %s", st)
	}
	h.submit("j", 1, "")
	if res := h.ops(leaseOp("j", 0, "w1", false)); res[0].Ok {
		t.Fatal("a draining worker got a lease")
	}
}

func TestFSMRequestIDAppliesOnce(t *testing.T) {
	h := newHarness(t)
	cmd := func() *pb.Command {
		return &pb.Command{RequestId: "req-1", Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
			Job: &pb.Job{Id: "a", Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{}}}}, TaskCount: 1}}}
	}
	first := h.apply(cmd())
	retry := cmd()
	retry.GetSubmitJob().Job.Id = "b" // a retry after leadership loss carries a fresh leader-stamped ID
	second := h.apply(retry)
	if first.err != nil || second.err != nil || second.job.GetId() != "a" || len(h.store.Snapshot().Jobs()) != 1 {
		t.Fatalf("retried request applied twice: %+v %+v", first, second)
	}
	// Past the window the ID is forgotten.
	h.now += requestWindowMs + 1
	h.apply(&pb.Command{RequestId: "req-2", Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: "a"}}})
	if h.store.Snapshot().Request("req-1") != nil {
		t.Fatal("request ID not pruned after the window")
	}
}

func TestFSMCancel(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.submit("j", 2, "")
	h.ops(leaseOp("j", 0, "w1", false))
	r := h.apply(&pb.Command{Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: "j", Reason: "operator"}}})
	if r.err != nil || r.job.State != pb.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("%+v", r)
	}
	if n := len(h.store.Snapshot().ActiveJobs()); n != 0 {
		t.Fatalf("%d active jobs after cancel", n)
	}
}

func TestFSMRejectsUnknownVersionAndOp(t *testing.T) {
	if _, err := DecodeCommand([]byte{0x08, 0x02}); err == nil { // version 2
		t.Fatal("version 2 accepted")
	}
	data, _ := proto.Marshal(&pb.Command{Version: commandVersion})
	if _, err := DecodeCommand(data); err == nil {
		t.Fatal("command without op accepted")
	}
}

// TestSnapshotRoundTrip persists every table and restores it into a fresh
// store: the restored state is identical, table by table.
func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.apply(&pb.Command{RequestId: "r1", Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: "w2", Pool: "gpu", Slots: 1, Labels: map[string]string{"zone": "a"}}}}})
	h.submit("j1", 3, "key")
	h.ops(leaseOp("j1", 0, "w1", false), leaseOp("j1", 1, "w1", false))
	h.ops(succeedOp("j1", 0, 1, "w1", "o"), failOp("j1", 1, 1, "w1", false))
	h.registerCompared(modelVersion("churn", "j0", map[string]float64{"logloss": 0.3}))
	h.registerCompared(modelVersion("churn", "j1", map[string]float64{"logloss": 0.2}))
	h.now = t0
	h.putSchedule("nightly", "none", "skip")
	h.tick("nightly", t0+5*minute) // late slots: missed, with alerts
	h.apply(&pb.Command{Op: &pb.Command_PutToken{PutToken: &pb.PutToken{Bootstrap: true,
		Token: &pb.Token{Id: "abc", Name: "ops", Role: "admin", SecretSha256: []byte{1, 2, 3}}}}})
	installKey(h, gossipKey('n'))
	f := &fsm{store: h.store}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, snap.(*snapshot).txn); err != nil {
		t.Fatal(err)
	}
	restored := &fsm{store: NewStore()}
	if err := restored.Restore(nopCloser{&buf}); err != nil {
		t.Fatal(err)
	}
	a, b := h.store.Snapshot(), restored.store.Snapshot()
	// Every table of the schema: a new table must be snapshotted (and
	// given objects here) to pass.
	for table := range schema().Tables {
		var want, got []any
		_ = all(a.txn, table, func(o any) error { want = append(want, o); return nil })
		_ = all(b.txn, table, func(o any) error { got = append(got, o); return nil })
		if len(want) == 0 || len(want) != len(got) {
			t.Fatalf("table %s: %d objects, restored %d", table, len(want), len(got))
		}
		for i := range want {
			if !proto.Equal(want[i].(proto.Message), got[i].(proto.Message)) {
				t.Fatalf("table %s object %d differs:\n%v\n%v", table, i, want[i], got[i])
			}
		}
	}
	// Secondary indexes are rebuilt too.
	if b.JobByKey("key") == nil || len(b.ActiveJobs()) != 1 || b.Model("churn").GetAliases()[aliasProduction] != 2 {
		t.Fatal("indexes not rebuilt on restore")
	}
	if err := restored.Restore(nopCloser{strings.NewReader("garbage")}); err == nil {
		t.Fatal("garbage restored")
	}
}

type nopCloser struct {
	r interface{ Read([]byte) (int, error) }
}

func (n nopCloser) Read(p []byte) (int, error) { return n.r.Read(p) }
func (n nopCloser) Close() error               { return nil }

func TestFSMForgetJobsDropsOnlyFinishedJobs(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.submit("done", 2, "key-done")
	h.submit("live", 2, "key-live")
	h.apply(&pb.Command{Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: "done"}}})
	h.apply(&pb.Command{Op: &pb.Command_ForgetJobs{ForgetJobs: &pb.ForgetJobs{JobIds: []string{"done", "live", "nope"}}}})
	v := h.store.Snapshot()
	if v.Job("done") != nil || len(v.Tasks("done")) != 0 || v.JobByKey("key-done") != nil {
		t.Fatal("the finished job, its tasks or its key survived GC")
	}
	if v.Job("live") == nil || len(v.Tasks("live")) != 2 {
		t.Fatal("GC dropped a running job")
	}
	// The key is free again: the same key makes a new job.
	if r := h.submit("again", 1, "key-done"); !r.created || r.job.Id != "again" {
		t.Fatalf("resubmission after GC: %+v", r)
	}
}

func TestPermanentPublishErrors(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", scoreout.ErrBadCommit):   true,
		fmt.Errorf("x: %w", shard.ErrEmpty):          true,
		fmt.Errorf("x: %w", shard.ErrTooManyBadRows): true,
		fmt.Errorf("x: %w", storage.ErrNotFound):     false,
		errors.New("connection reset by peer"):       false,
	} {
		if got := permanentPublishError(err); got != want {
			t.Errorf("%v: permanent %v, want %v", err, got, want)
		}
	}
}
