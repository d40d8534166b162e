package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// runShard ingests one unit of a shard job's plan: the task index is the
// unit. Units are idempotent (a retry rewrites the same keys with the same
// bytes), so no attempt-specific output is involved.
func (a *Agent) runShard(ctx context.Context, as *nightshiftv1.Assignment) (*nightshiftv1.TaskResult, error) {
	uri := as.GetPlanUri()
	if uri == "" {
		return nil, permanent(errors.New("shard task has no plan URI"))
	}
	plan, err := a.plans.get(ctx, uri, func(ctx context.Context) (*shard.Plan, error) {
		return loadPlan(ctx, a.cfg.Storage, uri)
	})
	if err != nil {
		return nil, err
	}
	unit := int(as.GetAttempt().GetTask())
	if unit < 0 || unit >= len(plan.Units) {
		return nil, permanent(fmt.Errorf("task %d: plan %s has %d units", unit, uri, len(plan.Units)))
	}
	if err := a.hold(ctx); err != nil { // the Pause hook: before any write
		return nil, err
	}
	res, err := shard.RunUnit(ctx, a.cfg.Storage, plan, unit)
	if err != nil {
		if errors.Is(err, shard.ErrBadInput) {
			return nil, permanent(err)
		}
		return nil, err
	}
	detail, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding the unit result: %w", err)
	}
	var bytes int64
	for _, s := range res.Shards {
		bytes += s.Bytes
	}
	return &nightshiftv1.TaskResult{Rows: res.Rows, Bytes: bytes, BadRows: res.BadRows, Detail: detail}, nil
}

// loadPlan reads an ingest plan the leader stored at submit. A missing or
// undecodable plan is permanent: the job itself is broken.
func loadPlan(ctx context.Context, st storage.Config, uri string) (*shard.Plan, error) {
	b, key, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, permanent(fmt.Errorf("plan: %w", err))
	}
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, permanent(fmt.Errorf("plan: %w", err))
		}
		return nil, fmt.Errorf("plan: %w", err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc) // a read error is transient; a decode error is not
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", uri, err)
	}
	var p shard.Plan
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, permanent(fmt.Errorf("plan %s: %w", uri, err))
	}
	return &p, nil
}
