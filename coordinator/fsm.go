package coordinator

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// fsm is the Raft state machine: it decodes commands and hands them to the
// store. It holds no other state.
type fsm struct {
	store *Store
	// onApply, when set, observes each applied command (metrics).
	onApply func(*pb.Command)
}

var _ raft.FSM = (*fsm)(nil)

// DecodeCommand parses a log entry's bytes into a command, refusing
// unknown versions and empty ops.
func DecodeCommand(data []byte) (*pb.Command, error) {
	cmd := &pb.Command{}
	if err := proto.Unmarshal(data, cmd); err != nil {
		return nil, fmt.Errorf("decode command: %w", err)
	}
	if cmd.Version != commandVersion {
		return nil, fmt.Errorf("%w %d (this node knows %d)", errBadVersion, cmd.Version, commandVersion)
	}
	if cmd.Op == nil {
		return nil, fmt.Errorf("%w: command without an op (a newer node wrote it?)", errUnknownOp)
	}
	return cmd, nil
}

// Apply decodes and applies one log entry.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		// Every replica refuses the same bytes the same way: no divergence.
		return &applyResult{err: fmt.Errorf("log index %d: %w", l.Index, err)}
	}
	res := f.store.apply(l.Index, cmd)
	if f.onApply != nil {
		f.onApply(cmd)
	}
	return res
}

// Snapshot captures a consistent read transaction; Persist streams it.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{txn: f.store.db.Load().Txn(false)}, nil
}

// Restore replaces the state with a snapshot's, built in a fresh database
// and swapped in whole.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	f.store.replace(db)
	return nil
}

// snapshotMagic starts every snapshot stream; the version follows it.
const snapshotMagic = "nightshift-fsm-1\n"

type snapshot struct{ txn *memdb.Txn }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.txn); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

func writeSnapshot(w io.Writer, txn *memdb.Txn) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	write := func(rec *pb.SnapshotRecord) error {
		_, err := protodelim.MarshalTo(bw, rec)
		return err
	}
	err := errors.Join(
		all(txn, tableJobs, func(o any) error { return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Job{Job: o.(*pb.Job)}}) }),
		all(txn, tableTasks, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Task{Task: o.(*pb.Task)}})
		}),
		all(txn, tableWorkers, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Worker{Worker: o.(*pb.Worker)}})
		}),
		all(txn, tableRequests, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Request{Request: o.(*pb.RequestRecord)}})
		}),
		all(txn, tableModels, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Model{Model: o.(*pb.RegisteredModel)}})
		}),
		all(txn, tableSchedules, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Schedule{Schedule: o.(*pb.Schedule)}})
		}),
		all(txn, tableRuns, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Run{Run: o.(*pb.PipelineRun)}})
		}),
		all(txn, tableAlerts, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Alert{Alert: o.(*pb.Alert)}})
		}),
		all(txn, tableTokens, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_Token{Token: o.(*pb.Token)}})
		}),
		all(txn, tableGossipKeyring, func(o any) error {
			return write(&pb.SnapshotRecord{Record: &pb.SnapshotRecord_GossipKeyring{GossipKeyring: o.(*pb.GossipKeyring)}})
		}),
	)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return bw.Flush()
}

func readSnapshot(r io.Reader) (*memdb.MemDB, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return nil, fmt.Errorf("restore: not a nightshift snapshot (or an unknown version): %q", magic)
	}
	db := newDB()
	txn := db.Txn(true)
	defer txn.Abort()
	opts := protodelim.UnmarshalOptions{MaxSize: 64 << 20}
	for n := 0; ; n++ {
		rec := &pb.SnapshotRecord{}
		err := opts.UnmarshalFrom(br, rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
		var table string
		var obj any
		switch r := rec.Record.(type) {
		case *pb.SnapshotRecord_Job:
			table, obj = tableJobs, r.Job
		case *pb.SnapshotRecord_Task:
			table, obj = tableTasks, r.Task
		case *pb.SnapshotRecord_Worker:
			table, obj = tableWorkers, r.Worker
		case *pb.SnapshotRecord_Request:
			table, obj = tableRequests, r.Request
		case *pb.SnapshotRecord_Model:
			table, obj = tableModels, r.Model
		case *pb.SnapshotRecord_Schedule:
			table, obj = tableSchedules, r.Schedule
		case *pb.SnapshotRecord_Run:
			table, obj = tableRuns, r.Run
		case *pb.SnapshotRecord_Alert:
			table, obj = tableAlerts, r.Alert
		case *pb.SnapshotRecord_Token:
			table, obj = tableTokens, r.Token
		case *pb.SnapshotRecord_GossipKeyring:
			table, obj = tableGossipKeyring, r.GossipKeyring
		default:
			return nil, fmt.Errorf("restore: record %d: unknown type %T", n, rec.Record)
		}
		if err := txn.Insert(table, obj); err != nil {
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
	}
	txn.Commit()
	return db, nil
}
