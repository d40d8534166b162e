package coordinator

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// stateCollector exports what the replicated state says at scrape time —
// jobs, queue depth per pool, workers, the progress of the jobs that run —
// and this node's Raft indexes (deploy/grafana/nightshift.json charts
// them). Reading a snapshot of the state costs no lock against the FSM;
// a scrape walks the jobs, the workers and the pending and running tasks
// (no finished task), so it stays cheap when a job has 100,000 tasks done.
type stateCollector struct {
	s *Server

	jobs, pending, running, workers             *prometheus.Desc
	rowsDone, rowsTotal, trainStep, trainEpoch  *prometheus.Desc
	raftTerm, raftLast, raftCommit, raftApplied *prometheus.Desc
	queueDepth, desiredWorkers                  *prometheus.Desc
}

func newStateCollector(s *Server) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{s: s,
		jobs:        d("nightshift_jobs", "Jobs in the state (finished ones until garbage collected), by kind and state.", "kind", "state"),
		pending:     d("nightshift_tasks_pending", "Tasks waiting for a worker (the queue), by pool.", "pool"),
		running:     d("nightshift_tasks_running", "Tasks with a live attempt, by pool.", "pool"),
		workers:     d("nightshift_workers", "Registered workers, by pool and state.", "pool", "state"),
		rowsDone:    d("nightshift_job_rows_done", "Rows a running job has processed.", "job", "kind"),
		rowsTotal:   d("nightshift_job_rows_total", "Rows a running job processes in all.", "job", "kind"),
		trainStep:   d("nightshift_train_step", "The last completed step of a running training job.", "job", "model"),
		trainEpoch:  d("nightshift_train_epoch", "The epoch of a running training job.", "job", "model"),
		raftTerm:    d("nightshift_raft_term", "This node's Raft term."),
		raftLast:    d("nightshift_raft_last_log_index", "The last index of this node's Raft log."),
		raftCommit:  d("nightshift_raft_commit_index", "The highest index this node knows committed."),
		raftApplied: d("nightshift_raft_applied_index", "The highest index this node applied to its state."),
		queueDepth:  d("nightshift_pool_queue_depth", "Tasks waiting for a worker, by pool (leader only: the autoscaling signal).", "pool"),
		desiredWorkers: d("nightshift_pool_desired_workers",
			"Workers the pool needs for its pending and running tasks (leader only; autoscale.go has the rule).", "pool"),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.pending, c.running, c.workers, c.rowsDone, c.rowsTotal, c.trainStep, c.trainEpoch,
		c.raftTerm, c.raftLast, c.raftCommit, c.raftApplied, c.queueDepth, c.desiredWorkers} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	view := c.s.store.Snapshot()
	type kindState struct{ kind, state string }
	jobs := map[kindState]int{}
	pools := map[string]bool{jobspec.DefaultPool: true}
	for _, j := range view.Jobs() {
		kind := jobspec.Kind(j.Spec)
		jobs[kindState{kind, lower(j.State.String(), "JOB_STATE_")}]++
		if terminal(j.State) {
			continue
		}
		pools[poolOf(j.Spec)] = true
		gauge(c.rowsDone, float64(j.RowsDone), j.Id, kind)
		gauge(c.rowsTotal, float64(j.RowsTotal), j.Id, kind)
		if t := j.Train; t != nil {
			gauge(c.trainStep, float64(t.Step), j.Id, j.Spec.GetTrain().GetModelName())
			gauge(c.trainEpoch, float64(t.Epoch), j.Id, j.Spec.GetTrain().GetModelName())
		}
	}
	for k, n := range jobs {
		gauge(c.jobs, float64(n), k.kind, k.state)
	}
	type poolState struct{ pool, state string }
	workers := map[poolState]int{}
	slots := map[string]int{} // the largest slot count of each pool's live workers
	for _, w := range view.Workers() {
		pools[w.Pool] = true
		workers[poolState{w.Pool, lower(w.State.String(), "WORKER_STATE_")}]++
		if w.State != pb.WorkerState_WORKER_STATE_DOWN {
			slots[w.Pool] = max(slots[w.Pool], int(w.Slots))
		}
	}
	for pool := range c.s.cfg.Autoscale.Pools {
		pools[pool] = true
	}
	leader := c.s.raft != nil && c.s.IsLeader()
	for k, n := range workers {
		gauge(c.workers, float64(n), k.pool, k.state)
	}
	running := map[string]int{}
	view.Running(func(t *pb.Task) bool {
		if j := view.Job(t.JobId); j != nil {
			running[poolOf(j.Spec)]++
		}
		return true
	})
	for pool := range pools {
		n := 0
		view.Pending(pool, func(*pb.Task) bool { n++; return true })
		gauge(c.pending, float64(n), pool)
		gauge(c.running, float64(running[pool]), pool)
		if leader {
			gauge(c.queueDepth, float64(n), pool)
			gauge(c.desiredWorkers, float64(c.s.cfg.Autoscale.Pools[pool].desiredWorkers(n, running[pool], slots[pool])), pool)
		}
	}
	if c.s.raft == nil {
		return // scraped while starting
	}
	stats := c.s.raft.raft.Stats()
	for d, key := range map[*prometheus.Desc]string{c.raftTerm: "term", c.raftLast: "last_log_index", c.raftCommit: "commit_index", c.raftApplied: "applied_index"} {
		if v, err := strconv.ParseUint(stats[key], 10, 64); err == nil {
			gauge(d, float64(v))
		}
	}
}
