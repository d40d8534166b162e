package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

// scoreKind bulk-scores a dataset with a model: one task per input shard,
// each writing its own attempt object; publish commits the winning
// attempts (package scoreout) so every row is in the output exactly once.
type scoreKind struct{ independentTasks }

func (scoreKind) taskName(idx int32) string { return fmt.Sprintf("shard %d", idx) }

func (scoreKind) publishes() bool { return true }

// sweep runs scoreout.Clean on a committed job (collecting what zombie
// attempts wrote after the commit) and scoreout.Discard on one that ended
// without a commit.
func (scoreKind) sweep(ctx context.Context, s *Server, j *pb.Job) error {
	b, dir, err := storage.Open(ctx, j.OutputDir, s.cfg.Storage)
	if err != nil {
		return err
	}
	n := 0
	if j.State == pb.JobState_JOB_STATE_SUCCEEDED {
		n, err = scoreout.Clean(ctx, b, dir)
		if errors.Is(err, scoreout.ErrNotCommitted) {
			return nil // the output was removed since: nothing is left to sweep
		}
	} else {
		n, err = scoreout.Discard(ctx, b, dir)
	}
	if n > 0 {
		s.log.Info("sweep: removed attempt objects and unfinished uploads", "job", j.Id, "removed", n)
	}
	return err
}

// plan resolves a registry reference to the version it names now (the job
// pins it), checks the model artifact exists and plans one task per shard
// of the input dataset.
func (scoreKind) plan(ctx context.Context, s *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error {
	sp := spec.GetScore()
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
	ds, err := openInputDataset(ctx, s, "input", sp.Input)
	if err != nil {
		return err
	}
	out, err := storage.ParseURI(sp.Output)
	if err != nil {
		return fmt.Errorf("%w: output: %v", errInvalid, err)
	}
	m := ds.Manifest
	cmd.Job.OutputDir = scoreout.JobDir(out.String(), cmd.Job.Id)
	// Decoded columns, the prediction batch and the encoder's buffers.
	planShardTasks(cmd, m, 3)
	return nil
}

// planShardTasks plans one task per shard of the dataset m, pinning its
// fingerprint: each task's rows, and its memory estimate as perByte times
// the shard's encoded bytes plus a fixed 16 MiB of buffers.
func planShardTasks(cmd *pb.SubmitJob, m *shard.Manifest, perByte int64) {
	cmd.Job.DatasetFingerprint = m.Fingerprint
	cmd.TaskCount = int32(len(m.Shards))
	for _, sh := range m.Shards {
		cmd.TaskRows = append(cmd.TaskRows, sh.Rows)
		cmd.TaskEstBytes = append(cmd.TaskEstBytes, perByte*sh.Bytes+(16<<20))
	}
}

// checkModel fails early, with the URI, when the model artifact is missing.
func (s *Server) checkModel(ctx context.Context, uri string) error {
	b, key, err := storage.Open(ctx, uri, s.cfg.Storage)
	if err != nil {
		return fmt.Errorf("%w: model %s: %v", errInvalid, uri, err)
	}
	if _, err := b.Stat(ctx, storage.JoinKey(key, modelSpecFile)); err != nil {
		return fmt.Errorf("%w: model %s: no %s there: %v", errInvalid, uri, modelSpecFile, err)
	}
	return nil
}

// publish commits a scoring job with scoreout.Commit (docs/architecture.md
// §6), given each shard's attempt the FSM accepted, so a
// zombie's or a losing backup's output never enters the result.
func (scoreKind) publish(ctx context.Context, s *Server, j *pb.Job, tasks []*pb.Task) (string, []byte, error) {
	sp := j.Spec.GetScore()
	b, dir, err := storage.Open(ctx, j.OutputDir, s.cfg.Storage)
	if err != nil {
		return "", nil, err
	}
	shards := make([]scoreout.Shard, len(tasks))
	for i, t := range tasks {
		r := t.Result
		if t.State != pb.TaskState_TASK_STATE_SUCCEEDED || r == nil || r.Object == "" {
			return "", nil, fmt.Errorf("shard %d has no committed result (task %s)", t.Index, t.State)
		}
		shards[i] = scoreout.Shard{Index: int(t.Index), Object: r.Object, Rows: r.Rows, BadRows: r.BadRows, Bytes: r.Bytes, CRC32C: r.Crc32C}
	}
	job := scoreout.Job{ID: j.Id, Model: sp.Model, Input: sp.Input, Fingerprint: j.DatasetFingerprint, Format: sp.Format, Passthrough: sp.Passthrough}
	man, err := scoreout.Commit(ctx, b, dir, job, shards, s.log.With("job", j.Id))
	if err != nil {
		return "", nil, err
	}
	summary, _ := json.Marshal(map[string]any{"rows": man.Rows, "bad_rows": man.BadRows, "bytes": man.Bytes, "objects": len(man.Objects)})
	return b.URI(storage.JoinKey(dir, scoreout.ManifestName)), summary, nil
}
