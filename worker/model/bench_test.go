package model_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/worker/model"
)

const benchRows = 65536

// sampleRecord returns the first rows of a 64-feature sample dataset.
func sampleRecord(b *testing.B, rows int) (arrow.Record, *sample.Truth) {
	b.Helper()
	spec := sample.Spec{Files: 1, RowsPerFile: rows, Features: 64, Seed: 1}
	var rec arrow.Record
	err := sample.Batches(context.Background(), spec, 0, rows, func(r arrow.Record) error {
		r.Retain()
		rec = r
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return rec, sample.NewTruth(spec)
}

func benchPredict(b *testing.B, m *model.Model, rec arrow.Record) {
	b.Helper()
	p := m.NewPredictor()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, err := p.Predict(rec)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range out {
			a.Release()
		}
	}
	b.ReportMetric(float64(rec.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPredictLogistic64 scores the sample's true model (70 numeric
// columns, 3 hashed categoricals) on 65536-row records.
func BenchmarkPredictLogistic64(b *testing.B) {
	rec, truth := sampleRecord(b, benchRows)
	defer rec.Release()
	m, err := model.FromTruth(truth)
	if err != nil {
		b.Fatal(err)
	}
	benchPredict(b, m, rec)
}

// BenchmarkPredictMLP scores an mlp 64→256→256→1 (binary) on 65536-row
// records of 64 float64 columns.
func BenchmarkPredictMLP(b *testing.B) {
	rec, feats := denseRecord(64, benchRows)
	defer rec.Release()
	s := spec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, nil, feats...)
	m, err := model.New(s, randomWeights(s, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(2*(64*256+256*256+256)), "flop/row")
	benchPredict(b, m, rec)
}

// BenchmarkPredictSoftmax scores a 10-class softmax on the sample's columns.
func BenchmarkPredictSoftmax(b *testing.B) {
	rec, truth := sampleRecord(b, benchRows)
	defer rec.Release()
	lr, err := model.FromTruth(truth)
	if err != nil {
		b.Fatal(err)
	}
	s := lr.Spec
	s.Family, s.Classes = model.FamilySoftmax, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	m, err := model.New(s, randomWeights(s, 2))
	if err != nil {
		b.Fatal(err)
	}
	benchPredict(b, m, rec)
}

// denseRecord makes a record of n standard normal float64 columns.
func denseRecord(n, rows int) (arrow.Record, []model.Feature) {
	r := rand.New(rand.NewPCG(1, 1))
	fields := make([]arrow.Field, n)
	feats := make([]model.Feature, n)
	cols := make([]arrow.Array, n)
	for j := range n {
		name := fmt.Sprintf("x%02d", j)
		fields[j] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64}
		feats[j] = num(name, 0, 1, model.MissingImpute)
		bld := array.NewFloat64Builder(memory.DefaultAllocator)
		for range rows {
			bld.Append(r.NormFloat64())
		}
		cols[j] = bld.NewArray()
		bld.Release()
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, feats
}

// The PyTorch comparison (scripts/bench/kernels.sh): an mlp 64→256→256→1
// (binary) and a softmax 64→10, both on 64 numeric float64 columns with
// non-trivial means and stds, He-scaled N(0, 2/in) weights drawn from a
// fixed seed. BenchmarkScoreVsTorch times Predict on a 65536-row record:
// the feature pipeline (standardising the float64 columns into float32
// row-major blocks), the model, and the float64 output columns
// (probabilities; and the class for softmax). TestWriteTorchFixture
// writes the same inputs, weights and Predict's outputs for
// scripts/bench/score_torch.py, which checks that PyTorch computes the same
// probabilities and times the same work.

const torchFeatures = 64

// torchBenchModels returns the two models of the PyTorch comparison and
// their 65536-row record.
func torchBenchModels(tb testing.TB) (rec arrow.Record, mlp, softmax *model.Model) {
	tb.Helper()
	rec, feats := denseRecord(torchFeatures, benchRows)
	for j := range feats {
		feats[j].Mean, feats[j].Std = 0.05*float64(j%7)-0.1, 0.8+0.01*float64(j)
	}
	r := rand.New(rand.NewPCG(42, 7))
	he := func(s model.Spec) []float32 {
		var w []float32
		for _, sh := range s.LayerShapes() {
			sd := math.Sqrt(2 / float64(sh[0]))
			for range sh[0]*sh[1] + sh[1] {
				w = append(w, float32(r.NormFloat64()*sd))
			}
		}
		return w
	}
	s := spec(model.FamilyMLP, model.ObjectiveBinary, []int{256, 256}, nil, feats...)
	mlp, err := model.New(s, he(s))
	if err != nil {
		tb.Fatal(err)
	}
	s = spec(model.FamilySoftmax, "", nil, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, feats...)
	softmax, err = model.New(s, he(s))
	if err != nil {
		tb.Fatal(err)
	}
	return rec, mlp, softmax
}

// BenchmarkScoreVsTorch scores the PyTorch comparison's models: rows/s
// per core with -cpu 1.
func BenchmarkScoreVsTorch(b *testing.B) {
	rec, mlp, softmax := torchBenchModels(b)
	defer rec.Release()
	b.Run("mlp", func(b *testing.B) {
		b.ReportMetric(float64(2*(64*256+256*256+256)), "flop/row")
		benchPredict(b, mlp, rec)
	})
	b.Run("softmax", func(b *testing.B) { benchPredict(b, softmax, rec) })
}

// TestWriteTorchFixture writes, when NIGHTSHIFT_TORCH_FIXTURE names a
// folder, the PyTorch comparison's inputs and Go's outputs, all
// little-endian: x.f64 (the 64 columns, column after column), mean.f64
// and std.f64 (per feature), mlp.f32 and softmax.f32 (weights.bin),
// mlp.out.f64 (one probability per row), softmax.out.f64 (10 columns of
// probabilities, column after column) and softmax.cls.i32.
func TestWriteTorchFixture(t *testing.T) {
	dir := os.Getenv("NIGHTSHIFT_TORCH_FIXTURE")
	if dir == "" {
		t.Skip("NIGHTSHIFT_TORCH_FIXTURE not set")
	}
	rec, mlp, softmax := torchBenchModels(t)
	defer rec.Release()
	var x, mean, std []float64
	for j := range torchFeatures {
		x = append(x, rec.Column(j).(*array.Float64).Float64Values()...)
		mean, std = append(mean, mlp.Spec.Features[j].Mean), append(std, mlp.Spec.Features[j].Std)
	}
	write := func(name string, data any) {
		var buf bytes.Buffer
		if err := binary.Write(&buf, binary.LittleEndian, data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("x.f64", x)
	write("mean.f64", mean)
	write("std.f64", std)
	for _, m := range []struct {
		name string
		m    *model.Model
	}{{"mlp", mlp}, {"softmax", softmax}} {
		write(m.name+".f32", m.m.Weights())
		out, err := m.m.NewPredictor().Predict(rec)
		if err != nil {
			t.Fatal(err)
		}
		var probs []float64
		for _, a := range out {
			switch a := a.(type) {
			case *array.Float64:
				probs = append(probs, a.Float64Values()...)
			case *array.String: // predicted_class: the classes are "0" … "9"
				cls := make([]int32, a.Len())
				for r := range cls {
					c, err := strconv.Atoi(a.Value(r))
					if err != nil {
						t.Fatal(err)
					}
					cls[r] = int32(c)
				}
				write(m.name+".cls.i32", cls)
			}
			a.Release()
		}
		write(m.name+".out.f64", probs)
	}
}
