package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// The end-of-training comparison (docs/architecture.md §12, README
// "Evaluation, artifact and promotion"). The challenger and the champion score the
// same holdout rows through the same code as the epoch metrics
// (holdoutPart: model.Predictor on the dataset's own record batches), so
// their metrics differ only by the models. It runs in one process (a
// group's rank 0): the whole holdout is already in memory there.
//
// Cost, with n holdout rows, B bootstrap resamples and S slice columns:
// scoring is two prediction passes over the holdout; the bootstrap draws
// B·n row indices and makes two weighted passes over n rows per resample,
// spread over GOMAXPROCS goroutines, plus one sort of n rows per model
// for auc; the slices read S columns of the n rows and evaluate each row
// once per column and model. B and S are bounded by jobspec
// (MaxBootstrap, MaxSliceColumns). The bootstrap dominates: about 15 ns
// of one core per row and resample for both models (BenchmarkBootstrapGain),
// so B = 1000 on n = 10^5 rows is 1.5 core-seconds, on n = 10^6 rows 15.

// Domain constants keep the bootstrap's stream apart from the other
// streams of one seed (the holdout split, the permutations, the weights).
const (
	bootstrapDomain = 0x6e73_626f_6f74_7374 // "nsbootst"
	bootstrapStream = 0x6e73_7265_7361_6d70 // "nsresamp"
)

// nullSlice is the value of the slice of a column's null (and NaN) rows.
const nullSlice = "(null)"

// Compare scores the holdout rows of d with the challenger and, when it is
// not nil, the champion (the production version), and returns their
// comparison on sp's promotion metric (jobspec.PromotionMetric): the
// metrics of both, the challenger's gain, its paired bootstrap interval
// when sp.Promotion.Confidence is set, and the metrics per slice of
// sp.Evaluation.Slices.
//
// A champion that cannot score these rows (a column it needs is gone, it
// predicts another task or other classes) is no error: the evaluation
// says why in ChampionError and has no champion metrics. A challenger that
// cannot is an error, as is a slice column that is missing, of a type
// that does not slice, or of more than jobspec.MaxSliceValues values; the
// errors of the data wrap ErrBadData. Metrics that are NaN are left out of
// the maps, and then there is no gain. UnixMs is left for the caller.
func Compare(ctx context.Context, d *Data, challenger, champion *model.Model, sp *pb.TrainSpec) (*pb.Evaluation, error) {
	if challenger == nil {
		return nil, fmt.Errorf("%w: no challenger to evaluate", ErrBadArgument)
	}
	if d.HoldRows == 0 || len(d.HoldBlocks) == 0 {
		return nil, fmt.Errorf("%w: dataset %s has no holdout rows to compare the models on", ErrBadArgument, d.URI)
	}
	// The slices are read first: a bad slice column fails before any
	// scoring is spent.
	slicing, err := d.sliceColumns(ctx, sp)
	if err != nil {
		return nil, err
	}
	ch, chm, err := d.scoreModel(ctx, challenger)
	if err != nil {
		if !errors.Is(err, ErrBadData) { // the challenger was trained on these rows: a broken invariant
			err = fmt.Errorf("%w: %v", ErrBadArgument, err)
		}
		return nil, fmt.Errorf("scoring the holdout with the challenger: %w", err)
	}
	metric := jobspec.PromotionMetric(sp)
	ev := &pb.Evaluation{Metric: metric, Rows: int64(ch.Rows()), DatasetFingerprint: d.Fingerprint,
		Challenger: metricMap(chm), ChampionVersion: sp.GetChampion().GetVersion()}
	var cp *EvalPart
	if champion != nil {
		part, m, err := d.scoreModel(ctx, champion)
		if err != nil {
			// Without holdoutPart's "bad training data" prefix: the rows
			// are fine, the champion does not fit them.
			why := strings.TrimPrefix(err.Error(), ErrBadData.Error()+": ")
			ev.ChampionError = fmt.Sprintf("%s cannot score these rows: %s", championName(sp), why)
		} else {
			cp, ev.Champion = &part, metricMap(m)
		}
	}
	if cp != nil {
		compareGain(ev, &ch, cp, sp)
	}
	for _, c := range slicing {
		s, err := sliceMetrics(c, &ch, cp)
		if err != nil {
			return nil, err
		}
		ev.Slices = append(ev.Slices, s...)
	}
	return ev, nil
}

// championName names the production version in messages.
func championName(sp *pb.TrainSpec) string {
	if v := sp.GetChampion().GetVersion(); v > 0 {
		return fmt.Sprintf("production v%d", v)
	}
	return "the production model"
}

// scoreModel predicts every holdout row with m and evaluates it. A model
// whose predictions do not fit this dataset's labels is refused before
// scoring, because holdoutPart would read them as the wrong task.
func (d *Data) scoreModel(ctx context.Context, m *model.Model) (EvalPart, map[string]float64, error) {
	if err := d.fits(m); err != nil {
		return EvalPart{}, nil, err
	}
	part, err := d.holdoutPart(ctx, m, d.HoldBlocks)
	if err != nil {
		return EvalPart{}, nil, err
	}
	metrics, err := Evaluate([]EvalPart{part})
	if err != nil {
		return EvalPart{}, nil, err
	}
	return part, metrics, nil
}

// fits reports why m cannot score this dataset's holdout against its
// labels: another task, other classes (the labels are indexes into this
// dataset's classes, in their order) or a column it needs.
func (d *Data) fits(m *model.Model) error {
	if t := modelTask(&m.Spec); t != d.Task {
		return fmt.Errorf("it is a %s model and this job trains a %s model", taskName(t), taskName(d.Task))
	}
	if d.Task == EvalMulticlass && !slices.Equal(m.Spec.Classes, d.Spec.Classes) {
		return fmt.Errorf("its %d classes %s are not this job's %d classes %s",
			len(m.Spec.Classes), abbreviate(m.Spec.Classes), len(d.Spec.Classes), abbreviate(d.Spec.Classes))
	}
	if d.ds != nil {
		return m.Check(d.Schema())
	}
	return nil
}

// modelTask is what a model's predictions are; 0 for none known.
func modelTask(s *model.Spec) EvalTask {
	switch {
	case s.Family == model.FamilyLinear, s.Family == model.FamilyMLP && s.Objective == model.ObjectiveRegression:
		return EvalRegression
	case s.Family == model.FamilyLogistic, s.Family == model.FamilyMLP && s.Objective == model.ObjectiveBinary:
		return EvalBinary
	case s.Family == model.FamilySoftmax, s.Family == model.FamilyMLP && s.Objective == model.ObjectiveMulticlass:
		return EvalMulticlass
	}
	return 0
}

func taskName(t EvalTask) string {
	switch t {
	case EvalRegression:
		return "regression"
	case EvalBinary:
		return "binary"
	case EvalMulticlass:
		return "multiclass"
	}
	return "unknown"
}

// abbreviate quotes a list of classes, at most a few of them.
func abbreviate(classes []string) string {
	const show = 8
	if len(classes) <= show {
		return fmt.Sprintf("%q", classes)
	}
	return fmt.Sprintf("%q…", classes[:show])
}

// metricMap is what an evaluation records of Evaluate's result: the
// metrics, without NaN (a diverged model's; absent reads as unknown) and
// without "rows" (the evaluation and each slice have their own Rows).
func metricMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if k != "rows" && !math.IsNaN(v) {
			out[k] = v
		}
	}
	return out
}

// compareGain sets the gain of the challenger over the champion on the
// evaluation's metric and, when the policy asks for a confidence level,
// its paired bootstrap interval. Without the metric on both sides (NaN,
// auc of a one-class holdout, a metric the task does not have) there is
// no gain: the champion's map lacks the metric, which says why.
func compareGain(ev *pb.Evaluation, ch, cp *EvalPart, sp *pb.TrainSpec) {
	a, aok := ev.Challenger[ev.Metric]
	b, bok := ev.Champion[ev.Metric]
	if _, known := jobspec.HigherIsBetter(ev.Metric); !aok || !bok || !known {
		return
	}
	gain := jobspec.Gain(ev.Metric, a, b)
	if math.IsNaN(gain) { // ±Inf on both sides
		return
	}
	ev.Gain = gain
	c := sp.GetPromotion().GetConfidence()
	if !(c > 0 && c < 1) {
		return
	}
	resamples := int(sp.GetPromotion().GetBootstrap())
	if resamples <= 0 {
		resamples = jobspec.DefaultBootstrap
	}
	resamples = min(resamples, jobspec.MaxBootstrap) // bounds the work; jobspec refuses more at submit
	lo, hi, n := bootstrapGain(ev.Metric, ch, cp, resamples, sp.GetSeed(), c)
	if n > 0 {
		ev.GainLow, ev.GainHigh, ev.Confidence, ev.Bootstrap = lo, hi, c, int32(n)
	}
}

// bootstrapGain is the paired bootstrap interval of the challenger's gain
// on metric at confidence c: each of the resamples draws as many rows as
// the holdout has, with replacement, the same rows for both models (so
// the interval is that of the difference, not of two independent
// metrics), and computes the gain on them. Resample i draws from its own
// PCG generator seeded from the seed and i, so the result does not depend
// on how the resamples are spread over goroutines.
//
// The interval is the percentile interval by nearest rank, symmetric in
// count: of the m resamples that have the metric (auc needs both classes
// drawn), sorted by gain, k = ⌊m·(1−c)/2⌋ lie below the lower bound and k
// above the upper: low = g[k], high = g[m−1−k]. m = 0 gives no interval.
func bootstrapGain(metric string, ch, cp *EvalPart, resamples int, seed uint64, c float64) (lo, hi float64, m int) {
	a, b := newRowTerms(ch, metric), newRowTerms(cp, metric)
	gains := make([]float64, resamples)
	valid := make([]bool, resamples)
	workers := min(runtime.GOMAXPROCS(0), resamples)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			counts := make([]int32, ch.Rows())
			for i := w; i < resamples; i += workers {
				drawCounts(counts, seed, i)
				ma, aok := a.metric(counts)
				mb, bok := b.metric(counts)
				gains[i] = jobspec.Gain(metric, ma, mb)
				valid[i] = aok && bok && !math.IsNaN(gains[i])
			}
		})
	}
	wg.Wait()
	g := make([]float64, 0, resamples)
	for i, ok := range valid {
		if ok {
			g = append(g, gains[i])
		}
	}
	if len(g) == 0 {
		return 0, 0, 0
	}
	slices.Sort(g)
	k := min(int(math.Floor(float64(len(g))*(1-c)/2)), (len(g)-1)/2)
	return g[k], g[len(g)-1-k], len(g)
}

// drawCounts fills counts with resample i: how often each row was drawn
// in len(counts) draws with replacement. A row index is the high word of
// a 64-bit draw times the row count (Lemire's reduction without its
// rejection step: a bias below rows/2^64, far under the resampling noise),
// from math/rand/v2's PCG, whose output its documentation fixes.
func drawCounts(counts []int32, seed uint64, i int) {
	clear(counts)
	src := rand.NewPCG(mix64(seed^bootstrapDomain), mix64(bootstrapStream+uint64(i)))
	n := uint64(len(counts))
	for range counts {
		r, _ := bits.Mul64(src.Uint64(), n)
		counts[r]++
	}
}

// rowTerms is one model's holdout predictions reduced to what one metric
// needs per row, so a resample costs one pass weighted by how often it
// drew each row. With every count 1 each metric is bit-identical to
// Evaluate's: the same terms, summed in the same order.
type rowTerms struct {
	name  string
	term  []float64 // logloss: log of the true class's clipped probability; rmse: squared error
	hit   []bool    // accuracy: the prediction is right; auc: the label is positive
	order []int32   // auc: rows by ascending probability
	ends  []int32   // auc: one past each group of equal probabilities in order
	nan   bool      // auc: a probability is NaN, so auc is NaN (as Evaluate's)
	ok    bool      // the task has the metric
}

func newRowTerms(p *EvalPart, metric string) *rowTerms {
	t := &rowTerms{name: metric}
	switch {
	case metric == "logloss" && p.Task != EvalRegression:
		t.term = make([]float64, p.Rows())
		for r := range p.Label {
			t.term[r] = math.Log(trueClassProb(p, r))
		}
	case metric == "accuracy" && p.Task != EvalRegression:
		t.hit = make([]bool, p.Rows())
		for r := range p.Label {
			t.hit[r] = predictedRight(p, r)
		}
	case metric == "rmse" && p.Task == EvalRegression:
		t.term = make([]float64, p.Rows())
		for r, y := range p.Label {
			d := p.Pred[r] - y
			t.term[r] = float64(d * d) // the conversion forbids fusing into an FMA, as in Evaluate
		}
	case metric == "auc" && p.Task == EvalBinary:
		t.aucOrder(p)
	default:
		return t
	}
	t.ok = true
	return t
}

// trueClassProb is row r's clipped probability of its label, as Evaluate
// takes its log (1 − P(y=1) for a binary negative).
func trueClassProb(p *EvalPart, r int) float64 {
	if p.Task == EvalMulticlass {
		return clipProb(p.Pred[r*p.Classes+int(p.Label[r])])
	}
	if p.Label[r] == 1 {
		return clipProb(p.Pred[r])
	}
	return 1 - clipProb(p.Pred[r])
}

// predictedRight is Evaluate's accuracy rule for row r: P(y=1) > 0.5, or
// the arg max with ties to the lowest class index.
func predictedRight(p *EvalPart, r int) bool {
	if p.Task != EvalMulticlass {
		return (p.Pred[r] > 0.5) == (p.Label[r] == 1)
	}
	probs := p.Pred[r*p.Classes : (r+1)*p.Classes]
	best := 0
	for j, v := range probs {
		if v > probs[best] {
			best = j
		}
	}
	return best == int(p.Label[r])
}

// aucOrder sorts the rows by probability once, and marks the groups of
// equal probabilities, so each resample's auc is one pass in that order.
func (t *rowTerms) aucOrder(p *EvalPart) {
	n := p.Rows()
	t.hit = make([]bool, n)
	t.order = make([]int32, n)
	for r := range n {
		t.hit[r] = p.Label[r] == 1
		t.order[r] = int32(r)
		t.nan = t.nan || math.IsNaN(p.Pred[r])
	}
	slices.SortFunc(t.order, func(a, b int32) int { return cmp.Compare(p.Pred[a], p.Pred[b]) })
	for i := 0; i < n; {
		j := i + 1
		for j < n && p.Pred[t.order[j]] == p.Pred[t.order[i]] {
			j++
		}
		t.ends = append(t.ends, int32(j))
		i = j
	}
}

// metric is the metric on the rows weighted by counts (row r counted
// counts[r] times); false when it is undefined there (auc of one class,
// or no rows) or the task lacks it.
func (t *rowTerms) metric(counts []int32) (float64, bool) {
	if !t.ok {
		return 0, false
	}
	switch t.name {
	case "auc":
		return t.auc(counts)
	case "accuracy":
		var right, n int64
		for r, c := range counts {
			n += int64(c)
			if t.hit[r] {
				right += int64(c)
			}
		}
		return float64(right) / float64(n), n > 0
	}
	var sum float64
	var n int64
	for r, c := range counts {
		if c == 0 {
			continue // 0·Inf would be NaN: an undrawn row counts for nothing
		}
		n += int64(c)
		sum += float64(float64(c) * t.term[r]) // no FMA: the same bits on every platform
	}
	if n == 0 {
		return 0, false
	}
	if t.name == "rmse" {
		return math.Sqrt(sum / float64(n)), true
	}
	return -sum / float64(n), true
}

// auc is exactAUC with multiplicities: a row drawn c times counts as c
// rows of its score, so the groups of equal scores (fixed by the sort)
// just add counts, in integers, and the result is one exact division.
func (t *rowTerms) auc(counts []int32) (float64, bool) {
	if t.nan {
		return math.NaN(), true
	}
	var twiceU, negBelow, npos uint64
	start := int32(0)
	for _, end := range t.ends {
		var gp, gn uint64
		for _, r := range t.order[start:end] {
			if t.hit[r] {
				gp += uint64(counts[r])
			} else {
				gn += uint64(counts[r])
			}
		}
		twiceU += gp * (2*negBelow + gn)
		negBelow += gn
		npos += gp
		start = end
	}
	if npos == 0 || negBelow == 0 {
		return 0, false
	}
	return float64(twiceU) / (2 * float64(npos) * float64(negBelow)), true
}

// slicing is one slice column's partition of the holdout rows.
type slicing struct {
	column string
	groups []sliceGroup
}

// sliceGroup is one slice: its value and its rows, as positions in the
// holdout's order (the rows of an EvalPart of the holdout).
type sliceGroup struct {
	value string
	rows  []int
}

// CheckSlices slices the holdout rows by sp's slice columns for the errors
// only: a training job calls it right after loading, so a slice column
// that is missing, of a type that does not slice or of too many values
// fails the job before any training is spent (Compare slices again at
// the end; the cost is one read of those columns).
func (d *Data) CheckSlices(ctx context.Context, sp *pb.TrainSpec) error {
	if len(sp.GetEvaluation().GetSlices()) == 0 || d.HoldRows == 0 {
		return nil
	}
	_, err := d.sliceColumns(ctx, sp)
	return err
}

// sliceColumns partitions the holdout rows by each of sp's slice columns,
// in the spec's order.
func (d *Data) sliceColumns(ctx context.Context, sp *pb.TrainSpec) ([]slicing, error) {
	cols := sp.GetEvaluation().GetSlices()
	if len(cols) == 0 {
		return nil, nil
	}
	if len(cols) > jobspec.MaxSliceColumns {
		return nil, fmt.Errorf("%w: evaluation.slices: %d columns, at most %d", ErrInvalidSpec, len(cols), jobspec.MaxSliceColumns)
	}
	buckets := int(sp.GetEvaluation().GetBuckets())
	if buckets == 0 {
		buckets = jobspec.DefaultSliceBuckets
	}
	if buckets < 2 || buckets > jobspec.MaxSliceBuckets {
		return nil, fmt.Errorf("%w: evaluation.buckets %d: want 2..%d", ErrInvalidSpec, buckets, jobspec.MaxSliceBuckets)
	}
	out := make([]slicing, 0, len(cols))
	for _, col := range cols {
		groups, err := d.sliceColumn(ctx, col, buckets)
		if err != nil {
			return nil, err
		}
		out = append(out, slicing{column: col, groups: groups})
	}
	return out, nil
}

// sliceColumn partitions the holdout rows by one column: string, boolean
// and dictionary-of-string columns by value, integer and float columns
// into quantile buckets; nulls (and NaN) in a slice of their own, last.
func (d *Data) sliceColumn(ctx context.Context, col string, buckets int) ([]sliceGroup, error) {
	if d.ds == nil {
		return nil, fmt.Errorf("%w: slice column %q: the data has no dataset", ErrBadData, col)
	}
	schema := d.Schema()
	idx := schema.FieldIndices(col)
	switch len(idx) {
	case 0:
		return nil, fmt.Errorf("%w: dataset %s: slice column %q is not in the dataset", ErrBadData, d.URI, col)
	case 1:
	default:
		return nil, fmt.Errorf("%w: dataset %s: slice column %q appears %d times", ErrBadData, d.URI, col, len(idx))
	}
	dt := schema.Field(idx[0]).Type
	switch {
	case byValue(dt):
		return d.valueSlices(ctx, col)
	case numericType(dt):
		return d.bucketSlices(ctx, col, buckets)
	}
	return nil, fmt.Errorf("%w: dataset %s: slice column %q has type %s: slice by a string, boolean or numeric column",
		ErrBadData, d.URI, col, dt)
}

func byValue(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL:
		return true
	case arrow.DICTIONARY:
		v := dt.(*arrow.DictionaryType).ValueType.ID()
		return v == arrow.STRING || v == arrow.LARGE_STRING
	}
	return false
}

func numericType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// eachHoldout calls fn with column col's array and row index for every
// holdout row, in holdoutPart's order (block by block), until fn fails.
func (d *Data) eachHoldout(ctx context.Context, col string, fn func(a arrow.Array, i int) error) error {
	return d.holdoutRuns(ctx, d.HoldBlocks, func(rec arrow.Record, ri int, _, off, n int64) error {
		idx := rec.Schema().FieldIndices(col)
		if len(idx) != 1 {
			return fmt.Errorf("%w: dataset %s: record batch %d has %d columns %q", ErrBadData, d.URI, ri, len(idx), col)
		}
		a := rec.Column(idx[0])
		for i := off; i < off+n; i++ {
			if err := fn(a, int(i)); err != nil {
				return err
			}
		}
		return nil
	})
}

// valueSlices groups the holdout rows by the column's value: the values
// in byte order, then the nulls. More than jobspec.MaxSliceValues values
// is an error (an ID, not a segment), found as soon as one too many shows.
func (d *Data) valueSlices(ctx context.Context, col string) ([]sliceGroup, error) {
	index := map[string]int{}
	var groups []sliceGroup
	var nulls []int
	pos := 0
	err := d.eachHoldout(ctx, col, func(a arrow.Array, i int) error {
		v, ok := sliceString(a, i)
		switch g, seen := index[v]; {
		case !ok:
			nulls = append(nulls, pos)
		case seen:
			groups[g].rows = append(groups[g].rows, pos)
		case len(groups) == jobspec.MaxSliceValues:
			return fmt.Errorf("%w: dataset %s: slice column %q has more than %d distinct values in the holdout rows: slice by a column of at most %d values (a segment, not an ID)",
				ErrBadData, d.URI, col, jobspec.MaxSliceValues, jobspec.MaxSliceValues)
		default:
			index[v] = len(groups)
			groups = append(groups, sliceGroup{value: v, rows: []int{pos}})
		}
		pos++
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b sliceGroup) int { return cmp.Compare(a.value, b.value) })
	if len(nulls) > 0 {
		groups = append(groups, sliceGroup{value: nullSlice, rows: nulls})
	}
	return groups, nil
}

// sliceString is row i of a string, boolean or dictionary-of-string
// column; false when it is null.
func sliceString(a arrow.Array, i int) (string, bool) {
	if a.IsNull(i) {
		return "", false
	}
	switch c := a.(type) {
	case *array.String:
		return c.Value(i), true
	case *array.LargeString:
		return c.Value(i), true
	case *array.Boolean:
		return strconv.FormatBool(c.Value(i)), true
	case *array.Dictionary:
		return sliceString(c.Dictionary(), c.GetValueIndex(i))
	}
	return a.ValueStr(i), true // byValue admits no other type; never a panic on a surprise
}

// bucketSlices groups the holdout rows into quantile buckets of the
// column over the holdout. With the n non-null values sorted, bucket j
// starts at sorted[j·n/buckets]; equal starts merge (a column of few
// distinct values gets fewer buckets), each bucket reads "[lo, hi)" up to
// the next start, and the last "[lo, max]". The edges are values of the
// column, so every bucket holds a row. Nulls and NaN go to "(null)".
func (d *Data) bucketSlices(ctx context.Context, col string, buckets int) ([]sliceGroup, error) {
	vals := make([]float64, 0, d.HoldRows)
	err := d.eachHoldout(ctx, col, func(a arrow.Array, i int) error {
		v, ok := model.NumericAt(a, i)
		if !ok {
			v = math.NaN()
		}
		vals = append(vals, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sorted := make([]float64, 0, len(vals))
	for _, v := range vals {
		if !math.IsNaN(v) {
			sorted = append(sorted, v)
		}
	}
	slices.Sort(sorted)
	var edges []float64 // bucket starts, ascending, distinct
	for j := range buckets {
		if len(sorted) == 0 {
			break
		}
		e := sorted[j*len(sorted)/buckets]
		if len(edges) == 0 || e != edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	groups := make([]sliceGroup, len(edges))
	for j, lo := range edges {
		if j+1 < len(edges) {
			groups[j].value = "[" + formatEdge(lo) + ", " + formatEdge(edges[j+1]) + ")"
		} else {
			groups[j].value = "[" + formatEdge(lo) + ", " + formatEdge(sorted[len(sorted)-1]) + "]"
		}
	}
	var nulls []int
	for pos, v := range vals {
		if math.IsNaN(v) {
			nulls = append(nulls, pos)
			continue
		}
		// The last start ≤ v: edges[0] is the minimum, so j ≥ 0.
		j, found := slices.BinarySearch(edges, v)
		if !found {
			j--
		}
		groups[j].rows = append(groups[j].rows, pos)
	}
	if len(nulls) > 0 {
		groups = append(groups, sliceGroup{value: nullSlice, rows: nulls})
	}
	return groups, nil
}

func formatEdge(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// sliceMetrics evaluates both models on each slice of one column: the
// rows of the slice taken from the holdout's predictions and given to
// Evaluate, so a slice's metrics are what Evaluate gives on its rows.
func sliceMetrics(c slicing, ch, cp *EvalPart) ([]*pb.SliceMetrics, error) {
	out := make([]*pb.SliceMetrics, 0, len(c.groups))
	for _, g := range c.groups {
		s := &pb.SliceMetrics{Column: c.column, Value: g.value, Rows: int64(len(g.rows))}
		m, err := Evaluate([]EvalPart{subPart(ch, g.rows)})
		if err != nil {
			return nil, fmt.Errorf("slice %s=%s: %w", c.column, g.value, err)
		}
		s.Challenger = metricMap(m)
		if cp != nil {
			m, err := Evaluate([]EvalPart{subPart(cp, g.rows)})
			if err != nil {
				return nil, fmt.Errorf("slice %s=%s: %w", c.column, g.value, err)
			}
			s.Champion = metricMap(m)
		}
		out = append(out, s)
	}
	return out, nil
}

// subPart is the rows of p at the given positions, in that order.
func subPart(p *EvalPart, rows []int) EvalPart {
	w := p.width()
	q := EvalPart{Task: p.Task, Classes: p.Classes, Pred: make([]float64, 0, len(rows)*w), Label: make([]float64, 0, len(rows))}
	for _, r := range rows {
		q.Pred = append(q.Pred, p.Pred[r*w:(r+1)*w]...)
		q.Label = append(q.Label, p.Label[r])
	}
	return q
}
