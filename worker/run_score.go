package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

// runScore scores one shard of the input dataset (the task index is the
// shard) into an object of its own attempt below output_dir/_temporary
// (scoreout.AttemptKey); the coordinator commits the accepted attempt's
// object (scoreout.Commit), so a zombie or duplicate attempt can never
// touch committed output.
func (a *Agent) runScore(at *attempt, spec *nightshiftv1.ScoreSpec) (*nightshiftv1.TaskResult, error) {
	ctx, as := at.ctx, at.as
	ds, err := a.openInput(ctx, spec.GetInput())
	if err != nil {
		return nil, err
	}
	m, err := a.models.get(ctx, a.versionKey(ctx, spec.GetModel(), model.SpecFile), func(ctx context.Context) (*model.Model, error) {
		return model.Load(ctx, a.cfg.Storage, spec.GetModel())
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, permanent(fmt.Errorf("loading model: %w", err)) // a model that does not load never will
	}
	index := int(as.GetAttempt().GetTask())
	if index < 0 || index >= ds.NumShards() {
		return nil, permanent(fmt.Errorf("task %d: dataset %s has %d shards", index, ds.URI, ds.NumShards()))
	}
	obj := scoreout.AttemptKey(index, int(as.GetAttempt().GetAttempt()), spec.GetFormat())
	if err := a.hold(ctx); err != nil { // the Pause hook: before any write
		return nil, err
	}
	outURI := strings.TrimSuffix(as.GetOutputDir(), "/") + "/" + obj
	res, err := score.Shard(ctx, a.cfg.Storage, ds, index, m, score.Options{
		Format: spec.GetFormat(), Passthrough: spec.GetPassthrough(), BadRows: spec.GetBadRows(),
	}, outURI)
	if err != nil {
		if errors.Is(err, score.ErrBadInput) || errors.Is(err, shard.ErrBadInput) {
			return nil, permanent(err)
		}
		return nil, err
	}
	// Both objects are this attempt's own: delete them if its report is
	// rejected as stale. The quarantine object's name follows from the
	// output's (scoreout.QuarantineKey) and BadRows > 0 says it exists.
	at.written = append(at.written, outURI)
	if res.QuarantineKey != "" {
		at.written = append(at.written, res.QuarantineKey)
	}
	return &nightshiftv1.TaskResult{Object: obj, Rows: res.Rows, Bytes: res.Bytes, Crc32C: res.CRC32C, BadRows: res.BadRows}, nil
}

// classifyOpen marks a dataset that cannot be opened for good (missing,
// forbidden, invalid manifest) as a permanent failure.
func classifyOpen(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	for _, target := range []error{shard.ErrBadInput, shard.ErrCorruptShard, storage.ErrNotFound,
		storage.ErrPermission, storage.ErrInvalidKey, storage.ErrInvalidArgument} {
		if errors.Is(err, target) {
			return permanent(err)
		}
	}
	return err
}

// versionKey is the cache key of the folder at uri: the URI and the ETag
// of its descriptor object (manifest.json, model.json), so that a dataset
// or model rewritten in place is loaded afresh, never served stale. When
// the descriptor cannot be read the bare URI is used, and the load itself
// reports the error.
func (a *Agent) versionKey(ctx context.Context, uri, descriptor string) string {
	b, dir, err := storage.Open(ctx, uri, a.cfg.Storage)
	if err != nil {
		return uri
	}
	info, err := b.Stat(ctx, storage.JoinKey(dir, descriptor))
	if err != nil {
		return uri
	}
	return uri + "#" + info.ETag
}

// openInput opens (through the agent's cache of datasets, keyed by the
// manifest's version) the dataset a task reads, URI with or without its
// manifest.json.
func (a *Agent) openInput(ctx context.Context, uri string) (*shard.Dataset, error) {
	input := strings.TrimSuffix(strings.TrimSuffix(uri, "/"+shard.ManifestName), "/")
	ds, err := a.datasets.get(ctx, a.versionKey(ctx, input, shard.ManifestName), func(ctx context.Context) (*shard.Dataset, error) {
		return shard.OpenDataset(ctx, a.cfg.Storage, input)
	})
	if err != nil {
		return nil, classifyOpen(ctx, fmt.Errorf("dataset: %w", err))
	}
	return ds, nil
}
