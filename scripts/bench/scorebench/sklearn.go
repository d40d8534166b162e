package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard/sample"
)

type sklearnResult struct {
	Rows       int       `json:"rows"`
	Cols       int       `json:"cols"`
	Seconds    []float64 `json:"seconds"`
	CPUSeconds []float64 `json:"cpu_seconds"`
	MaxAbsDiff float64   `json:"max_abs_diff"`
	Version    string    `json:"sklearn_version"`
	Threads    string    `json:"threads"`
}

// runSklearn writes the rows of recs as a float64 matrix (numeric
// features raw with missing values at the mean, categoricals one-hot), the
// equivalent coefficients and the Go probabilities, and runs the helper.
func runSklearn(c config, t *sample.Truth, recs []arrow.Record, probs []float64) (*sklearnResult, error) {
	dir, err := os.MkdirTemp("", "scorebench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	X, coef, intercept := designMatrix(t, recs)
	cols := len(coef)
	if err := writeFloats(filepath.Join(dir, "x.f64"), X); err != nil {
		return nil, err
	}
	if err := writeFloats(filepath.Join(dir, "go_proba.f64"), probs); err != nil {
		return nil, err
	}
	params, _ := json.Marshal(map[string]any{"coef": coef, "intercept": intercept, "rows": len(probs), "cols": cols, "reps": max(c.reps, 3)})
	if err := os.WriteFile(filepath.Join(dir, "params.json"), params, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.python, c.sklearn, dir)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", "BLIS_NUM_THREADS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.python, c.sklearn, err)
	}
	var res sklearnResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("sklearn helper output %q: %w", out, err)
	}
	return &res, nil
}

// designMatrix lays the rows out as scikit-learn sees them. The truth's
// z = (x-mean)/std becomes coefficient w/std on raw x, and the intercept
// absorbs -w*mean/std; a missing income is set to its mean (no effect).
func designMatrix(t *sample.Truth, recs []arrow.Record) (X, coef []float64, intercept float64) {
	intercept = t.Bias
	for _, f := range t.Features {
		coef = append(coef, t.Weights[f]/t.Stds[f])
		intercept -= t.Weights[f] * t.Means[f] / t.Stds[f]
	}
	type cat struct {
		col    string
		levels []string
		effect map[string]float64
	}
	var cats []cat
	for _, c := range []cat{{col: "region", effect: t.Region}, {col: "device", effect: t.Device}, {col: "plan", effect: t.Plan}} {
		for lv := range c.effect {
			c.levels = append(c.levels, lv)
		}
		slices.Sort(c.levels)
		for _, lv := range c.levels {
			coef = append(coef, c.effect[lv])
		}
		cats = append(cats, c)
	}
	cols := len(coef)
	for _, rec := range recs {
		idx := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		base := len(X)
		X = append(X, make([]float64, int(rec.NumRows())*cols)...)
		for j, f := range t.Features {
			a := idx(f)
			for r := range int(rec.NumRows()) {
				v := t.Means[f]
				if !a.IsNull(r) {
					switch c := a.(type) {
					case *array.Float64:
						v = c.Value(r)
					case *array.Int64:
						v = float64(c.Value(r))
					}
				}
				X[base+r*cols+j] = v
			}
		}
		off := len(t.Features)
		for _, c := range cats {
			a := idx(c.col).(*array.String)
			for r := range int(rec.NumRows()) {
				if k, ok := slices.BinarySearch(c.levels, a.Value(r)); ok {
					X[base+r*cols+off+k] = 1
				}
			}
			off += len(c.levels)
		}
	}
	return X, coef, intercept
}

func writeFloats(path string, v []float64) error {
	buf := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
	}
	return os.WriteFile(path, buf, 0o644)
}
