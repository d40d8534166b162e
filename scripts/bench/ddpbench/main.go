// Command ddpbench is nightshift's side of issue 4's data-parallel
// training benchmark at n members: one process per member, each running
// the real training member (worker/train.Trainer: the epoch's permutation,
// its share of every global batch, the gradient summed by the ring
// all-reduce over gRPC, the optimiser step) on the synthetic data
// trainbench wrote (X.f32, y.f32). Rank 0 prints a Markdown row with
// samples/s and the final logloss over all rows.
//
//	ddpbench -rank R -world N -data DIR -model logistic|mlp -batch 1024 -epochs 2 -rows 262144
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/scripts/bench/benchgroup"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

func main() {
	rank := flag.Int("rank", 0, "this member's rank")
	world := flag.Int("world", 1, "members")
	port := flag.Int("port", 29600, "rank r listens on port+r")
	dir := flag.String("data", "", "folder holding X.f32 and y.f32")
	family := flag.String("model", "logistic", "logistic or mlp (64→256→256→1)")
	feats := flag.Int("features", 64, "features per row")
	batch := flag.Int("batch", 1024, "rows per member per step")
	epochs := flag.Int("epochs", 2, "passes over the data")
	rows := flag.Int("rows", 1<<18, "rows to use")
	lr := flag.Float64("lr", 0.01, "Adam learning rate")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the training run here")
	flag.Parse()

	X, y := readF32(filepath.Join(*dir, "X.f32")), readF32(filepath.Join(*dir, "y.f32"))
	X, y = X[:*rows**feats], y[:*rows]
	spec := model.Spec{Family: model.FamilyLogistic}
	if *family == "mlp" {
		spec = model.Spec{Family: model.FamilyMLP, Objective: model.ObjectiveBinary, Hidden: []int{256, 256}}
	}
	for i := range *feats {
		spec.Features = append(spec.Features, model.Feature{Column: fmt.Sprintf("f%02d", i), Kind: model.KindNumeric, Std: 1})
	}
	data, err := train.FromMatrix(X, y, *feats, spec)
	must(err)
	sp := &pb.TrainSpec{Model: &pb.ModelConfig{Family: *family, Objective: spec.Objective}, Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: *lr},
		Epochs: int32(*epochs), BatchPerMember: int32(*batch), MinMembers: int32(*world), MaxMembers: int32(*world), Seed: 1}
	if *family == "mlp" {
		sp.Model.Hidden = []int32{256, 256}
	}
	tr := train.NewTrainer(sp, data)

	addrs := benchgroup.Addrs(*world, *port)
	ctx := context.Background()
	g, leave, err := benchgroup.Join(ctx, collective.Config{Group: "bench", Generation: 1, Rank: *rank, Addrs: addrs})
	must(err)
	defer leave()
	must(g.Barrier(ctx))
	if *prof != "" {
		f, err := os.Create(*prof)
		must(err)
		must(pprof.StartCPUProfile(f))
	}
	start := time.Now()
	must(tr.Generation(ctx, g, 1, addrs, 0, train.Hooks{}))
	el := time.Since(start)
	pprof.StopCPUProfile()
	st := tr.State()
	if *rank != 0 {
		return
	}
	mspec := spec
	obj, err := train.NewObjective(&mspec, 0)
	must(err)
	grad := make([]float32, obj.NumParams())
	loss := obj.LossGrad(st.Params, X, y, *rows, grad) / float64(*rows)
	fmt.Printf("| nightshift (%d member%s, ring all-reduce over gRPC) | %s | %d | %.0f | %.4f |\n",
		*world, plural(*world), *family, st.Step, float64(st.Samples)/el.Seconds(), loss)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func readF32(path string) []float32 {
	b, err := os.ReadFile(path)
	must(err)
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
