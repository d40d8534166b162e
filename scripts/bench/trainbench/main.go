// Command trainbench measures one training member's step throughput (no
// all-reduce yet: the single-member baseline of issue 4's comparison with
// PyTorch DDP) on synthetic data it also writes for the Python peer:
// -data DIR gets X.f32 (rows×features float32, little-endian) and y.f32.
//
//	trainbench -model logistic|mlp -rows 262144 -features 64 -batch 1024 -epochs 2 -data DIR
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

func main() {
	family := flag.String("model", "logistic", "logistic or mlp (64→256→256→1)")
	rows := flag.Int("rows", 1<<18, "rows")
	feats := flag.Int("features", 64, "features")
	batch := flag.Int("batch", 1024, "rows per step")
	epochs := flag.Int("epochs", 2, "passes over the data")
	lr := flag.Float64("lr", 0.01, "Adam learning rate")
	dir := flag.String("data", "", "write X.f32 and y.f32 here for the peer")
	flag.Parse()
	X, y := synthetic(*rows, *feats)
	if *dir != "" {
		must(os.MkdirAll(*dir, 0o755))
		must(os.WriteFile(filepath.Join(*dir, "X.f32"), f32bytes(X), 0o644))
		must(os.WriteFile(filepath.Join(*dir, "y.f32"), f32bytes(y), 0o644))
	}
	spec := &model.Spec{Family: model.FamilyLogistic}
	if *family == "mlp" {
		spec = &model.Spec{Family: model.FamilyMLP, Objective: model.ObjectiveBinary, Hidden: []int{256, 256}}
	}
	for i := range *feats {
		spec.Features = append(spec.Features, model.Feature{Column: fmt.Sprintf("f%02d", i), Kind: model.KindNumeric, Std: 1})
	}
	obj, err := train.NewObjective(spec, 0)
	must(err)
	params := make([]float32, obj.NumParams())
	r := rand.New(rand.NewPCG(1, 2))
	for i := range params {
		params[i] = float32(r.NormFloat64() * math.Sqrt(2/float64(*feats)) * 0.5)
	}
	grad := make([]float32, len(params))
	opt := train.NewAdam(len(params), train.Constant(*lr))
	start := time.Now()
	steps := 0
	for range *epochs {
		for lo := 0; lo+*batch <= *rows; lo += *batch {
			clear(grad)
			obj.LossGrad(params, X[lo**feats:(lo+*batch)**feats], y[lo:lo+*batch], *batch, grad)
			opt.Step(params, grad, *batch)
			steps++
		}
	}
	el := time.Since(start)
	clear(grad)
	loss := obj.LossGrad(params, X, y, *rows, grad) / float64(*rows)
	fmt.Printf("| nightshift (1 member, Go) | %s | %d | %.0f | %.4f |\n", *family, steps, float64(steps**batch)/el.Seconds(), loss)
}

// synthetic draws Gaussian features and labels from a fixed logistic model.
func synthetic(rows, feats int) ([]float32, []float32) {
	r := rand.New(rand.NewPCG(7, 7))
	w := make([]float64, feats)
	for i := range w {
		w[i] = r.NormFloat64() * 0.5
	}
	X, y := make([]float32, rows*feats), make([]float32, rows)
	for i := range rows {
		z := 0.0
		for j := range feats {
			x := r.NormFloat64()
			X[i*feats+j] = float32(x)
			z += w[j] * x
		}
		if r.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	return X, y
}

func f32bytes(v []float32) []byte {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		log.Fatal("trainbench: big-endian machines not supported")
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
