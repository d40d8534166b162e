package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/storage"
)

// profileKind computes a dataset's statistics (package shard/profile):
// one task per shard, each writing its attempt's partial below the
// dataset's profile.PartsDir; publish merges the accepted attempts'
// partials in shard order, so the profile is the same whichever workers
// ran which shards, and writes profile.json beside the manifest.
type profileKind struct{ independentTasks }

func (profileKind) taskName(idx int32) string { return fmt.Sprintf("shard %d", idx) }

func (profileKind) publishes() bool { return true }

// plan pins the dataset's fingerprint and plans one task per shard.
func (profileKind) plan(ctx context.Context, s *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error {
	sp := spec.GetProfile()
	ds, err := openInputDataset(ctx, s, "input", sp.Input)
	if err != nil {
		return err
	}
	m := ds.Manifest
	if len(m.Shards) == 0 {
		return fmt.Errorf("%w: input %s: the dataset has no shards to profile", errInvalid, sp.Input)
	}
	cmd.Job.OutputDir = ds.URI
	planShardTasks(cmd, m, 2) // decoded columns and the accumulator's maps
	return nil
}

// publish merges the accepted partials in shard order into profile.json.
func (profileKind) publish(ctx context.Context, s *Server, j *pb.Job, tasks []*pb.Task) (string, []byte, error) {
	b, dir, err := storage.Open(ctx, j.OutputDir, s.cfg.Storage)
	if err != nil {
		return "", nil, err
	}
	var merged *pb.DatasetProfile
	for _, t := range tasks {
		r := t.Result
		if t.State != pb.TaskState_TASK_STATE_SUCCEEDED || r == nil || r.Object == "" {
			return "", nil, fmt.Errorf("shard %d has no committed partial (task %s)", t.Index, t.State)
		}
		body, err := storage.ReadAll(ctx, b, storage.JoinKey(dir, r.Object), profile.MaxEncodedBytes)
		if err != nil {
			return "", nil, fmt.Errorf("shard %d: %w", t.Index, err)
		}
		part, err := profile.UnmarshalPartial(body)
		if err != nil {
			return "", nil, fmt.Errorf("shard %d: %s: %w", t.Index, b.URI(storage.JoinKey(dir, r.Object)), err)
		}
		if part.Fingerprint != j.DatasetFingerprint {
			return "", nil, fmt.Errorf("shard %d: the partial profiles fingerprint %.16s, the job %.16s", t.Index, part.Fingerprint, j.DatasetFingerprint)
		}
		if merged == nil {
			merged = part
		} else if err := profile.Merge(merged, part); err != nil {
			return "", nil, fmt.Errorf("shard %d: %w", t.Index, err)
		}
	}
	if merged == nil {
		return "", nil, errors.New("no shard was profiled")
	}
	merged.Dataset, merged.Fingerprint = j.OutputDir, j.DatasetFingerprint
	profile.Finish(merged)
	body, err := profile.MarshalJSON(merged)
	if err != nil {
		return "", nil, err
	}
	key := storage.JoinKey(dir, profile.FileName)
	if _, err := b.Put(ctx, key, bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return "", nil, fmt.Errorf("writing %s: %w", b.URI(key), err)
	}
	if n, err := storage.DeleteAll(ctx, b, storage.JoinKey(dir, profile.PartsDir(j.Id))+"/", nil); err != nil {
		s.log.Warn("removing profile partials (the sweep tries again)", "job", j.Id, "removed", n, "err", err)
	}
	summary, _ := json.Marshal(map[string]any{"rows": merged.Rows, "columns": len(merged.Columns), "shards": merged.Shards})
	return b.URI(key), summary, nil
}

// sweep removes the partials of an ended job: a zombie attempt may write
// one after publish removed the folder.
func (profileKind) sweep(ctx context.Context, s *Server, j *pb.Job) error {
	b, dir, err := storage.Open(ctx, j.OutputDir, s.cfg.Storage)
	if err != nil {
		return err
	}
	n, err := storage.DeleteAll(ctx, b, storage.JoinKey(dir, profile.PartsDir(j.Id))+"/", nil)
	if n > 0 {
		s.log.Info("sweep: removed profile partials", "job", j.Id, "removed", n)
	}
	return err
}
