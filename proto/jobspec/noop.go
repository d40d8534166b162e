package jobspec

import pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"

// MaxNoopTasks caps a no-op job (a scheduler benchmark, not a workload).
const MaxNoopTasks = 1_000_000

// Noop validates a no-op spec (tasks that sleep and may fail on purpose,
// for tests and scheduler benchmarks).
func Noop(sp *pb.NoopSpec) error {
	c := newChecker()
	noop(c, sp)
	return c.errs.err()
}

func noop(c checker, sp *pb.NoopSpec) {
	if sp.Tasks < 0 || sp.Tasks > MaxNoopTasks {
		c.bad("tasks", "%d: want 0..%d", sp.Tasks, MaxNoopTasks)
	}
	if sp.SleepMs < 0 || sp.SlowMs < 0 {
		c.bad("sleep_ms", "sleep_ms and slow_ms must be ≥ 0")
	}
	for _, list := range []struct {
		field string
		idx   []int32
	}{{"fail_tasks", sp.FailTasks}, {"slow_tasks", sp.SlowTasks}} {
		for i, t := range list.idx {
			if t < 0 || t >= sp.Tasks {
				c.bad(index(list.field, i), "task %d: want 0..%d", t, sp.Tasks-1)
			}
		}
	}
}
