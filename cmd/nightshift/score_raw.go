package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// ingestIfRaw makes `score --input` accept a raw source (CSV, Parquet,
// Arrow or JSON-lines objects) as well as a dataset (DESIGN.md §8): when
// the input holds no manifest.json, it first runs a distributed shard job
// into OUTPUT/_datasets/<hash of the input>, follows it to its end, and
// points the scoring spec at the dataset it published. The shard job is
// idempotent and a dataset whose source did not change is reused, so
// scoring the same raw source again does not ingest it again.
func ingestIfRaw(ctx context.Context, cmd *cobra.Command, f *scoreFlags) error {
	st := f.st.config()
	b, key, err := storage.Open(ctx, f.spec.Input, st)
	if err != nil {
		return fmt.Errorf("input %s: %w", f.spec.Input, err)
	}
	if _, err := b.Stat(ctx, storage.JoinKey(key, shard.ManifestName)); err == nil {
		return nil // a dataset
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("input %s: %w", f.spec.Input, err)
	}
	sum := sha256.Sum256([]byte(f.spec.Input))
	dataset := f.spec.Output + "/_datasets/" + hex.EncodeToString(sum[:8])
	spec := &nsv1.JobSpec{Name: "ingest for score", Pool: f.submit.pool, Kind: &nsv1.JobSpec_Shard{Shard: &nsv1.ShardSpec{
		Sources: []string{f.spec.Input}, Output: dataset, OptionsJson: []byte("{}")}}}
	k, err := idempotencyKey(spec)
	if err != nil {
		return err
	}
	spec.IdempotencyKey = k
	if f.out == outputTable {
		fmt.Fprintf(cmd.ErrOrStderr(), "input %s is not a dataset: ingesting it into %s first\n", f.spec.Input, dataset)
	}
	c, err := f.submit.client.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := runToEnd(ctx, cmd, c, true, spec); err != nil {
		return fmt.Errorf("ingesting the raw input: %w", err)
	}
	f.spec.Input = dataset
	return nil
}
