package sample

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Spec says what to generate.
type Spec struct {
	Files       int    // number of source objects
	RowsPerFile int    // rows in each
	Features    int    // extra Gaussian features f00, f01, ... beside the named ones
	Seed        uint64 // same seed, same bytes
	Format      string // csv (default), parquet, arrow or jsonl
}

// Categorical levels and their true effects on the log-odds.
var (
	Regions       = []string{"north", "south", "east", "west", "central", "coast", "mountain", "islands"}
	RegionEffect  = []float64{0.2, -0.1, 0.05, -0.3, 0.0, 0.15, -0.2, 0.4}
	Devices       = []string{"ios", "android", "web"}
	DeviceEffect  = []float64{0.3, 0.0, -0.25}
	Plans         = []string{"free", "basic", "pro"}
	PlanEffect    = []float64{0.5, 0.0, -0.6}
	namedFeatures = []string{"age", "income", "tenure_months", "purchases", "avg_basket", "days_since_last"}
)

// Truth is the logistic model the labels were drawn from, in terms of the
// standardised numeric features (z = (x - mean) / std).
type Truth struct {
	Bias     float64            `json:"bias"`
	Weights  map[string]float64 `json:"weights"`
	Means    map[string]float64 `json:"means"`
	Stds     map[string]float64 `json:"stds"`
	Region   map[string]float64 `json:"region"`
	Device   map[string]float64 `json:"device"`
	Plan     map[string]float64 `json:"plan"`
	Rows     int64              `json:"rows"`
	Features []string           `json:"features"`
}

// NewTruth returns the generating model for spec.
func NewTruth(spec Spec) *Truth {
	t := &Truth{Bias: -0.4, Weights: map[string]float64{
		"age": -0.3, "income": -0.5, "tenure_months": -0.8, "purchases": 0.4, "avg_basket": 0.2, "days_since_last": 0.9,
	}, Means: map[string]float64{
		"age": 45, "income": 52000, "tenure_months": 36, "purchases": 12, "avg_basket": 60, "days_since_last": 30,
	}, Stds: map[string]float64{
		"age": 14, "income": 18000, "tenure_months": 24, "purchases": 3.5, "avg_basket": 25, "days_since_last": 20,
	}, Region: levels(Regions, RegionEffect), Device: levels(Devices, DeviceEffect), Plan: levels(Plans, PlanEffect),
		Rows: int64(spec.Files) * int64(spec.RowsPerFile)}
	t.Features = append(t.Features, namedFeatures...)
	r := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	for i := range spec.Features {
		name := fmt.Sprintf("f%02d", i)
		t.Features = append(t.Features, name)
		t.Weights[name] = math.Round(r.NormFloat64()*0.5*100) / 100
		t.Means[name], t.Stds[name] = 0, 1
	}
	return t
}

func levels(names []string, effects []float64) map[string]float64 {
	m := make(map[string]float64, len(names))
	for i, n := range names {
		m[n] = effects[i]
	}
	return m
}

// Schema returns the generated columns: id, the numeric features, the
// categoricals and the label.
func Schema(spec Spec) *arrow.Schema {
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}
	for _, name := range NewTruth(spec).Features {
		dt := arrow.DataType(arrow.PrimitiveTypes.Float64)
		if name == "tenure_months" || name == "purchases" {
			dt = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: true})
	}
	for _, c := range []string{"region", "device", "plan"} {
		fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

// batch builds rows [first, first+n) of the dataset. Row values depend only
// on the seed and the row's id, so files can be generated in any order.
func batch(spec Spec, t *Truth, schema *arrow.Schema, first int64, n int) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Reserve(n)
	feats := t.Features
	for row := first; row < first+int64(n); row++ {
		r := rand.New(rand.NewPCG(spec.Seed, uint64(row)))
		b.Field(0).(*array.Int64Builder).Append(row)
		logit := t.Bias
		for j, name := range feats {
			x := t.Means[name] + t.Stds[name]*r.NormFloat64()
			switch name {
			case "age":
				x = math.Round(math.Min(90, math.Max(18, x)))
			case "income", "tenure_months", "purchases":
				x = math.Max(0, math.Round(x))
			case "avg_basket", "days_since_last":
				x = math.Round(math.Abs(x)*100) / 100
			default:
				x = math.Round(x*1e6) / 1e6
			}
			fb := b.Field(1 + j)
			if name == "income" && r.Float64() < 0.02 {
				fb.AppendNull() // 2% of incomes are missing: no effect on the log-odds (imputed at the mean)
				continue
			}
			logit += t.Weights[name] * (x - t.Means[name]) / t.Stds[name]
			if name == "tenure_months" || name == "purchases" {
				fb.(*array.Int64Builder).Append(int64(x))
			} else {
				fb.(*array.Float64Builder).Append(x)
			}
		}
		col := 1 + len(feats)
		for k, lv := range [][]string{Regions, Devices, Plans} {
			i := r.IntN(len(lv))
			b.Field(col + k).(*array.StringBuilder).Append(lv[i])
			logit += [][]float64{RegionEffect, DeviceEffect, PlanEffect}[k][i]
		}
		label := int64(0)
		if r.Float64() < 1/(1+math.Exp(-logit)) {
			label = 1
		}
		b.Field(col + 3).(*array.Int64Builder).Append(label)
	}
	return b.NewRecord()
}

// Batches calls fn with the rows of file f in batches of at most batchRows.
func Batches(ctx context.Context, spec Spec, f, batchRows int, fn func(arrow.Record) error) error {
	t, schema := NewTruth(spec), Schema(spec)
	first := int64(f) * int64(spec.RowsPerFile)
	for off := 0; off < spec.RowsPerFile; off += batchRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := batch(spec, t, schema, first+int64(off), min(batchRows, spec.RowsPerFile-off))
		err := fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
