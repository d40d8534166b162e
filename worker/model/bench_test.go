package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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
