package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// maxNoopTasks caps a no-op job (a scheduler benchmark, not a workload).
const maxNoopTasks = 1_000_000

// newJobID returns a random, URL- and key-safe job ID. IDs are random, not
// sequential, so two clusters writing into one bucket never collide.
func newJobID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b[:])
}

// planJob turns a submitted spec into the SubmitJob command: it reads what
// it must from storage (the dataset manifest, the model, the ingest plan)
// so the FSM never does I/O.
func (s *Server) planJob(ctx context.Context, spec *pb.JobSpec) (*pb.SubmitJob, error) {
	id := newJobID()
	job := &pb.Job{Id: id, Spec: spec}
	if spec.MaxAttempts <= 0 {
		spec.MaxAttempts = s.cfg.MaxAttempts
	}
	cmd := &pb.SubmitJob{Job: job}
	var err error
	switch k := spec.Kind.(type) {
	case *pb.JobSpec_Noop:
		if n := k.Noop.Tasks; n < 0 || n > maxNoopTasks {
			return nil, fmt.Errorf("%w: noop tasks must be 0..%d, got %d", errInvalid, maxNoopTasks, n)
		}
		cmd.TaskCount = k.Noop.Tasks
	case *pb.JobSpec_Score:
		err = s.planScore(ctx, k.Score, cmd)
	case *pb.JobSpec_Shard:
		err = s.planShard(ctx, k.Shard, cmd)
	case *pb.JobSpec_Train:
		err = s.planTrain(ctx, k.Train, cmd)
	default:
		return nil, fmt.Errorf("%w: the spec names no job kind (score, shard, train or noop)", errInvalid)
	}
	if err != nil {
		return nil, err
	}
	return cmd, nil
}

func (s *Server) planScore(ctx context.Context, sp *pb.ScoreSpec, cmd *pb.SubmitJob) error {
	if sp.Model == "" || sp.Input == "" || sp.Output == "" {
		return fmt.Errorf("%w: score needs model, input and output", errInvalid)
	}
	switch sp.Format {
	case "":
		sp.Format = "parquet"
	case "parquet", "arrow":
	default:
		return fmt.Errorf("%w: output format %q: want parquet or arrow", errInvalid, sp.Format)
	}
	switch sp.BadRows {
	case "":
		sp.BadRows = "fail"
	case "fail", "quarantine":
	default:
		return fmt.Errorf("%w: bad_rows %q: want fail or quarantine", errInvalid, sp.BadRows)
	}
	out, err := storage.ParseURI(strings.TrimSuffix(sp.Output, "/"))
	if err != nil {
		return fmt.Errorf("%w: output: %v", errInvalid, err)
	}
	uri, ver, isRef, err := resolveModelRef(s.store.Snapshot(), sp.Model)
	if err != nil {
		return fmt.Errorf("%w: model %s: %v", errInvalid, sp.Model, err)
	}
	if isRef {
		// The job pins the version resolved now: a promotion while it
		// runs does not change what it scores with.
		cmd.Job.ModelRef = fmt.Sprintf("%s@v%d", ver.Name, ver.Version)
		if sp.Model != cmd.Job.ModelRef {
			cmd.Job.ModelRef += " (" + sp.Model + ")"
		}
		sp.Model = uri
	}
	if err := s.checkModel(ctx, sp.Model); err != nil {
		return err
	}
	ds, err := shard.OpenDataset(ctx, s.cfg.Storage, sp.Input)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: input %s holds no dataset manifest (ingest it with `nightshift shard` first)", errInvalid, sp.Input)
		}
		return fmt.Errorf("%w: input %s: %v", errInvalid, sp.Input, err)
	}
	m := ds.Manifest
	cmd.Job.OutputDir = out.String() + "/job-" + cmd.Job.Id
	cmd.Job.DatasetFingerprint = m.Fingerprint
	cmd.TaskCount = int32(len(m.Shards))
	for _, sh := range m.Shards {
		cmd.TaskRows = append(cmd.TaskRows, sh.Rows)
		// Decoded columns, the prediction batch and the encoder's buffers.
		cmd.TaskEstBytes = append(cmd.TaskEstBytes, 3*sh.Bytes+(16<<20))
	}
	return nil
}

// checkModel fails early, with the URI, when the model artifact is missing.
func (s *Server) checkModel(ctx context.Context, uri string) error {
	b, key, err := storage.Open(ctx, uri, s.cfg.Storage)
	if err != nil {
		return fmt.Errorf("%w: model %s: %v", errInvalid, uri, err)
	}
	if _, err := b.Stat(ctx, storage.JoinKey(key, "model.json")); err != nil {
		return fmt.Errorf("%w: model %s: no model.json there: %v", errInvalid, uri, err)
	}
	return nil
}

func (s *Server) planShard(ctx context.Context, sp *pb.ShardSpec, cmd *pb.SubmitJob) error {
	if len(sp.Sources) == 0 || sp.Output == "" {
		return fmt.Errorf("%w: shard needs sources and an output", errInvalid)
	}
	var opts shard.Options
	if len(sp.OptionsJson) > 0 {
		dec := json.NewDecoder(bytes.NewReader(sp.OptionsJson))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&opts); err != nil {
			return fmt.Errorf("%w: shard options: %v", errInvalid, err)
		}
	}
	plan, err := shard.NewPlan(ctx, s.cfg.Storage, sp.Sources, sp.Output, opts)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalid, err)
	}
	cmd.Job.DatasetFingerprint = plan.Fingerprint
	cmd.Job.OutputDir = plan.Output
	if _, reusable, err := shard.Reusable(ctx, s.cfg.Storage, plan); err == nil && reusable {
		cmd.TaskCount = 0 // finalize publishes the existing manifest's URI
	} else {
		cmd.TaskCount = int32(len(plan.Units))
		for _, u := range plan.Units {
			size := u.Length
			if size < 0 {
				size = plan.Objects[u.Object].Size - u.Offset
			}
			cmd.TaskEstBytes = append(cmd.TaskEstBytes, 2*size+(64<<20))
		}
	}
	body, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	b, dir, err := storage.Open(ctx, plan.Output, s.cfg.Storage)
	if err != nil {
		return err
	}
	key := storage.JoinKey(dir, "_jobs", cmd.Job.Id, "plan.json")
	if _, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("storing the ingest plan: %w", err)
	}
	cmd.Job.PlanUri = b.URI(key)
	return nil
}
