// Command lbfgsbench is nightshift's side of scripts/bench/lbfgs.sh: it
// generates a synthetic logistic-regression dataset, splits a
// deterministic holdout, writes both parts to -dir as raw little-endian
// float32 files (train_X.f32, train_y.f32, test_X.f32, test_y.f32, plus
// meta.json) for scripts/bench/lbfgs_sklearn.py, fits logistic
// regression with L2 by full-batch L-BFGS (worker/train) — in one process,
// and as a 2-member training group (train.Trainer over the ring all-reduce,
// as a training job runs it) — and prints one JSON line: holdout logloss,
// fit time, iterations.
//
// The objective is mean log loss + λ/2·‖w‖² (bias unpenalised), which is
// scikit-learn's C·Σ log loss + ½‖w‖² with C = 1/(λ·n_train).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

type meta struct {
	TrainRows int     `json:"train_rows"`
	TestRows  int     `json:"test_rows"`
	Dim       int     `json:"dim"`
	L2        float64 `json:"l2"`
	C         float64 `json:"C"`
}

func main() {
	rows := flag.Int("rows", 200000, "rows generated (train + holdout)")
	dim := flag.Int("dim", 64, "features")
	seed := flag.Uint64("seed", 1, "generator seed")
	holdout := flag.Float64("holdout", 0.2, "holdout fraction")
	l2 := flag.Float64("l2", 1e-4, "L2 strength λ of mean loss + λ/2‖w‖²")
	gtol := flag.Float64("gtol", 1e-9, "L-BFGS gradient tolerance (max |g|, mean scale)")
	dir := flag.String("dir", "", "output folder (required)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "lbfgsbench: -dir is required")
		os.Exit(2)
	}
	if err := run(*rows, *dim, *seed, *holdout, *l2, *gtol, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "lbfgsbench:", err)
		os.Exit(1)
	}
}

func run(rows, dim int, seed uint64, holdout, l2, gtol float64, dir string) error {
	trX, trY, teX, teY := generate(rows, dim, seed, holdout)
	ntr, nte := len(trY), len(teY)
	m := meta{TrainRows: ntr, TestRows: nte, Dim: dim, L2: l2, C: 1 / (l2 * float64(ntr))}
	for name, v := range map[string][]float32{"train_X.f32": trX, "train_y.f32": trY, "test_X.f32": teX, "test_y.f32": teY} {
		if err := writeF32(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	mb, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), mb, 0o644); err != nil {
		return err
	}

	spec := &model.Spec{FormatVersion: model.FormatVersion, Family: model.FamilyLogistic}
	for k := range dim {
		spec.Features = append(spec.Features, model.Feature{Column: fmt.Sprintf("x%d", k), Kind: model.KindNumeric, Std: 1, Missing: model.MissingImpute})
	}
	obj, err := train.NewObjective(spec, l2)
	if err != nil {
		return err
	}
	params := make([]float32, obj.NumParams())
	start := time.Now()
	res, err := train.LBFGS(obj, trX, trY, ntr, params, train.LBFGSOptions{GradTol: gtol, MaxIter: 10000})
	fit := time.Since(start)
	if err != nil {
		return err
	}
	gp, giters, gevals, gfit, err := groupFit(2, *spec, trX, trY, dim, l2, gtol)
	if err != nil {
		return err
	}
	out := map[string]any{
		"group_holdout_logloss": logloss(gp, teX, teY, dim),
		"group_fit_s":           gfit.Seconds(),
		"group_iterations":      giters,
		"group_evaluations":     gevals,
		"go_holdout_logloss":    logloss(params, teX, teY, dim),
		"go_train_objective":    res.Loss,
		"go_fit_s":              fit.Seconds(),
		"go_iterations":         res.Iterations,
		"go_evaluations":        res.Evaluations,
		"go_grad_max":           res.GradMax,
		"go_reason":             res.Reason,
		"train_rows":            ntr,
		"test_rows":             nte,
		"dim":                   dim,
		"l2":                    l2,
		"C":                     m.C,
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return nil
}

// generate draws rows of standard normal features (a few rescaled and
// correlated) and Bernoulli labels from a true logistic model; row r goes
// to the holdout when a hash of (seed, r) falls below holdout.
func generate(rows, dim int, seed uint64, holdout float64) (trX, trY, teX, teY []float32) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	w := make([]float64, dim)
	for k := range w {
		w[k] = rng.NormFloat64() * 0.4
	}
	x := make([]float32, dim)
	for r := range rows {
		z := -0.5
		for k := range x {
			v := rng.NormFloat64()
			if k > 0 && k%4 == 0 {
				v = 0.6*float64(x[k-1]) + 0.8*v // correlated neighbours
			}
			x[k] = float32(v)
			z += w[k] * float64(x[k])
		}
		var y float32
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y = 1
		}
		if float64(splitmix(seed^uint64(r))>>11)/(1<<53) < holdout {
			teX, teY = append(teX, x...), append(teY, y)
		} else {
			trX, trY = append(trX, x...), append(trY, y)
		}
	}
	return trX, trY, teX, teY
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// logloss is the mean log loss of the logistic model params on (X, y),
// in float64.
func logloss(params, X, y []float32, dim int) float64 {
	var s float64
	for r := range y {
		z := float64(params[dim])
		for k, v := range X[r*dim : (r+1)*dim] {
			z += float64(v) * float64(params[k])
		}
		s += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - float64(y[r])*z
	}
	return s / float64(len(y))
}

func writeF32(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
