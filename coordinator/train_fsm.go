package coordinator

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Caps of a training job's replicated status.
const (
	maxGenerationRecords = 256
	maxEpochRecords      = 10_000
)

// trainJob returns a writable running training job, or an error saying
// why a training command does not apply to it.
func (a *applier) trainJob(id string) (*pb.Job, error) {
	j := a.job(id)
	switch {
	case j == nil:
		return nil, fmt.Errorf("%w: job %s", errNotFound, id)
	case j.Spec.GetTrain() == nil:
		return nil, fmt.Errorf("%w: job %s is not a training job", errInvalid, id)
	case j.State != pb.JobState_JOB_STATE_RUNNING:
		return nil, fmt.Errorf("%w: job %s is %s", errConflict, id, j.State)
	}
	if j.Train == nil {
		j.Train = &pb.TrainStatus{}
	}
	return j, nil
}

// trainGeneration commits the next membership generation of a training
// group. Every member must hold a current attempt of its task.
func (a *applier) trainGeneration(c *pb.TrainGeneration) *applyResult {
	j, err := a.trainJob(c.JobId)
	if err != nil {
		return &applyResult{err: err}
	}
	ts := j.Train
	if c.Generation != ts.Generation+1 {
		return &applyResult{err: fmt.Errorf("%w: job %s: generation %d does not follow %d", errConflict, j.Id, c.Generation, ts.Generation)}
	}
	if len(c.Members) == 0 {
		return &applyResult{err: fmt.Errorf("%w: job %s: a generation without members", errInvalid, j.Id)}
	}
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		t := getTask(a.txn, j.Id, m.Task)
		if t == nil || !holds(t, m.Attempt, m.WorkerId) {
			return &applyResult{err: fmt.Errorf("%w: job %s: member %s does not hold attempt %d of task %d", errConflict, j.Id, m.WorkerId, m.Attempt, m.Task)}
		}
		ids[i] = m.WorkerId
	}
	ts.Generation, ts.Members = c.Generation, c.Members
	ts.History = append(ts.History, &pb.GenerationRecord{Generation: c.Generation, WorkerIds: ids, UnixMs: a.now})
	if n := len(ts.History) - maxGenerationRecords; n > 0 {
		ts.History = slices.Delete(ts.History, 0, n)
	}
	a.event(j, "generation %d: %d members: %s", c.Generation, len(ids), strings.Join(ids, ", "))
	return &applyResult{job: j}
}

func sameMember(a, b *pb.GroupMember) bool {
	return a.WorkerId == b.WorkerId && a.Task == b.Task && a.Attempt == b.Attempt
}

// trainProgress records what a group reported. Progress only moves
// forward: a late report from an abandoned generation is ignored.
func (a *applier) trainProgress(c *pb.TrainProgress) *applyResult {
	j, err := a.trainJob(c.JobId)
	if err != nil {
		return &applyResult{err: err}
	}
	ts := j.Train
	if c.Step >= ts.Step {
		ts.Step, ts.Epoch, ts.Loss, ts.Samples = c.Step, c.Epoch, c.Loss, c.Samples
		if c.TotalSteps > 0 {
			ts.TotalSteps = c.TotalSteps
		}
		if c.TrainRows > 0 {
			ts.TrainRows, ts.HoldoutRows = c.TrainRows, c.HoldoutRows
		}
		if c.DataPath != "" {
			ts.DataPath, ts.InMemoryBytes = c.DataPath, c.InMemoryBytes
		}
	}
	if e := c.EpochMetrics; e != nil && !slices.ContainsFunc(ts.Epochs, func(o *pb.EpochMetrics) bool { return o.Epoch == e.Epoch }) &&
		len(ts.Epochs) < maxEpochRecords {
		ts.Epochs = append(ts.Epochs, e)
		a.event(j, "epoch %d done at step %d: train loss %.5f%s", e.Epoch+1, e.Step, e.TrainLoss, formatMetrics(e.Holdout))
	}
	if c.ResumedFromStep > 0 && c.Generation > ts.LastRestartGeneration {
		// The generation found nobody holding the state: everyone who had
		// it was lost, and the group went back to a checkpoint. Membership
		// alone cannot tell (a dead member may still be listed while its
		// death is detected); the group itself reports it.
		ts.Restarts++
		ts.LastRestartGeneration = c.Generation
		if i := slices.IndexFunc(ts.History, func(g *pb.GenerationRecord) bool { return g.Generation == c.Generation }); i >= 0 {
			ts.History[i].Restart = true
		}
		max := j.Spec.GetTrain().GetMaxRestarts()
		if ts.Restarts > max {
			a.endJob(j, pb.JobState_JOB_STATE_FAILED, fmt.Sprintf("the training group was lost %d times (max_restarts %d)", ts.Restarts, max))
			a.event(j, "failed: the training group was lost %d times", ts.Restarts)
			return &applyResult{job: j}
		}
		a.event(j, "generation %d: the whole group had been lost; restart %d of %d from the checkpoint at step %d",
			c.Generation, ts.Restarts, max, c.ResumedFromStep)
	}
	if c.CheckpointUri != "" && c.CheckpointStep > ts.CheckpointStep {
		ts.CheckpointUri, ts.CheckpointStep = c.CheckpointUri, c.CheckpointStep
	}
	return &applyResult{job: j}
}

// formatMetrics renders holdout metrics in a fixed order for events.
func formatMetrics(m map[string]float64) string {
	var b strings.Builder
	for _, k := range []string{"logloss", "auc", "accuracy", "rmse"} {
		if v, ok := m[k]; ok {
			fmt.Fprintf(&b, ", holdout %s %.5f", k, v)
		}
	}
	return b.String()
}

// trainFinished ends a training job when rank 0 reported the finished
// artifact: the model is registered (and promoted or not by the job's
// policy) in the same log entry, and the other members are stopped.
func (a *applier) trainFinished(j *pb.Job, res *pb.TrainResult) {
	if j.Train == nil {
		j.Train = &pb.TrainStatus{}
	}
	sp := j.Spec.GetTrain()
	ts := j.Train
	ts.ArtifactUri, ts.Metrics = res.ArtifactUri, res.Metrics
	if res.Steps > ts.Step {
		ts.Step = res.Steps
	}
	ver, promoted, reason := a.registerVersion(&pb.ModelVersion{
		Name: sp.ModelName, Uri: res.ArtifactUri, JobId: j.Id, Metrics: res.Metrics,
		DatasetFingerprint: res.DatasetFingerprint, Family: res.Family, Evaluation: stampEvaluation(res.Evaluation, a.now),
	}, sp.Promotion)
	ts.Registered, ts.Promoted, ts.PromotionReason = ver, promoted, reason
	j.ResultUri = res.ArtifactUri
	a.endJob(j, pb.JobState_JOB_STATE_SUCCEEDED, "")
	a.event(j, "succeeded: %s registered as %s v%d; %s", res.ArtifactUri, sp.ModelName, ver.GetVersion(), reason)
}

// holdsMember reports whether a worker holds an attempt of any task of a
// job: a worker is at most one member of a training group.
func holdsMember(tasks []*pb.Task, workerID string) bool {
	for _, t := range tasks {
		for _, at := range t.Active {
			if at.WorkerId == workerID {
				return true
			}
		}
	}
	return false
}

// stampEvaluation dates a reported evaluation with the command's time (a
// copy: the report stays as it came).
func stampEvaluation(ev *pb.Evaluation, now int64) *pb.Evaluation {
	if ev == nil {
		return nil
	}
	ev = proto.Clone(ev).(*pb.Evaluation)
	ev.UnixMs = now
	return ev
}
