package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// groupPoll is how long one TrainGroup long poll waits on the coordinator;
// progressEvery how often rank 0 reports step progress (epoch metrics and
// checkpoints are reported as they happen).
const (
	groupPoll     = 20 * time.Second
	progressEvery = 500 * time.Millisecond
)

// runTrain is one member of a training group (docs/architecture.md §8). It loads the
// dataset, then, generation after generation as the coordinator commits
// them, joins the group's ring and trains until the model is done. Its
// state outlives a generation that breaks (a member lost, one joined), so
// the group continues from the last completed step. Rank 0 writes the
// artifact and reports it; the other members wait for the job to end (or
// for a generation that needs them again).
func (a *Agent) runTrain(at *attempt, sp *nightshiftv1.TrainSpec) (*nightshiftv1.TaskResult, error) {
	ctx := at.ctx
	data, err := train.Load(ctx, a.cfg.Storage, sp)
	if err != nil {
		if errors.Is(err, train.ErrBadData) {
			return nil, permanent(err)
		}
		return nil, classifyOpen(ctx, err)
	}
	defer data.Release()
	if err := data.CheckSlices(ctx, sp); err != nil {
		return nil, permanent(err)
	}
	m := &member{a: a, at: at, sp: sp, tr: train.NewTrainer(sp, data),
		log: a.log.With("job", at.key.job, "task", at.key.task, "attempt", at.key.attempt)}
	m.log.Info("training data", "path", data.Path, "requested", sp.GetDataPath(), "held_mib", float64(data.Held)/(1<<20),
		"budget_mib", sp.GetMemoryBudgetMb(), "rows", data.Rows, "chunks", data.Chunks(), "window_chunks", data.Window())
	m.rep = newTrainReporter(a.client, a.cfg.ID, m.log)
	defer m.rep.stop()
	return m.run(ctx)
}

// member is one training attempt's loop over group generations.
type member struct {
	a   *Agent
	at  *attempt
	sp  *nightshiftv1.TrainSpec
	tr  *train.Trainer
	rep *trainReporter
	log *slog.Logger
	gen uint64 // the generation being trained
}

func (m *member) run(ctx context.Context) (*nightshiftv1.TaskResult, error) {
	var after uint64
	for {
		g, err := m.group(ctx, after)
		if err != nil {
			return nil, err
		}
		if g.JobState != nightshiftv1.JobState_JOB_STATE_RUNNING {
			<-ctx.Done() // the coordinator aborts this attempt
			return nil, ctx.Err()
		}
		after = g.Generation
		rank := slices.IndexFunc(g.Members, func(gm *nightshiftv1.GroupMember) bool {
			return gm.WorkerId == m.a.cfg.ID && gm.Task == m.at.key.task && gm.Attempt == m.at.key.attempt
		})
		if rank < 0 {
			continue // not in this generation: wait for the next
		}
		res, err := m.generation(ctx, g, rank)
		switch {
		case res != nil:
			return res, nil
		case err == nil:
		case errors.Is(err, train.ErrBadData) || errors.Is(err, train.ErrBadState) || errors.Is(err, train.ErrInvalidSpec):
			return nil, permanent(err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			m.log.Info("training generation ended; waiting for the next", "generation", g.Generation, "err", err)
		}
	}
}

// group long-polls the coordinator for a generation past after.
func (m *member) group(ctx context.Context, after uint64) (*nightshiftv1.TrainGroupResponse, error) {
	var resp *nightshiftv1.TrainGroupResponse
	err := m.a.client.call(ctx, groupPoll+5*time.Second, "train group", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) error {
		r, err := c.TrainGroup(ctx, &nightshiftv1.TrainGroupRequest{JobId: m.at.key.job, AfterGeneration: after, WaitMs: groupPoll.Milliseconds()})
		resp = r
		return err
	})
	return resp, err
}

// generation runs one generation: join the ring, train, and on rank 0
// write the artifact. A newer generation (or the job ending) cancels it.
func (m *member) generation(ctx context.Context, g *nightshiftv1.TrainGroupResponse, rank int) (*nightshiftv1.TaskResult, error) {
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		for gctx.Err() == nil {
			next, err := m.group(gctx, g.Generation)
			if err != nil || next.Generation > g.Generation || next.JobState != nightshiftv1.JobState_JOB_STATE_RUNNING {
				return
			}
		}
	}()
	addrs, ids := make([]string, len(g.Members)), make([]string, len(g.Members))
	for i, gm := range g.Members {
		addrs[i], ids[i] = gm.Addr, gm.WorkerId
	}
	grp, err := m.a.collectives.Join(gctx, collective.Config{Group: m.at.key.job, Generation: g.Generation, Rank: rank, Addrs: addrs, TLS: m.a.cfg.TLS, Dialer: m.a.cfg.Dialer})
	if err != nil {
		return nil, err
	}
	defer grp.Close()
	m.gen = g.Generation
	m.log.Info("training generation joined", "generation", g.Generation, "rank", rank, "members", len(ids))
	if err := m.tr.Generation(gctx, grp, g.Generation, ids, g.CheckpointStep, m.hooks()); err != nil {
		return nil, err
	}
	if rank != 0 {
		<-gctx.Done() // done: rank 0 reports; stay until the job ends or the group needs this state again
		return nil, nil
	}
	return m.finish(ctx)
}

func (m *member) hooks() train.Hooks {
	total := int64(0)
	var last time.Time
	return train.Hooks{
		Progress: func(st *train.State, totalSteps int64) {
			total = totalSteps
			if time.Since(last) < progressEvery {
				return
			}
			last = time.Now()
			m.rep.latest(m.progress(st, total))
		},
		Epoch: func(st *train.State, rec train.EpochRecord) {
			p := m.progress(st, total)
			p.Loss = rec.TrainLoss // the state's running loss was just reset for the next epoch
			p.EpochMetrics = &nightshiftv1.EpochMetrics{Epoch: rec.Epoch, Step: rec.Step, TrainLoss: rec.TrainLoss,
				Holdout: rec.Holdout, UnixMs: time.Now().UnixMilli(), AuditedRows: rec.AuditedRows}
			m.rep.must(p)
		},
		Checkpoint: func(ctx context.Context, st *train.State) error {
			uri, err := m.saveCheckpoint(ctx, st)
			if err != nil {
				m.log.Warn("writing a checkpoint", "step", st.Step, "err", err)
				return err
			}
			p := m.progress(st, total)
			p.CheckpointUri, p.CheckpointStep = uri, st.Step
			m.rep.must(p)
			return nil
		},
		LoadCheckpoint: m.loadCheckpoint,
		Synced: func(st *train.State, source string) {
			if source == "checkpoint" {
				p := m.progress(st, total)
				p.ResumedFromStep = st.Step
				m.rep.must(p)
			}
		},
		Applied: func(int64, []int64) {
			m.a.metrics.trainSteps.Inc()
			if d := m.a.cfg.TrainStepDelay; d > 0 {
				time.Sleep(d)
			}
		},
	}
}

func (m *member) progress(st *train.State, total int64) *nightshiftv1.TrainProgress {
	d := m.tr.Data()
	loss := 0.0
	if st.LossSteps > 0 {
		loss = st.LossSum / float64(st.LossSteps)
	}
	return &nightshiftv1.TrainProgress{JobId: m.at.key.job, Generation: m.gen, Step: st.Step, Epoch: st.Epoch, Loss: loss,
		Samples: st.Samples, TotalSteps: total, TrainRows: d.TrainRows, HoldoutRows: int64(d.HoldRows),
		DataPath: d.Path, InMemoryBytes: d.Held}
}

// finish writes the artifact with its lineage and returns the result
// that ends the job.
func (m *member) finish(ctx context.Context) (*nightshiftv1.TaskResult, error) {
	mdl, err := m.tr.Model()
	if err != nil {
		return nil, err
	}
	st := m.tr.State()
	specJSON, err := protojson.Marshal(m.sp)
	if err != nil {
		return nil, err
	}
	membership, err := json.Marshal(st.History)
	if err != nil {
		return nil, err
	}
	mdl.Spec.Lineage = &model.Lineage{DatasetFingerprint: m.tr.Data().Fingerprint, Spec: specJSON, Seed: m.sp.Seed,
		CodeVersion: m.a.cfg.Version, Membership: membership}
	mdl.Spec.Hyper = map[string]any{
		"optimizer": m.sp.GetOptimizer().GetName(), "lr": m.sp.GetOptimizer().GetLr(), "l2": m.sp.GetModel().GetL2(),
		"epochs": m.sp.Epochs, "batch_per_member": m.sp.BatchPerMember, "steps": st.Step,
	}
	// The comparison with production scores the holdout before anything
	// is written: a bad slice column fails the job without an artifact.
	ev, err := m.evaluate(ctx, mdl)
	if err != nil {
		return nil, err
	}
	uri := strings.TrimSuffix(m.at.as.GetOutputDir(), "/") + "/model"
	// The training data's profile and the evaluation go in first:
	// model.json, written last, names the profile, so an artifact that
	// exists has both.
	if err := m.saveProfile(ctx, uri); err != nil {
		return nil, fmt.Errorf("writing the training data's profile: %w", err)
	}
	if ev != nil {
		if err := m.saveEvaluation(ctx, uri, ev); err != nil {
			return nil, fmt.Errorf("writing the evaluation: %w", err)
		}
	}
	mdl.Spec.Lineage.Profile = profile.FileName
	if err := mdl.Save(ctx, m.a.cfg.Storage, uri); err != nil {
		return nil, fmt.Errorf("writing the model artifact: %w", err)
	}
	m.rep.flush(ctx, 5*time.Second)
	m.log.Info("training finished; artifact written", "uri", uri, "steps", st.Step, "metrics", mdl.Spec.Metrics)
	return &nightshiftv1.TaskResult{Rows: st.Samples, Train: &nightshiftv1.TrainResult{
		ArtifactUri: uri, Metrics: mdl.Spec.Metrics, Steps: st.Step,
		DatasetFingerprint: m.tr.Data().Fingerprint, Family: mdl.Spec.Family, Evaluation: ev,
	}}, nil
}
