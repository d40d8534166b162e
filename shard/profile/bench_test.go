package profile_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// The target: the statistics pass runs at ≥ 0.5× the shard scan
// rate of the same dataset on the same workers. BenchmarkScanShard is the
// scan alone, BenchmarkProfileShard the scan with profile.Shard's
// statistics; scripts/bench/profile.sh runs both and prints the ratio.

const benchRows = 300_000

// benchSchema: six float and three int columns, a region with 8 values, a
// unique string id and a label; 2% of f0 is null.
func benchSchema() *arrow.Schema {
	fields := []arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true}}
	for i := range 6 {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f%d", i), Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	for _, n := range []string{"age", "tenure", "purchases"} {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	fields = append(fields,
		arrow.Field{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

var benchRegions = []string{"north", "south", "east", "west", "central", "coast", "mountain", "islands"}

func benchRecords(rows, batch int) []arrow.Record {
	schema := benchSchema()
	r := rand.New(rand.NewPCG(1, 2))
	var recs []arrow.Record
	for start := 0; start < rows; start += batch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		n := min(batch, rows-start)
		for row := start; row < start+n; row++ {
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("user-%09d", row*7919%1_000_000_007))
			for i := range 6 {
				fb := b.Field(1 + i).(*array.Float64Builder)
				if i == 0 && r.Float64() < 0.02 {
					fb.AppendNull()
					continue
				}
				fb.Append(math.Round((float64(i*10)+r.NormFloat64()*float64(i+1))*1e4) / 1e4)
			}
			b.Field(7).(*array.Int64Builder).Append(18 + r.Int64N(70))
			b.Field(8).(*array.Int64Builder).Append(r.Int64N(240))
			b.Field(9).(*array.Int64Builder).Append(int64(r.ExpFloat64() * 12))
			b.Field(10).(*array.StringBuilder).Append(benchRegions[r.IntN(len(benchRegions))])
			b.Field(11).(*array.Int64Builder).Append(r.Int64N(2))
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	return recs
}

// benchShard builds the dataset once per benchmark: one shard of
// benchRows rows in batches of shard.DefaultBatchRows, lz4.
func benchShard(b *testing.B) *shard.Dataset {
	b.Helper()
	recs := benchRecords(benchRows, 50_000)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	ds := writeDataset(b, b.TempDir(), benchSchema(), recs, shard.Options{})
	if ds.NumShards() != 1 {
		b.Fatalf("%d shards, want 1", ds.NumShards())
	}
	return ds
}

func BenchmarkScanShard(b *testing.B) {
	ds := benchShard(b)
	ctx := context.Background()
	b.SetBytes(ds.Manifest.TotalBytes)
	b.ResetTimer()
	for range b.N {
		sc := ds.Scan(ctx, 0)
		for sc.Next() {
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
		sc.Close()
	}
	b.ReportMetric(float64(ds.Manifest.TotalRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkProfileShard(b *testing.B) {
	ds := benchShard(b)
	ctx := context.Background()
	b.SetBytes(ds.Manifest.TotalBytes)
	b.ResetTimer()
	for range b.N {
		if _, err := profile.Shard(ctx, ds, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ds.Manifest.TotalRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAccumulate is the statistics alone, on the benchmark's records
// in memory: what profile.Shard adds to the scan.
func BenchmarkAccumulate(b *testing.B) {
	recs := benchRecords(benchRows, shard.DefaultBatchRows)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.ResetTimer()
	for range b.N {
		acc := profile.NewAccumulator(benchSchema())
		for _, r := range recs {
			if err := acc.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		acc.Partial()
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
