// Command streambench measures issue 14's training data path: one process
// per member, each running the real training member (worker/train: Load
// with its data-path choice, the epoch plan, windows read from storage or
// copied from memory, the ring all-reduce over gRPC) on a dataset in
// storage (file:// or s3:// through NIGHTSHIFT_S3_ENDPOINT and the AWS
// variables). Every member prints a Markdown row: data path, rows,
// samples/s over the training run, the peak resident memory of its
// process (VmHWM) and the bytes its data path holds by its own estimate.
//
//	streambench -write URI -rows N            generate (parquet) and ingest a dataset
//	streambench -rank R -world N -dataset URI -path memory|stream -budget MB
//	streambench -export DIR -dataset URI      write the training rows' model inputs and
//	                                          labels (X.f32, y.f32) for PyTorch's side
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/scripts/bench/benchgroup"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/train"
)

func main() {
	write := flag.String("write", "", "generate and ingest a dataset at this URI, then exit")
	export := flag.String("export", "", "write the training rows' inputs and labels to this folder, then exit")
	rows := flag.Int("rows", 1<<20, "rows to generate")
	rank := flag.Int("rank", 0, "this member's rank")
	world := flag.Int("world", 1, "members")
	port := flag.Int("port", 29700, "rank r listens on port+r")
	dataset := flag.String("dataset", "", "dataset to train on")
	path := flag.String("path", "auto", "data path: auto, memory or stream")
	budget := flag.Int64("budget", 1024, "memory budget per member, MiB")
	batch := flag.Int("batch", 1024, "rows per member per step")
	epochs := flag.Int("epochs", 1, "passes over the data")
	flag.Parse()
	ctx := context.Background()
	st := storage.ConfigFromEnv()
	if *write != "" {
		must(writeDataset(ctx, st, *write, *rows))
		return
	}

	sp := &pb.TrainSpec{Dataset: *dataset, Label: "label", ModelName: "bench", Output: "file:///unused",
		Model: &pb.ModelConfig{Family: "logistic", L2: 1e-4}, Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: 0.01},
		Epochs: int32(*epochs), BatchPerMember: int32(*batch), MinMembers: int32(*world), MaxMembers: int32(*world),
		Seed: 1, Holdout: 0.1, MemoryBudgetMb: *budget, DataPath: *path}
	for _, c := range sample.NewTruth(benchSpec(0)).Features {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "numeric"})
	}
	for _, c := range []string{"region", "device", "plan"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "categorical", Buckets: 16})
	}
	if *export != "" {
		*world, *rank, *epochs, sp.Epochs, sp.DataPath, sp.MemoryBudgetMb = 1, 0, 1, 1, "memory", 1<<20
		sp.MinMembers, sp.MaxMembers = 1, 1
	}
	data, err := train.Load(ctx, st, sp)
	must(err)
	defer data.Release()
	tr := train.NewTrainer(sp, data)

	addrs := benchgroup.Addrs(*world, *port)
	g, leave, err := benchgroup.Join(ctx, collective.Config{Group: "stream", Generation: 1, Rank: *rank, Addrs: addrs})
	must(err)
	defer leave()
	must(g.Barrier(ctx))
	start := time.Now()
	must(tr.Generation(ctx, g, 1, addrs, 0, train.Hooks{}))
	el := time.Since(start)
	if *export != "" {
		must(exportRows(*export, data))
		return
	}
	st2 := tr.State()
	fmt.Printf("| %s | %d | %d | %d | %.0f | %.0f | %.1f | %.4f |\n", data.Path, data.Rows, *budget, *rank,
		float64(st2.Samples)/el.Seconds(), float64(peakRSS())/(1<<20), float64(data.Held)/(1<<20), st2.Epochs[len(st2.Epochs)-1].Holdout["logloss"])
}

func benchSpec(rows int) sample.Spec {
	return sample.Spec{Files: 8, RowsPerFile: rows / 8, Features: 8, Seed: 3, Format: "parquet"}
}

// writeDataset generates rows rows of the sample (6 named numeric columns,
// 8 Gaussian ones, 3 categorical, id and label) as parquet and ingests
// them into 65536-row batches at uri.
func writeDataset(ctx context.Context, st storage.Config, uri string, rows int) error {
	if err := storage.MakeBucket(ctx, uri, st); err != nil {
		return err
	}
	b, key, err := storage.Open(ctx, uri+"-raw", st)
	if err != nil {
		return err
	}
	if _, err := sample.Write(ctx, b, key, benchSpec(rows)); err != nil {
		return err
	}
	res, err := shard.Ingest(ctx, st, []string{uri + "-raw/raw/"}, uri, shard.Options{RowsPerShard: 1 << 20, BatchRows: 65536}, shard.RunOptions{Parallel: 2})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "streambench: %s: %d rows in %d shards\n", res.URI, res.Manifest.TotalRows, len(res.Manifest.Shards))
	return nil
}

// exportRows writes the training rows (holdout blocks left out) of data,
// after a training run built its matrix, as raw little-endian float32.
func exportRows(dir string, d *train.Data) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	held := map[int64]bool{}
	for _, b := range d.HoldBlocks {
		held[b] = true
	}
	var X, y []float32
	for r := range int64(d.Rows) {
		if !held[r/train.HoldoutBlock] {
			X = append(X, d.X[r*int64(d.Dim):(r+1)*int64(d.Dim)]...)
			y = append(y, d.Label[r])
		}
	}
	for name, v := range map[string][]float32{"X.f32": X, "y.f32": y} {
		if err := os.WriteFile(filepath.Join(dir, name), unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "streambench: %d training rows × %d inputs in %s\n", len(y), d.Dim, dir)
	return nil
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
