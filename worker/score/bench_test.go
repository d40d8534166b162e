package score_test

import (
	"context"
	"testing"

	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

// BenchmarkShard scores one 131072-row shard of the 64-feature sample
// with its true logistic model, local disk to local disk.
func BenchmarkShard(b *testing.B) {
	e := newEnv(b, sample.Spec{Files: 1, RowsPerFile: 131072, Features: 64, Seed: 1, Format: "parquet"}, 131072, 0)
	m, err := model.FromTruth(e.truth)
	if err != nil {
		b.Fatal(err)
	}
	for _, opts := range []score.Options{
		{Format: score.FormatParquet, Passthrough: []string{"id"}},
		{Format: score.FormatArrow, Passthrough: []string{"id"}},
	} {
		b.Run(opts.Format, func(b *testing.B) {
			b.SetBytes(e.ds.Manifest.Shards[0].Bytes)
			for b.Loop() {
				if _, err := score.Shard(context.Background(), e.st, e.ds, 0, m, opts, e.uri("bench/out")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(e.ds.Manifest.Shards[0].Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
