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

// rawInput is a job's input that may be a raw source (CSV, Parquet, Arrow
// or JSON-lines objects) rather than a dataset: `score --input` and the
// `dataset` of a `train` job file.
type rawInput struct {
	// uri is the input as given.
	uri string
	// output is the job's output root: a raw source is ingested into
	// OUTPUT/_datasets/<hash of the input>.
	output string
	// job names the command in the ingest job's name ("score", "train").
	job string
	// pool runs the ingest job; client reaches the coordinator.
	pool   string
	client *clientFlags
	st     storage.Config
	// quiet drops the note on stderr (-o json).
	quiet bool
}

// ingestIfRaw makes a job's input accept a raw source as well as a dataset
// (docs/architecture.md §6): when the input holds no manifest.json, it first runs a
// distributed shard job into OUTPUT/_datasets/<hash of the input>, follows
// it to its end, and returns the dataset it published; a dataset is
// returned as it is. The shard job is idempotent and a dataset whose
// source did not change is reused, so reading the same raw source again
// does not ingest it again.
func ingestIfRaw(ctx context.Context, cmd *cobra.Command, in rawInput) (string, error) {
	b, key, err := storage.Open(ctx, in.uri, in.st)
	if err != nil {
		return "", fmt.Errorf("input %s: %w", in.uri, err)
	}
	if _, err := b.Stat(ctx, storage.JoinKey(key, shard.ManifestName)); err == nil {
		return in.uri, nil // a dataset
	} else if !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("input %s: %w", in.uri, err)
	}
	sum := sha256.Sum256([]byte(in.uri))
	dataset := in.output + "/_datasets/" + hex.EncodeToString(sum[:8])
	spec := &nsv1.JobSpec{Name: "ingest for " + in.job, Pool: in.pool, Kind: &nsv1.JobSpec_Shard{Shard: &nsv1.ShardSpec{
		Sources: []string{in.uri}, Output: dataset, OptionsJson: []byte("{}")}}}
	k, err := idempotencyKey(spec)
	if err != nil {
		return "", err
	}
	spec.IdempotencyKey = k
	if !in.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "input %s is not a dataset: ingesting it into %s first\n", in.uri, dataset)
	}
	c, err := in.client.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := runToEnd(ctx, cmd, c, true, spec); err != nil {
		return "", fmt.Errorf("ingesting the raw input: %w", err)
	}
	return dataset, nil
}
