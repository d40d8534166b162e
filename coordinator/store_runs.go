package coordinator

import (
	"encoding/binary"

	"github.com/hashicorp/go-memdb"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// runsTable indexes pipeline runs by ID (the slot key, so the IDs of one
// slot share a prefix), by claim order, by schedule in claim order, and the
// schedule's runs that are not over yet (queued or running).
func runsTable() *memdb.TableSchema {
	return &memdb.TableSchema{Name: tableRuns, Indexes: map[string]*memdb.IndexSchema{
		"id":  index("id", true, false, func(o any) []byte { return []byte(o.(*pb.PipelineRun).Id) }),
		"seq": index("seq", true, false, func(o any) []byte { return runSeqKey(o.(*pb.PipelineRun)) }),
		"schedule": index("schedule", true, false, func(o any) []byte {
			r := o.(*pb.PipelineRun)
			return append(schedulePrefix(r.Schedule), runSeqKey(r)...)
		}),
		"active": index("active", true, true, func(o any) []byte {
			r := o.(*pb.PipelineRun)
			if runOver(r.State) {
				return nil
			}
			return append(schedulePrefix(r.Schedule), runSeqKey(r)...)
		}),
	}}
}

// runSeqKey orders runs by the Raft index of their claim; a backfill claims
// several slots in one command, so the ID breaks the tie.
func runSeqKey(r *pb.PipelineRun) []byte {
	return append(binary.BigEndian.AppendUint64(nil, r.Seq), r.Id...)
}

func schedulePrefix(name string) []byte { return append([]byte(name), 0) }

// runOver reports whether a run (or a slot record) is over: it will change
// no more unless resumed.
func runOver(st pb.RunState) bool {
	return st != pb.RunState_RUN_STATE_QUEUED && st != pb.RunState_RUN_STATE_RUNNING
}

// Schedule returns a schedule, or nil.
func (v *View) Schedule(name string) *pb.Schedule { return getSchedule(v.txn, name) }

func getSchedule(txn *memdb.Txn, name string) *pb.Schedule {
	obj, err := txn.First(tableSchedules, "id", []byte(name))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Schedule)
}

// Schedules returns every schedule by name.
func (v *View) Schedules() []*pb.Schedule {
	return collect[*pb.Schedule](v.txn.Get(tableSchedules, "id_prefix", []byte{}))
}

// Run returns a pipeline run, or nil.
func (v *View) Run(id string) *pb.PipelineRun { return getRun(v.txn, id) }

func getRun(txn *memdb.Txn, id string) *pb.PipelineRun {
	obj, err := txn.First(tableRuns, "id", []byte(id))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.PipelineRun)
}

// ActiveRuns returns the queued and running runs of a schedule ("" for
// ad-hoc runs) in claim order; all schedules' when all is set.
func (v *View) ActiveRuns(schedule string, all bool) []*pb.PipelineRun {
	return activeRuns(v.txn, schedule, all)
}

func activeRuns(txn *memdb.Txn, schedule string, all bool) []*pb.PipelineRun {
	prefix := schedulePrefix(schedule)
	if all {
		prefix = []byte{}
	}
	return collect[*pb.PipelineRun](txn.Get(tableRuns, "active_prefix", prefix))
}

// RunsNewestFirst calls fn with runs from the newest claim back, of one
// schedule (or of all when schedule is "" and all is set), until fn
// returns false. before, when not nil, starts below that seq key (paging).
func (v *View) RunsNewestFirst(schedule string, all bool, before []byte, fn func(*pb.PipelineRun) bool) {
	runsNewestFirst(v.txn, schedule, all, before, fn)
}

func runsNewestFirst(txn *memdb.Txn, schedule string, all bool, before []byte, fn func(*pb.PipelineRun) bool) {
	var (
		it  memdb.ResultIterator
		err error
	)
	switch {
	case all && before != nil:
		it, err = txn.ReverseLowerBound(tableRuns, "seq", before)
	case all:
		it, err = txn.GetReverse(tableRuns, "seq_prefix", []byte{})
	case before != nil:
		it, err = txn.ReverseLowerBound(tableRuns, "schedule", append(schedulePrefix(schedule), before...))
	default:
		it, err = txn.GetReverse(tableRuns, "schedule_prefix", schedulePrefix(schedule))
	}
	if err != nil {
		return
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		r := obj.(*pb.PipelineRun)
		if !all && r.Schedule != schedule {
			return // ReverseLowerBound walks on past the schedule's first run
		}
		if before != nil && string(runSeqKey(r)) >= string(before) {
			continue // the bound itself
		}
		if !fn(r) {
			return
		}
	}
}

// slotRuns returns the runs of one slot key (the first claim and its
// reprocessings "#N"), oldest first.
func slotRuns(txn *memdb.Txn, key string) []*pb.PipelineRun {
	var out []*pb.PipelineRun
	for _, r := range collect[*pb.PipelineRun](txn.Get(tableRuns, "id_prefix", []byte(key))) {
		if r.Id == key || (len(r.Id) > len(key) && r.Id[len(key)] == '#') {
			out = append(out, r)
		}
	}
	// IDs sort "key" < "key#10" < "key#2": order by claim instead.
	sortRunsBySeq(out)
	return out
}

// PendingAlerts returns the alerts not yet delivered, oldest first, at most n.
func (v *View) PendingAlerts(n int) []*pb.Alert {
	var out []*pb.Alert
	it, err := v.txn.Get(tableAlerts, "pending_prefix", []byte{})
	if err != nil {
		return nil
	}
	for obj := it.Next(); obj != nil && len(out) < n; obj = it.Next() {
		out = append(out, obj.(*pb.Alert))
	}
	return out
}

// Alerts returns every alert record in commit order.
func (v *View) Alerts() []*pb.Alert {
	return collect[*pb.Alert](v.txn.Get(tableAlerts, "seq_prefix", []byte{}))
}
