package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// trainKind trains one model data-parallel on a group of workers: one
// member task per possible member; the leader's group loop commits the
// generations (train_group.go), the group reports progress through
// TrainReport (train_fsm.go), and rank 0's success registers the model
// and ends the job (registry_fsm.go). Nothing is left to publish.
type trainKind struct{}

func (trainKind) taskName(idx int32) string { return fmt.Sprintf("group member %d", idx) }

func (trainKind) grouped() bool { return true }

func (trainKind) resultError(res *pb.TaskResult) string {
	if res.Train == nil {
		return "a training member succeeded without the trained model"
	}
	return ""
}

func (trainKind) succeeded(a *applier, j *pb.Job, res *pb.TaskResult) {
	if j.State == pb.JobState_JOB_STATE_RUNNING {
		a.trainFinished(j, res.Train)
	}
}

func (trainKind) publishes() bool { return false }

// sweep keeps everything: checkpoints of a failed job are what a user
// resumes or inspects, and the artifact is the registry's.
func (trainKind) sweep(context.Context, *Server, *pb.Job) error { return nil }

func (trainKind) publish(context.Context, *Server, *pb.Job, []*pb.Task) (string, []byte, error) {
	return "", nil, nil
}

// plan reads the dataset manifest (fingerprint, schema, size), checks the
// label and feature columns against it and plans one member task per
// possible group member: a worker that leases one asks to join the group,
// and the leader's group loop commits generations from the leases.
func (trainKind) plan(ctx context.Context, s *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error {
	sp := spec.GetTrain()
	out, err := storage.ParseURI(sp.Output)
	if err != nil {
		return fmt.Errorf("%w: train: output: %v", errInvalid, err)
	}
	ds, err := openInputDataset(ctx, s, "train: dataset", sp.Dataset)
	if err != nil {
		return err
	}
	if err := checkColumns(sp, ds.Manifest); err != nil {
		return fmt.Errorf("%w: train: dataset %s: %v", errInvalid, sp.Dataset, err)
	}
	if err := s.checkSliceValues(ctx, sp, ds); err != nil {
		return fmt.Errorf("%w: train: dataset %s: %v", errInvalid, sp.Dataset, err)
	}
	// The challenger is compared with the production version of now, on
	// this job's holdout rows: pinned, so a promotion while the job runs
	// is noticed when it registers (the registry refuses a stale
	// comparison).
	sp.Champion = nil
	if champ := productionVersion(s.store.Snapshot(), sp.ModelName); champ != nil {
		sp.Champion = &pb.ChampionRef{Name: champ.Name, Version: champ.Version, Uri: champ.Uri}
	}
	m := ds.Manifest
	cmd.Job.OutputDir = out.String() + "/" + sp.ModelName + "/job-" + cmd.Job.Id
	cmd.Job.DatasetFingerprint = m.Fingerprint
	cmd.Job.Train = &pb.TrainStatus{}
	cmd.TaskCount = sp.MaxMembers
	// Every member holds the whole dataset decoded (float32 features) and
	// its Arrow columns.
	est := 3*m.TotalBytes + (64 << 20)
	for range sp.MaxMembers {
		cmd.TaskEstBytes = append(cmd.TaskEstBytes, est)
	}
	return nil
}

// checkColumns fails early when the label or a feature is not a column of
// the dataset, or the dataset is empty.
func checkColumns(sp *pb.TrainSpec, m *shard.Manifest) error {
	cols := make([]string, len(m.Schema))
	for i, f := range m.Schema {
		cols[i] = f.Name
	}
	if err := jobspec.TrainColumns(sp, cols); err != nil {
		return err
	}
	if m.TotalRows == 0 {
		return errors.New("the dataset has no rows")
	}
	return nil
}
