package worker

import (
	"bytes"
	"errors"
	"fmt"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/storage"
)

// runProfile computes the statistics of one shard of the input dataset
// (the task index is the shard) into a partial of its own attempt below
// the dataset's profile.PartsDir; the coordinator merges the accepted
// attempts' partials in shard order.
func (a *Agent) runProfile(at *attempt, spec *nightshiftv1.ProfileSpec) (*nightshiftv1.TaskResult, error) {
	ctx, as := at.ctx, at.as
	ds, err := a.openInput(ctx, spec.GetInput())
	if err != nil {
		return nil, err
	}
	index := int(as.GetAttempt().GetTask())
	if index < 0 || index >= ds.NumShards() {
		return nil, permanent(fmt.Errorf("task %d: dataset %s has %d shards", index, ds.URI, ds.NumShards()))
	}
	part, err := profile.Shard(ctx, ds, index)
	if err != nil {
		if errors.Is(err, shard.ErrBadInput) || errors.Is(err, shard.ErrCorruptShard) {
			return nil, permanent(err)
		}
		return nil, err
	}
	body, err := profile.MarshalPartial(part)
	if err != nil {
		return nil, permanent(err)
	}
	if err := a.hold(ctx); err != nil { // the Pause hook: before any write
		return nil, err
	}
	b, dir, err := storage.Open(ctx, as.GetOutputDir(), a.cfg.Storage)
	if err != nil {
		return nil, err
	}
	key := profile.PartKey(as.GetAttempt().GetJobId(), index, int(as.GetAttempt().GetAttempt()))
	info, err := b.Put(ctx, storage.JoinKey(dir, key), bytes.NewReader(body), int64(len(body)), storage.PutOptions{ContentType: "application/x-protobuf"})
	if err != nil {
		return nil, err
	}
	at.written = append(at.written, b.URI(storage.JoinKey(dir, key)))
	return &nightshiftv1.TaskResult{Object: key, Rows: part.Rows, Bytes: info.Size}, nil
}
