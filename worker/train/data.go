package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// ErrBadData is wrapped by errors in the dataset itself (a null label, a
// label that is not 0 or 1, a value the pipeline cannot take): retrying
// cannot help, and the message names the shard and the row.
var ErrBadData = errors.New("bad training data")

// Data is a training dataset held in memory by every member: its record
// batches (for evaluation through the scoring code), its labels, the
// training/holdout split and, once the feature statistics are known, the
// pipeline's output as one row-major float32 matrix.
type Data struct {
	URI         string
	Fingerprint string
	Task        EvalTask
	Spec        model.Spec // family, shape and pipeline; no statistics yet
	Records     []arrow.Record
	starts      []int64 // global index of each record's first row, plus the total
	recShard    []int   // shard of each record, for error messages
	ds          *shard.Dataset
	Label       []float32 // per global row: 0/1, the target, or the class index
	Rows        int
	Train       []int32 // global rows used for training, in dataset order
	HoldBlocks  []int64 // holdout row blocks (HoldoutBlock rows each), in order
	HoldRows    int
	X           []float32 // Rows × Dim, after Build
	Dim         int
	numericCols []int // pipeline feature index of each numeric feature
}

// Load reads a training dataset into memory: every shard's batches,
// checksums verified. It resolves the feature pipeline (the spec's, or
// every column but the label), decodes the labels and splits the rows
// into training rows and holdout blocks by the seed.
func Load(ctx context.Context, st storage.Config, sp *pb.TrainSpec) (*Data, error) {
	ds, err := shard.OpenDataset(ctx, st, sp.Dataset)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", sp.Dataset, err)
	}
	d := &Data{URI: ds.URI, Fingerprint: ds.Manifest.Fingerprint, ds: ds}
	if err := d.resolveSpec(sp, ds.Schema); err != nil {
		d.Release()
		return nil, fmt.Errorf("%w: dataset %s: %v", ErrBadData, ds.URI, err)
	}
	for i := range ds.NumShards() {
		if err := d.readShard(ctx, i); err != nil {
			d.Release()
			return nil, err
		}
	}
	d.starts = append(d.starts, int64(d.Rows))
	if err := d.decodeLabels(sp); err != nil {
		d.Release()
		return nil, err
	}
	d.split(sp.Seed, sp.Holdout)
	if len(d.Train) == 0 {
		d.Release()
		return nil, fmt.Errorf("%w: dataset %s: no training rows left after a holdout of %g", ErrBadData, ds.URI, sp.Holdout)
	}
	return d, nil
}

func (d *Data) readShard(ctx context.Context, i int) error {
	sc := d.ds.Scan(ctx, i)
	defer sc.Close()
	for sc.Next() {
		rec := sc.Record()
		rec.Retain()
		d.Records = append(d.Records, rec)
		d.starts = append(d.starts, int64(d.Rows))
		d.recShard = append(d.recShard, i)
		d.Rows += int(rec.NumRows())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", d.ds.ShardURI(i), err)
	}
	return nil
}

// ShardRecords returns the record batches grouped by shard, in shard
// order: what a per-shard statistics pass reads.
func (d *Data) ShardRecords() [][]arrow.Record {
	out := make([][]arrow.Record, d.ds.NumShards())
	for i, rec := range d.Records {
		out[d.recShard[i]] = append(out[d.recShard[i]], rec)
	}
	return out
}

// Schema is the dataset's schema.
func (d *Data) Schema() *arrow.Schema { return d.ds.Schema }

// Release drops the record batches.
func (d *Data) Release() {
	for _, r := range d.Records {
		r.Release()
	}
	d.Records = nil
}

// where names a global row for error messages: its shard and row there.
func (d *Data) where(row int64) string {
	r, _ := slices.BinarySearch(d.starts, row+1)
	r--
	sh := d.recShard[r]
	return fmt.Sprintf("%s row %d", d.ds.ShardURI(sh), row-d.shardStart(sh))
}

func (d *Data) shardStart(sh int) int64 {
	i := slices.Index(d.recShard, sh)
	return d.starts[i]
}

// resolveSpec builds the model spec (family, shape, pipeline) from the
// training spec and the dataset schema.
func (d *Data) resolveSpec(sp *pb.TrainSpec, schema *arrow.Schema) error {
	mc := sp.GetModel()
	s := model.Spec{FormatVersion: model.FormatVersion, Family: mc.GetFamily(), Label: sp.Label, Weights: model.WeightsRef{File: model.WeightsFile}}
	switch mc.GetFamily() {
	case model.FamilyLinear:
		d.Task = EvalRegression
	case model.FamilyLogistic:
		d.Task = EvalBinary
	case model.FamilySoftmax:
		d.Task = EvalMulticlass
	case model.FamilyMLP:
		s.Objective = mc.Objective
		for _, h := range mc.Hidden {
			s.Hidden = append(s.Hidden, int(h))
		}
		d.Task = map[string]EvalTask{model.ObjectiveRegression: EvalRegression, model.ObjectiveBinary: EvalBinary, model.ObjectiveMulticlass: EvalMulticlass}[mc.Objective]
		if d.Task == 0 {
			return fmt.Errorf("model.objective %q: want binary, regression or multiclass", mc.Objective)
		}
	default:
		return fmt.Errorf("model.family %q: want linear, logistic, softmax or mlp", mc.GetFamily())
	}
	if schema.FieldIndices(sp.Label) == nil {
		return fmt.Errorf("label column %q is not in the dataset", sp.Label)
	}
	feats := sp.Features
	if len(feats) == 0 {
		for _, f := range schema.Fields() {
			if f.Name == sp.Label {
				continue
			}
			kind, ok := defaultKind(f.Type)
			if !ok {
				return fmt.Errorf("column %q has type %s, which no feature kind takes: list the features in the job's features", f.Name, f.Type)
			}
			feats = append(feats, &pb.FeatureSpec{Column: f.Name, Kind: kind})
		}
	}
	for _, f := range feats {
		// The coordinator normalised the spec (jobspec.Train); the
		// defaults below serve the features derived from the schema when
		// the spec lists none (and specs built by tests and benchmarks),
		// from jobspec's constants.
		mf := model.Feature{Column: f.Column, Kind: f.Kind, Missing: f.Missing}
		if mf.Missing == "" {
			mf.Missing = jobspec.DefaultMissing
		}
		switch f.Kind {
		case model.KindNumeric:
			d.numericCols = append(d.numericCols, len(s.Features))
			mf.Mean, mf.Std = 0, 1
		case model.KindCategorical:
			mf.Buckets = int(f.Buckets)
			if mf.Buckets == 0 {
				mf.Buckets = jobspec.DefaultBuckets
			}
		}
		s.Features = append(s.Features, mf)
	}
	if len(s.Features) == 0 {
		return errors.New("no features: the dataset has only the label column")
	}
	d.Spec = s
	// Validate the pipeline against the schema now, with placeholder
	// classes and weights, so a type mismatch fails before any training.
	probe := s
	if d.Task == EvalMulticlass {
		probe.Classes = []string{"a", "b"}
	}
	obj, err := NewObjective(&probe, 0)
	if err != nil {
		return err
	}
	m, err := model.New(probe, make([]float32, obj.NumParams()))
	if err != nil {
		return err
	}
	return m.Check(schema)
}

func defaultKind(t arrow.DataType) (string, bool) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64:
		return model.KindNumeric, true
	case arrow.STRING, arrow.LARGE_STRING, arrow.DICTIONARY:
		return model.KindCategorical, true
	}
	return "", false
}

// decodeLabels reads the label column: 0/1 for binary models (integers,
// floats or booleans), the value for regression, the class index for
// multiclass models (classes from the spec, else the sorted distinct
// values). A null or out-of-domain label is an error naming the row.
func (d *Data) decodeLabels(sp *pb.TrainSpec) error {
	d.Label = make([]float32, d.Rows)
	classes := sp.GetModel().GetClasses()
	if d.Task == EvalMulticlass && len(classes) == 0 {
		seen := map[string]bool{}
		for _, rec := range d.Records {
			col := rec.Column(rec.Schema().FieldIndices(sp.Label)[0])
			for i := range col.Len() {
				if col.IsValid(i) {
					seen[labelString(col, i)] = true
				}
			}
		}
		for c := range seen {
			classes = append(classes, c)
		}
		slices.Sort(classes)
	}
	if d.Task == EvalMulticlass {
		if len(classes) < 2 {
			return fmt.Errorf("%w: label %q has %d distinct values; a multiclass model needs at least 2", ErrBadData, sp.Label, len(classes))
		}
		d.Spec.Classes = classes
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	for r, rec := range d.Records {
		col := rec.Column(rec.Schema().FieldIndices(sp.Label)[0])
		base := d.starts[r]
		for i := range col.Len() {
			row := base + int64(i)
			if col.IsNull(i) {
				return fmt.Errorf("%w: %s: label %q is null", ErrBadData, d.where(row), sp.Label)
			}
			switch d.Task {
			case EvalMulticlass:
				k, ok := index[labelString(col, i)]
				if !ok {
					return fmt.Errorf("%w: %s: label %q value %q is not one of the classes %v", ErrBadData, d.where(row), sp.Label, labelString(col, i), classes)
				}
				d.Label[row] = float32(k)
			default:
				v, ok := labelNumber(col, i)
				if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%w: %s: label %q is %s, not a finite number", ErrBadData, d.where(row), sp.Label, labelString(col, i))
				}
				if d.Task == EvalBinary && v != 0 && v != 1 {
					return fmt.Errorf("%w: %s: label %q is %v; a binary model needs 0 or 1", ErrBadData, d.where(row), sp.Label, v)
				}
				d.Label[row] = float32(v)
			}
		}
	}
	return nil
}

func labelString(a arrow.Array, i int) string {
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.Dictionary:
		return labelString(c.Dictionary(), c.GetValueIndex(i))
	}
	if v, ok := labelNumber(a, i); ok {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return a.ValueStr(i)
}

// labelNumber reads a numeric or boolean value; false for other types.
func labelNumber(a arrow.Array, i int) (float64, bool) {
	if c, ok := a.(*array.Boolean); ok {
		if c.Value(i) {
			return 1, true
		}
		return 0, true
	}
	return model.NumericAt(a, i)
}

// split assigns row blocks to the holdout by the seed.
func (d *Data) split(seed uint64, fraction float64) {
	d.Train = d.Train[:0]
	for b := int64(0); b*HoldoutBlock < int64(d.Rows); b++ {
		lo, hi := b*HoldoutBlock, min((b+1)*HoldoutBlock, int64(d.Rows))
		if fraction > 0 && Held(seed, b, fraction) {
			d.HoldBlocks = append(d.HoldBlocks, b)
			d.HoldRows += int(hi - lo)
			continue
		}
		for r := lo; r < hi; r++ {
			d.Train = append(d.Train, int32(r))
		}
	}
}

// Build materialises the pipeline's output for every row with the given
// standardisation statistics (one mean and std per pipeline feature), via
// the scoring code (model.Predictor.Features), so training sees exactly
// the inputs scoring will compute.
func (d *Data) Build(means, stds []float64) error {
	spec, err := d.SpecWith(means, stds)
	if err != nil {
		return err
	}
	obj, err := NewObjective(&spec, 0)
	if err != nil {
		return err
	}
	m, err := model.New(spec, make([]float32, obj.NumParams()))
	if err != nil {
		return err
	}
	p := m.NewPredictor()
	d.Dim = m.InputDim()
	d.X = make([]float32, d.Rows*d.Dim)
	for r, rec := range d.Records {
		X, rows, _, err := p.Features(rec)
		var re *model.RowError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %s: column %q: %s", ErrBadData, d.where(d.starts[r]+re.Row), re.Column, re.Reason)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadData, d.where(d.starts[r]), err)
		}
		copy(d.X[int(d.starts[r])*d.Dim:], X[:rows*d.Dim])
	}
	return nil
}

// SpecWith returns the model spec with the standardisation statistics.
func (d *Data) SpecWith(means, stds []float64) (model.Spec, error) {
	s := d.Spec
	s.Features = slices.Clone(s.Features)
	if len(means) != len(s.Features) || len(stds) != len(s.Features) {
		return s, fmt.Errorf("%w: %d means and %d stds for %d features", ErrBadState, len(means), len(stds), len(s.Features))
	}
	for _, i := range d.numericCols {
		s.Features[i].Mean, s.Features[i].Std = means[i], stds[i]
	}
	return s, nil
}

// Moments are one member's running statistics of a numeric column:
// count, mean and the sum of squared deviations (Welford), combined across
// members with Chan's formula in rank order.
type Moments struct {
	N    float64
	Mean float64
	M2   float64
}

func (m *Moments) add(x float64) {
	m.N++
	d := x - m.Mean
	m.Mean += d / m.N
	m.M2 += d * (x - m.Mean)
}

// Merge folds o into m.
func (m *Moments) Merge(o Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	m.Mean += d * o.N / n
	m.M2 += o.M2 + d*d*m.N*o.N/n
	m.N = n
}

// Moments computes the statistics of every pipeline feature over the
// training rows Train[lo:hi] (zero for categorical features). Nulls are
// left out.
func (d *Data) Moments(lo, hi int) []Moments {
	out := make([]Moments, len(d.Spec.Features))
	if lo >= hi {
		return out
	}
	rows := d.Train[lo:hi]
	for _, fi := range d.numericCols {
		col := d.Spec.Features[fi].Column
		k := 0
		for r, rec := range d.Records {
			base, end := d.starts[r], d.starts[r+1]
			a := rec.Column(rec.Schema().FieldIndices(col)[0])
			for k < len(rows) && int64(rows[k]) < end {
				i := int(int64(rows[k]) - base)
				k++
				if a.IsNull(i) {
					continue
				}
				if v, ok := labelNumber(a, i); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					out[fi].add(v)
				}
			}
		}
	}
	return out
}

// Standardisation turns combined moments into means and stds; a column
// without spread (or without values) gets std 1 so it standardises to 0.
func Standardisation(ms []Moments) (means, stds []float64) {
	means, stds = make([]float64, len(ms)), make([]float64, len(ms))
	for i, m := range ms {
		means[i], stds[i] = m.Mean, 1
		if m.N > 1 {
			if s := math.Sqrt(m.M2 / m.N); s > 1e-12 && !math.IsNaN(s) {
				stds[i] = s
			}
		}
	}
	return means, stds
}

// FromMatrix wraps an in-memory feature matrix (rows × dim, row-major,
// already model inputs) and its labels as training data: every row
// trains, nothing is held out, and the inputs are used as they are (the
// spec's numeric features keep mean 0 and std 1). Benchmarks use it to
// measure the training path without storage.
func FromMatrix(X, y []float32, dim int, spec model.Spec) (*Data, error) {
	rows := len(y)
	if dim <= 0 || len(X) != rows*dim || spec.InputDim() != dim {
		return nil, fmt.Errorf("%w: %d values for %d rows × %d inputs (the spec has %d)", ErrBadArgument, len(X), rows, dim, spec.InputDim())
	}
	d := &Data{Spec: spec, X: X, Dim: dim, Label: y, Rows: rows, starts: []int64{0, int64(rows)}}
	switch {
	case spec.Family == model.FamilyLinear || spec.Objective == model.ObjectiveRegression:
		d.Task = EvalRegression
	case spec.Family == model.FamilySoftmax || spec.Objective == model.ObjectiveMulticlass:
		d.Task = EvalMulticlass
	default:
		d.Task = EvalBinary
	}
	d.Train = make([]int32, rows)
	for i := range d.Train {
		d.Train[i] = int32(i)
	}
	return d, nil
}
