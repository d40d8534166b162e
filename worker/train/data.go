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

// Data is a training dataset as one member sees it: its layout (chunks,
// the holdout split), its feature pipeline and, on the memory path, its
// record batches, labels and the pipeline's output as one row-major
// float32 matrix. On the stream path it holds none of these: chunks are
// read from storage when a window, an evaluation or the statistics pass
// needs them, and released (docs/architecture.md §8, "data path").
type Data struct {
	URI         string
	Fingerprint string
	Task        EvalTask
	Spec        model.Spec     // family, shape and pipeline; no statistics yet
	Path        string         // "memory" or "stream"
	Records     []arrow.Record // memory path: one per chunk
	ds          *shard.Dataset
	plan        plan
	Label       []float32 // memory path, after Build: per dataset row, 0/1, the target or the class index
	Rows        int
	TrainRows   int64   // rows not held out
	HoldBlocks  []int64 // holdout row blocks (HoldoutBlock rows each), in order
	HoldRows    int
	X           []float32 // memory path, after Build: Rows × Dim
	Dim         int
	numericCols []int // pipeline feature index of each numeric feature
	classIndex  map[string]int
	recordBytes int64 // decoded size of the first chunk: what reading one costs
	// Held is the memory the data path keeps per member: the dataset on
	// the memory path; two windows and one chunk's decoding on the stream
	// path.
	Held int64
}

// Load opens a training dataset and chooses its data path. It resolves
// the feature pipeline (the spec's, or every column but the label), splits
// the rows into training rows and holdout blocks by the seed, and sizes
// the windows from the memory budget. On the memory path (data.path
// "memory", or "auto" when the dataset's decoded batches and inputs fit
// the budget) it reads every shard's batches, checksums verified; on the
// stream path it reads only the first batch, to measure it.
func Load(ctx context.Context, st storage.Config, sp *pb.TrainSpec) (*Data, error) {
	ds, err := shard.OpenDataset(ctx, st, sp.Dataset)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", sp.Dataset, err)
	}
	d := &Data{URI: ds.URI, Fingerprint: ds.Manifest.Fingerprint, ds: ds, Rows: int(ds.Manifest.TotalRows)}
	if err := d.resolveSpec(sp, ds.Schema); err != nil {
		return nil, fmt.Errorf("%w: dataset %s: %v", ErrBadData, ds.URI, err)
	}
	d.Dim = d.Spec.InputDim()
	d.plan = plan{chunks: chunksOf(ds.Manifest), rows: int64(d.Rows), seed: sp.Seed, holdout: sp.Holdout, batch: int64(max(1, sp.BatchPerMember))}
	d.split()
	if d.TrainRows == 0 {
		return nil, fmt.Errorf("%w: dataset %s: no training rows left after a holdout of %g", ErrBadData, ds.URI, sp.Holdout)
	}
	first, err := d.readChunk(ctx, 0)
	if err != nil {
		return nil, err
	}
	d.recordBytes = recordSize(first)
	first.Release()
	mb := int64(sp.MemoryBudgetMb)
	if mb <= 0 {
		mb = jobspec.DefaultMemoryBudgetMB
	}
	budget := mb << 20
	if d.plan.window, err = windowChunks(budget, int64(ds.Manifest.BatchRows), d.recordBytes, d.Dim); err != nil {
		return nil, fmt.Errorf("%w: dataset %s: %v", ErrBadData, ds.URI, err)
	}
	d.Path = choosePath(sp.DataPath, d.memoryBytes(), budget/dataShare) // the rest: the collector's headroom (windowChunks)
	if d.Path == PathStream {
		d.Held = d.windowBytes() + d.recordBytes + 2*int64(ds.Manifest.BatchRows)*int64(d.Dim)*4
		return d, nil
	}
	d.Held = d.memoryBytes()
	for i := range ds.NumShards() {
		if err := d.readShard(ctx, i); err != nil {
			d.Release()
			return nil, err
		}
	}
	if len(d.Records) != len(d.plan.chunks) {
		d.Release()
		return nil, fmt.Errorf("%w: dataset %s: %d record batches, the manifest says %d", shard.ErrCorruptShard, ds.URI, len(d.Records), len(d.plan.chunks))
	}
	return d, nil
}

// The data paths (TrainSpec.data_path; "auto" picks one of these).
const (
	PathMemory = "memory"
	PathStream = "stream"
)

// choosePath resolves data.path: "auto" keeps the dataset in memory when
// it fits (limit: the budget's data share, as for windows).
func choosePath(want string, memory, limit int64) string {
	switch want {
	case PathMemory, PathStream:
		return want
	}
	if memory <= limit {
		return PathMemory
	}
	return PathStream
}

// memoryBytes estimates what the memory path holds: every chunk decoded
// (measured on the first), the inputs and labels of every row, and the two
// windows training reads from.
func (d *Data) memoryBytes() int64 {
	n := max(1, len(d.plan.chunks))
	return d.recordBytes*int64(n) + int64(d.Rows)*(int64(d.Dim)*4+4) + d.windowBytes()
}

// windowBytes is the memory of two windows, at most the whole dataset each.
func (d *Data) windowBytes() int64 {
	rows := min(int64(d.plan.window)*int64(d.ds.Manifest.BatchRows), int64(d.Rows))
	return 2 * rows * rowBytes(d.Dim)
}

// recordSize is the bytes of a record's Arrow buffers.
func recordSize(rec arrow.Record) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if d.DataType().ID() == arrow.DICTIONARY {
			walk(d.Dictionary())
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}

func (d *Data) readShard(ctx context.Context, i int) error {
	sc := d.ds.Scan(ctx, i)
	defer sc.Close()
	for sc.Next() {
		rec := sc.Record()
		rec.Retain()
		d.Records = append(d.Records, rec)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", d.ds.ShardURI(i), err)
	}
	return nil
}

// record returns chunk ci's record batch (the caller releases it): the
// one held on the memory path, else read from storage.
func (d *Data) record(ctx context.Context, ci int) (arrow.Record, error) {
	if d.Records != nil {
		r := d.Records[ci]
		r.Retain()
		return r, nil
	}
	if d.ds == nil {
		return nil, fmt.Errorf("%w: chunk %d: the data has no records", ErrBadArgument, ci)
	}
	return d.readChunk(ctx, ci)
}

// readChunk reads chunk ci from storage by ranged reads through its
// shard's footer.
func (d *Data) readChunk(ctx context.Context, ci int) (arrow.Record, error) {
	c := d.plan.chunks[ci]
	var out arrow.Record
	err := d.ds.ReadRows(ctx, c.start, c.rows, func(rec arrow.Record) error {
		if out != nil {
			return fmt.Errorf("%w: %s: rows %d to %d span two batches", shard.ErrCorruptShard, d.ds.ShardURI(c.shard), c.start, c.start+c.rows)
		}
		rec.Retain()
		out = rec
		return nil
	})
	if err == nil && (out == nil || out.NumRows() != c.rows) {
		err = fmt.Errorf("%w: %s: the batch at row %d does not hold the manifest's %d rows", shard.ErrCorruptShard, d.ds.ShardURI(c.shard), c.start, c.rows)
	}
	if err != nil {
		if out != nil {
			out.Release()
		}
		return nil, fmt.Errorf("reading %s: %w", d.ds.ShardURI(c.shard), err)
	}
	return out, nil
}

// ShardRecords returns the record batches grouped by shard, in shard
// order: what a per-shard statistics pass reads. Nil on the stream path.
func (d *Data) ShardRecords() [][]arrow.Record {
	if d.Records == nil {
		return nil
	}
	out := make([][]arrow.Record, d.ds.NumShards())
	for i, rec := range d.Records {
		sh := d.plan.chunks[i].shard
		out[sh] = append(out[sh], rec)
	}
	return out
}

// Dataset is the opened dataset (nil for data built by FromMatrix).
func (d *Data) Dataset() *shard.Dataset { return d.ds }

// Schema is the dataset's schema.
func (d *Data) Schema() *arrow.Schema { return d.ds.Schema }

// Release drops the record batches and the matrix.
func (d *Data) Release() {
	for _, r := range d.Records {
		r.Release()
	}
	d.Records = nil
}

// Chunks is the number of chunks (record batches) of the dataset.
func (d *Data) Chunks() int { return len(d.plan.chunks) }

// Window is how many chunk pieces a window holds.
func (d *Data) Window() int { return d.plan.window }

// chunkOf returns the chunk holding dataset row row.
func (d *Data) chunkOf(row int64) int {
	i, _ := slices.BinarySearchFunc(d.plan.chunks, row, func(c chunk, r int64) int {
		switch {
		case c.start+c.rows <= r:
			return -1
		case c.start > r:
			return 1
		}
		return 0
	})
	return i
}

// where names a dataset row for error messages: its shard and row there.
func (d *Data) where(row int64) string {
	if d.ds == nil {
		return fmt.Sprintf("row %d", row)
	}
	c := d.plan.chunks[d.chunkOf(row)]
	first := c.start
	for ci := d.chunkOf(row); ci > 0 && d.plan.chunks[ci-1].shard == c.shard; ci-- {
		first = d.plan.chunks[ci-1].start
	}
	return fmt.Sprintf("%s row %d", d.ds.ShardURI(c.shard), row-first)
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
	if d.Task == EvalMulticlass {
		s.Classes = slices.Clone(mc.GetClasses()) // empty: found in the data
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

// setClasses fixes a multiclass model's classes (the spec's, or the
// sorted distinct labels the statistics pass found).
func (d *Data) setClasses(classes []string) error {
	if d.Task != EvalMulticlass {
		return nil
	}
	if len(classes) < 2 {
		return fmt.Errorf("%w: label %q has %d distinct values; a multiclass model needs at least 2", ErrBadData, d.Spec.Label, len(classes))
	}
	d.Spec.Classes = classes
	d.classIndex = make(map[string]int, len(classes))
	for i, c := range classes {
		d.classIndex[c] = i
	}
	return nil
}

// labels decodes the label column of rec, whose first row is dataset row
// first, into dst: 0/1 for binary models (integers, floats or booleans),
// the value for regression, the class index for multiclass models. A null
// or out-of-domain label is an error naming the row.
func (d *Data) labels(rec arrow.Record, first int64, dst []float32) error {
	col := rec.Column(rec.Schema().FieldIndices(d.Spec.Label)[0])
	for i := range col.Len() {
		row := first + int64(i)
		if col.IsNull(i) {
			return fmt.Errorf("%w: %s: label %q is null", ErrBadData, d.where(row), d.Spec.Label)
		}
		switch d.Task {
		case EvalMulticlass:
			k, ok := d.classIndex[labelString(col, i)]
			if !ok {
				return fmt.Errorf("%w: %s: label %q value %q is not one of the classes %v", ErrBadData, d.where(row), d.Spec.Label, labelString(col, i), d.Spec.Classes)
			}
			dst[i] = float32(k)
		default:
			v, ok := labelNumber(col, i)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: %s: label %q is %s, not a finite number", ErrBadData, d.where(row), d.Spec.Label, labelString(col, i))
			}
			if d.Task == EvalBinary && v != 0 && v != 1 {
				return fmt.Errorf("%w: %s: label %q is %v; a binary model needs 0 or 1", ErrBadData, d.where(row), d.Spec.Label, v)
			}
			dst[i] = float32(v)
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
func (d *Data) split() {
	h := heldBlocks{p: &d.plan, block: -1}
	for b := int64(0); b*HoldoutBlock < int64(d.Rows); b++ {
		lo, hi := b*HoldoutBlock, min((b+1)*HoldoutBlock, int64(d.Rows))
		if h.at(lo) {
			d.HoldBlocks = append(d.HoldBlocks, b)
			d.HoldRows += int(hi - lo)
			continue
		}
		d.TrainRows += hi - lo
	}
}

// Build prepares the memory path for training with the given
// standardisation statistics and classes: the pipeline's output of every
// row via the scoring code (model.Predictor.Features, so training sees
// exactly the inputs scoring will compute) and every label. On the stream
// path it only fixes the classes: windows compute the same per chunk.
func (d *Data) Build(means, stds []float64, classes []string) error {
	if err := d.setClasses(classes); err != nil {
		return err
	}
	if d.Records == nil {
		return nil
	}
	p, err := d.predictor(means, stds)
	if err != nil {
		return err
	}
	d.X = make([]float32, d.Rows*d.Dim)
	d.Label = make([]float32, d.Rows)
	for ci, rec := range d.Records {
		c := d.plan.chunks[ci]
		if err := d.features(p, rec, c.start, d.X[c.start*int64(d.Dim):], d.Label[c.start:]); err != nil {
			return err
		}
	}
	return nil
}

// predictor returns a scoring predictor of the pipeline with the given
// statistics (weights zero: only its Features are used).
func (d *Data) predictor(means, stds []float64) (*model.Predictor, error) {
	spec, err := d.SpecWith(means, stds)
	if err != nil {
		return nil, err
	}
	obj, err := NewObjective(&spec, 0)
	if err != nil {
		return nil, err
	}
	m, err := model.New(spec, make([]float32, obj.NumParams()))
	if err != nil {
		return nil, err
	}
	return m.NewPredictor(), nil
}

// features writes the pipeline's output of rec (first row: dataset row
// first) to x and its labels to y.
func (d *Data) features(p *model.Predictor, rec arrow.Record, first int64, x, y []float32) error {
	X, rows, _, err := p.Features(rec)
	var re *model.RowError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %s: column %q: %s", ErrBadData, d.where(first+re.Row), re.Column, re.Reason)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadData, d.where(first), err)
	}
	copy(x, X[:rows*d.Dim])
	return d.labels(rec, first, y)
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

// addMoments adds the values of every numeric pipeline feature in the
// training rows of rec (first row: dataset row first) to ms. Nulls and
// non-finite values are left out.
func (d *Data) addMoments(ms []Moments, rec arrow.Record, first int64) {
	h := heldBlocks{p: &d.plan, block: -1}
	for _, fi := range d.numericCols {
		a := rec.Column(rec.Schema().FieldIndices(d.Spec.Features[fi].Column)[0])
		for i := range a.Len() {
			if h.at(first+int64(i)) || a.IsNull(i) {
				continue
			}
			if v, ok := labelNumber(a, i); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				ms[fi].add(v)
			}
		}
	}
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
// spec's numeric features keep mean 0 and std 1). Chunks are of
// matrixChunkRows rows and windows hold all of them. Benchmarks use it to
// measure the training path without storage.
func FromMatrix(X, y []float32, dim int, spec model.Spec) (*Data, error) {
	rows := len(y)
	if dim <= 0 || len(X) != rows*dim || spec.InputDim() != dim {
		return nil, fmt.Errorf("%w: %d values for %d rows × %d inputs (the spec has %d)", ErrBadArgument, len(X), rows, dim, spec.InputDim())
	}
	d := &Data{Spec: spec, X: X, Dim: dim, Label: y, Rows: rows, TrainRows: int64(rows), Path: PathMemory, Held: int64(len(X)+len(y)) * 4}
	switch {
	case spec.Family == model.FamilyLinear || spec.Objective == model.ObjectiveRegression:
		d.Task = EvalRegression
	case spec.Family == model.FamilySoftmax || spec.Objective == model.ObjectiveMulticlass:
		d.Task = EvalMulticlass
	default:
		d.Task = EvalBinary
	}
	d.plan = plan{rows: int64(rows)}
	for lo := int64(0); lo < int64(rows); lo += matrixChunkRows {
		d.plan.chunks = append(d.plan.chunks, chunk{start: lo, rows: min(matrixChunkRows, int64(rows)-lo)})
	}
	d.plan.window = max(1, len(d.plan.chunks))
	return d, nil
}

// matrixChunkRows is the chunk size of FromMatrix data.
const matrixChunkRows = 65536
