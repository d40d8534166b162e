package coordinator

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Tables of the state store.
const (
	tableJobs     = "jobs"
	tableTasks    = "tasks"
	tableWorkers  = "workers"
	tableRequests = "requests"
	tableModels   = "models"
	// Schedules, pipeline runs and the alert outbox (docs/architecture.md §11).
	tableSchedules = "schedules"
	tableRuns      = "runs"
	tableAlerts    = "alerts"
	// API tokens (docs/architecture.md §9).
	tableTokens = "tokens"
	// The gossip keyring, one record (docs/architecture.md §9).
	tableGossipKeyring = "gossip_keyring"
)

// Store is the replicated state: jobs, tasks, workers, the model registry
// and the request-ID deduplication window, in go-memdb. Only the FSM writes; everyone else
// reads through Snapshot. Objects it returns are never modified in place:
// writers clone, change and insert the clone.
type Store struct {
	db atomic.Pointer[memdb.MemDB]
	// abandon is closed when Restore replaces the database, waking watchers
	// whose channels belong to the old one.
	abandon atomic.Pointer[chan struct{}]
}

// keyIndex indexes objects by a byte key computed by fn; fn returning nil
// leaves the object out of the index (allowed by AllowMissing).
type keyIndex struct {
	fn func(any) []byte
}

func (k keyIndex) FromObject(obj any) (bool, []byte, error) {
	key := k.fn(obj)
	return key != nil, key, nil
}

func (k keyIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("key index takes one []byte argument, got %d", len(args))
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("key index argument is %T, want []byte", args[0])
	}
	return b, nil
}

func (k keyIndex) PrefixFromArgs(args ...any) ([]byte, error) { return k.FromArgs(args...) }

func index(name string, unique, allowMissing bool, fn func(any) []byte) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: allowMissing, Indexer: keyIndex{fn}}
}

// Key encodings. Strings end with 0 so a prefix never matches a longer ID.
func taskKey(jobID string, idx int32) []byte {
	b := make([]byte, 0, len(jobID)+5)
	b = append(b, jobID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(idx))
}

func jobPrefix(jobID string) []byte { return append([]byte(jobID), 0) }

func pendingPrefix(pool string) []byte { return append([]byte(pool), 0) }

func pendingKey(t *pb.Task) []byte {
	b := pendingPrefix(t.Pool)
	b = binary.BigEndian.AppendUint64(b, t.JobSeq)
	return binary.BigEndian.AppendUint32(b, uint32(t.Index))
}

// alertKey orders alerts as they were raised: by command, then within it.
func alertKey(a *pb.Alert) []byte {
	b := binary.BigEndian.AppendUint64(nil, a.Seq)
	b = binary.BigEndian.AppendUint32(b, a.Order)
	return append(b, a.Id...)
}

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableJobs: {Name: tableJobs, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.Job).Id) }),
			"idem": index("idem", true, true, func(o any) []byte {
				if k := o.(*pb.Job).GetSpec().GetIdempotencyKey(); k != "" {
					return []byte(k)
				}
				return nil
			}),
			"seq": index("seq", true, false, func(o any) []byte { return binary.BigEndian.AppendUint64(nil, o.(*pb.Job).Seq) }),
			"active": index("active", false, true, func(o any) []byte {
				j := o.(*pb.Job)
				if terminal(j.State) {
					return nil
				}
				return binary.BigEndian.AppendUint64(nil, j.Seq)
			}),
		}},
		tableTasks: {Name: tableTasks, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { t := o.(*pb.Task); return taskKey(t.JobId, t.Index) }),
			// pending: leasable tasks in FIFO order per pool.
			"pending": index("pending", true, true, func(o any) []byte {
				if t := o.(*pb.Task); t.State == pb.TaskState_TASK_STATE_PENDING {
					return pendingKey(t)
				}
				return nil
			}),
			// running: tasks with live attempts.
			"running": index("running", true, true, func(o any) []byte {
				if t := o.(*pb.Task); t.State == pb.TaskState_TASK_STATE_RUNNING {
					return taskKey(t.JobId, t.Index)
				}
				return nil
			}),
		}},
		tableWorkers: {Name: tableWorkers, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.Worker).Id) }),
		}},
		tableRequests: {Name: tableRequests, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.RequestRecord).Id) }),
			"time": index("time", true, false, func(o any) []byte {
				r := o.(*pb.RequestRecord)
				return append(binary.BigEndian.AppendUint64(nil, uint64(r.UnixMs)), r.Id...)
			}),
		}},
		tableModels: {Name: tableModels, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.RegisteredModel).Name) }),
		}},
		tableSchedules: {Name: tableSchedules, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.Schedule).GetSpec().GetName()) }),
		}},
		tableRuns: runsTable(),
		tableTokens: {Name: tableTokens, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(o any) []byte { return []byte(o.(*pb.Token).Id) }),
		}},
		tableGossipKeyring: {Name: tableGossipKeyring, Indexes: map[string]*memdb.IndexSchema{
			"id": index("id", true, false, func(any) []byte { return []byte("ring") }),
		}},
		tableAlerts: {Name: tableAlerts, Indexes: map[string]*memdb.IndexSchema{
			"id":  index("id", true, false, func(o any) []byte { return []byte(o.(*pb.Alert).Id) }),
			"seq": index("seq", true, false, func(o any) []byte { return alertKey(o.(*pb.Alert)) }),
			// pending: alerts not yet delivered, in the order they were raised.
			"pending": index("pending", true, true, func(o any) []byte {
				if a := o.(*pb.Alert); !a.Delivered {
					return alertKey(a)
				}
				return nil
			}),
		}},
	}}
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{}
	s.db.Store(newDB())
	ch := make(chan struct{})
	s.abandon.Store(&ch)
	return s
}

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("state store schema: %v", err)) // a broken invariant: the schema is static
	}
	return db
}

// replace swaps in a restored database and wakes every watcher.
func (s *Store) replace(db *memdb.MemDB) {
	s.db.Store(db)
	ch := make(chan struct{})
	old := s.abandon.Swap(&ch)
	close(*old)
}

// Snapshot returns a consistent read-only view.
func (s *Store) Snapshot() *View {
	return &View{txn: s.db.Load().Txn(false), abandon: *s.abandon.Load()}
}

func (s *Store) write() *memdb.Txn { return s.db.Load().Txn(true) }

func terminal(st pb.JobState) bool {
	return st == pb.JobState_JOB_STATE_SUCCEEDED || st == pb.JobState_JOB_STATE_FAILED || st == pb.JobState_JOB_STATE_CANCELLED
}

func taskDone(st pb.TaskState) bool {
	return st == pb.TaskState_TASK_STATE_SUCCEEDED || st == pb.TaskState_TASK_STATE_FAILED || st == pb.TaskState_TASK_STATE_CANCELLED
}
