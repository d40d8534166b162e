package shard_test

import (
	"context"
	"testing"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
)

// benchDataset ingests a sample dataset on local disk once per benchmark.
func benchDataset(b *testing.B, format string, comp shard.Compression) (*fileEnv, string) {
	b.Helper()
	e := &fileEnv{dir: b.TempDir()}
	t := &testing.T{}
	src := e.writeSample(t, "src", sample.Spec{Files: 2, RowsPerFile: 100000, Features: 16, Seed: 1, Format: format})
	if _, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"), shard.Options{Compression: comp}, shard.RunOptions{}); err != nil {
		b.Fatal(err)
	}
	return e, src
}

func BenchmarkScan(b *testing.B) {
	for _, comp := range []shard.Compression{shard.CompressionLZ4, shard.CompressionZstd, shard.CompressionNone} {
		b.Run(string(comp), func(b *testing.B) {
			e, _ := benchDataset(b, "csv", comp)
			ctx := context.Background()
			ds, err := shard.OpenDataset(ctx, e.st, e.uri("ds"))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(ds.Manifest.TotalBytes)
			b.ResetTimer()
			for range b.N {
				for i := range ds.NumShards() {
					sc := ds.Scan(ctx, i)
					for sc.Next() {
					}
					if err := sc.Err(); err != nil {
						b.Fatal(err)
					}
					sc.Close()
				}
			}
			b.ReportMetric(float64(ds.Manifest.TotalRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkIngest(b *testing.B) {
	for _, format := range []string{"csv", "parquet"} {
		b.Run(format, func(b *testing.B) {
			e, src := benchDataset(b, format, shard.CompressionLZ4)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				out := e.uri("bench-" + string(rune('a'+i%26)) + "-" + format)
				res, err := shard.Ingest(ctx, e.st, []string{src}, out, shard.Options{}, shard.RunOptions{Parallel: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Manifest.TotalBytes)
			}
		})
	}
}
