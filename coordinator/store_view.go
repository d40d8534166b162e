package coordinator

import (
	"github.com/hashicorp/go-memdb"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// View is a consistent read-only snapshot of the store. Its objects are
// shared: never modify them.
type View struct {
	txn     *memdb.Txn
	abandon chan struct{}
}

// Abandoned is closed when the store was replaced by a snapshot restore;
// watchers must then take a new View.
func (v *View) Abandoned() <-chan struct{} { return v.abandon }

// Job returns a job, or nil.
func (v *View) Job(id string) *pb.Job { return getJob(v.txn, id) }

// JobWatch returns a job and a channel closed when it changes.
func (v *View) JobWatch(id string) (*pb.Job, <-chan struct{}) {
	ch, obj, err := v.txn.FirstWatch(tableJobs, "id", []byte(id))
	if err != nil || obj == nil {
		return nil, ch
	}
	return obj.(*pb.Job), ch
}

func getJob(txn *memdb.Txn, id string) *pb.Job {
	obj, err := txn.First(tableJobs, "id", []byte(id))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Job)
}

// JobByKey returns the job submitted with an idempotency key, or nil.
func (v *View) JobByKey(key string) *pb.Job {
	obj, err := v.txn.First(tableJobs, "idem", []byte(key))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Job)
}

// Jobs returns every job, newest first.
func (v *View) Jobs() []*pb.Job {
	return collect[*pb.Job](v.txn.GetReverse(tableJobs, "seq_prefix", []byte{}))
}

// ActiveJobs returns jobs not yet in a terminal state, oldest first.
func (v *View) ActiveJobs() []*pb.Job {
	return collect[*pb.Job](v.txn.Get(tableJobs, "active_prefix", []byte{}))
}

// Task returns one task, or nil.
func (v *View) Task(jobID string, idx int32) *pb.Task { return getTask(v.txn, jobID, idx) }

func getTask(txn *memdb.Txn, jobID string, idx int32) *pb.Task {
	obj, err := txn.First(tableTasks, "id", taskKey(jobID, idx))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Task)
}

// Tasks returns a job's tasks in index order.
func (v *View) Tasks(jobID string) []*pb.Task { return tasksOf(v.txn, jobID) }

// EachTask calls fn with a job's tasks in index order, without collecting
// them, until fn returns false.
func (v *View) EachTask(jobID string, fn func(*pb.Task) bool) {
	it, err := v.txn.Get(tableTasks, "id_prefix", jobPrefix(jobID))
	if err != nil {
		return
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if !fn(obj.(*pb.Task)) {
			return
		}
	}
}

func tasksOf(txn *memdb.Txn, jobID string) []*pb.Task {
	return collect[*pb.Task](txn.Get(tableTasks, "id_prefix", jobPrefix(jobID)))
}

// Pending iterates leasable tasks of a pool in FIFO order until fn returns false.
// The returned channel closes when the set of pending tasks changes.
func (v *View) Pending(pool string, fn func(*pb.Task) bool) <-chan struct{} {
	it, err := v.txn.Get(tableTasks, "pending_prefix", pendingPrefix(pool))
	if err != nil {
		return nil
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if !fn(obj.(*pb.Task)) {
			break
		}
	}
	return it.WatchCh()
}

// Running iterates tasks with live attempts until fn returns false.
func (v *View) Running(fn func(*pb.Task) bool) { runningTasks(v.txn, fn) }

func runningTasks(txn *memdb.Txn, fn func(*pb.Task) bool) {
	it, err := txn.Get(tableTasks, "running_prefix", []byte{})
	if err != nil {
		return
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if !fn(obj.(*pb.Task)) {
			return
		}
	}
}

// Worker returns a worker, or nil.
func (v *View) Worker(id string) *pb.Worker { return getWorker(v.txn, id) }

func getWorker(txn *memdb.Txn, id string) *pb.Worker {
	obj, err := txn.First(tableWorkers, "id", []byte(id))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Worker)
}

// Workers returns every worker by ID.
func (v *View) Workers() []*pb.Worker {
	return collect[*pb.Worker](v.txn.Get(tableWorkers, "id_prefix", []byte{}))
}

// Model returns a registered model, or nil.
func (v *View) Model(name string) *pb.RegisteredModel { return getModel(v.txn, name) }

func getModel(txn *memdb.Txn, name string) *pb.RegisteredModel {
	obj, err := txn.First(tableModels, "id", []byte(name))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.RegisteredModel)
}

// Models returns every registered model by name.
func (v *View) Models() []*pb.RegisteredModel {
	return collect[*pb.RegisteredModel](v.txn.Get(tableModels, "id_prefix", []byte{}))
}

// Request returns a remembered request, or nil.
func (v *View) Request(id string) *pb.RequestRecord { return getRequest(v.txn, id) }

func getRequest(txn *memdb.Txn, id string) *pb.RequestRecord {
	obj, err := txn.First(tableRequests, "id", []byte(id))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.RequestRecord)
}

// all yields every object of a table (snapshots).
func all(txn *memdb.Txn, table string, fn func(any) error) error {
	it, err := txn.Get(table, "id_prefix", []byte{})
	if err != nil {
		return err
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if err := fn(obj); err != nil {
			return err
		}
	}
	return nil
}

// collect gathers an index scan's objects (none on an index error, which
// only a broken schema can cause).
func collect[T any](it memdb.ResultIterator, err error) []T {
	if err != nil {
		return nil
	}
	var out []T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(T))
	}
	return out
}

// Token returns an API token by ID, or nil.
func (v *View) Token(id string) *pb.Token { return getToken(v.txn, id) }

// Tokens returns every API token by ID, revoked ones included.
func (v *View) Tokens() []*pb.Token {
	return collect[*pb.Token](v.txn.Get(tableTokens, "id_prefix", []byte{}))
}

// GossipKeyring returns the replicated gossip keyring; nil until the first
// install (the configured key governs until then).
func (v *View) GossipKeyring() *pb.GossipKeyring { return getKeyring(v.txn) }

// GossipKeyringWatch returns the ring (nil before the first install) and a
// channel closed when it changes.
func (v *View) GossipKeyringWatch() (*pb.GossipKeyring, <-chan struct{}) {
	ch, obj, err := v.txn.FirstWatch(tableGossipKeyring, "id", []byte("ring"))
	if err != nil || obj == nil {
		return nil, ch
	}
	return obj.(*pb.GossipKeyring), ch
}

func getKeyring(txn *memdb.Txn) *pb.GossipKeyring {
	obj, err := txn.First(tableGossipKeyring, "id", []byte("ring"))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.GossipKeyring)
}

func getToken(txn *memdb.Txn, id string) *pb.Token {
	obj, err := txn.First(tableTokens, "id", []byte(id))
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Token)
}

// firstToken returns any token, nil when the state holds none.
func firstToken(txn *memdb.Txn) *pb.Token {
	obj, err := txn.First(tableTokens, "id_prefix", []byte{})
	if err != nil || obj == nil {
		return nil
	}
	return obj.(*pb.Token)
}
