package worker

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// evaluationFile is the evaluation's object in the artifact folder.
const evaluationFile = "evaluation.json"

// evaluate compares the challenger with the production version the
// coordinator pinned in the spec (train.Compare), on this job's holdout
// rows; nil without a holdout. It runs also without a production
// version, so the version's slices and metric history exist. A production
// version that does not load is no failure: the evaluation says why, and
// the registry does not promote on it. An error wrapping train.ErrBadData
// (a bad slice column) fails the job for good.
func (m *member) evaluate(ctx context.Context, challenger *model.Model) (*nightshiftv1.Evaluation, error) {
	d := m.tr.Data()
	if d.HoldRows == 0 {
		return nil, nil
	}
	// The storage layer has retried transient errors already (a bounded
	// backoff); what is left is recorded, and the registry does not
	// promote on a comparison that did not happen.
	champion, loadErr := m.loadChampion(ctx)
	if loadErr != nil && ctx.Err() != nil {
		return nil, ctx.Err() // cancelled, not a verdict on the production version
	}
	ev, err := train.Compare(ctx, d, challenger, champion, m.sp)
	if err != nil {
		return nil, fmt.Errorf("comparing the new model with production: %w", err)
	}
	if loadErr != nil {
		ev.ChampionError = fmt.Sprintf("production v%d (%s) could not be loaded: %v", m.sp.GetChampion().GetVersion(), m.sp.GetChampion().GetUri(), loadErr)
	}
	m.log.Info("compared with production", "metric", ev.Metric, "rows", ev.Rows, "champion", ev.ChampionVersion,
		"gain", ev.Gain, "gain_low", ev.GainLow, "gain_high", ev.GainHigh, "champion_error", ev.ChampionError, "slices", len(ev.Slices))
	return ev, nil
}

// loadChampion loads the production version through the agent's model
// cache, as a scoring task does; nil without one.
func (m *member) loadChampion(ctx context.Context) (*model.Model, error) {
	ref := m.sp.GetChampion()
	if ref == nil {
		return nil, nil
	}
	return m.a.models.get(ctx, m.a.versionKey(ctx, ref.GetUri(), model.SpecFile), func(ctx context.Context) (*model.Model, error) {
		return model.Load(ctx, m.a.cfg.Storage, ref.GetUri())
	})
}

// saveEvaluation writes the evaluation as evaluation.json (protojson,
// indented) in the artifact folder, before model.json: an artifact that
// exists has its evaluation.
func (m *member) saveEvaluation(ctx context.Context, artifact string, ev *nightshiftv1.Evaluation) error {
	body, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(ev)
	if err != nil {
		return err
	}
	b, dir, err := storage.Open(ctx, artifact, m.a.cfg.Storage)
	if err != nil {
		return err
	}
	_, err = b.Put(ctx, storage.JoinKey(dir, evaluationFile), bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/json"})
	return err
}
