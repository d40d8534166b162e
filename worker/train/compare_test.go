package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// compareSample is the generator spec of the comparison tests' dataset:
// labels drawn from a known logistic model (model.FromTruth).
var compareSample = sample.Spec{Files: 1, RowsPerFile: 4000, Features: 2, Seed: 11, Format: "parquet"}

// compareData ingests the generated dataset and loads it with a logistic
// spec holding out 30% of the rows.
func compareData(t *testing.T) (*Data, *pb.TrainSpec) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	uri := func(rel string) string { return "file://" + filepath.Join(dir, rel) }
	b, key, err := storage.Open(ctx, uri("src"), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(ctx, b, key, compareSample); err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(ctx, storage.Config{}, []string{uri("src/raw")}, uri("ds"),
		shard.Options{RowsPerShard: 1500, BatchRows: 700}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := &pb.TrainSpec{Dataset: res.URI, Label: "label", Model: &pb.ModelConfig{Family: "logistic"}, Seed: 5, Holdout: 0.3}
	for _, c := range []string{"age", "income", "tenure_months", "purchases", "avg_basket", "days_since_last", "f00", "f01"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "numeric"})
	}
	for _, c := range []string{"region", "device", "plan"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "categorical", Buckets: 8})
	}
	return loadCompare(t, sp), sp
}

func loadCompare(t *testing.T, sp *pb.TrainSpec) *Data {
	t.Helper()
	d, err := Load(context.Background(), storage.Config{}, sp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Release)
	if d.HoldRows == 0 {
		t.Fatal("no holdout rows")
	}
	return d
}

// truthModels returns the generator's model and a constant one (its
// features' weights zero, the same bias): the truth is clearly better.
func truthModels(t *testing.T) (truth, constant *model.Model) {
	t.Helper()
	truth, err := model.FromTruth(sample.NewTruth(compareSample))
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, len(truth.Weights()))
	w[len(w)-1] = truth.Weights()[len(w)-1]
	constant, err = model.New(truth.Spec, w)
	if err != nil {
		t.Fatal(err)
	}
	return truth, constant
}

func withPromotion(sp *pb.TrainSpec, metric string, confidence float64, bootstrap int32) *pb.TrainSpec {
	sp = proto.Clone(sp).(*pb.TrainSpec)
	sp.Promotion = &pb.PromotionPolicy{Metric: metric, Confidence: confidence, Bootstrap: bootstrap}
	sp.Champion = &pb.ChampionRef{Name: "churn", Version: 3, Uri: "file:///unused"}
	return sp
}

func mustCompare(t *testing.T, d *Data, a, b *model.Model, sp *pb.TrainSpec) *pb.Evaluation {
	t.Helper()
	ev, err := Compare(context.Background(), d, a, b, sp)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestCompareWithoutChampion(t *testing.T) {
	d, sp := compareData(t)
	truth, _ := truthModels(t)
	sp = withPromotion(sp, "", 0.95, 200)
	sp.Champion = nil
	ev := mustCompare(t, d, truth, nil, sp)
	want, err := EvaluateHoldout(context.Background(), d, truth)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Metric != "logloss" || ev.Rows != int64(d.HoldRows) || ev.DatasetFingerprint != d.Fingerprint || ev.DatasetFingerprint == "" {
		t.Fatalf("metric %q, rows %d (holdout %d), fingerprint %q", ev.Metric, ev.Rows, d.HoldRows, ev.DatasetFingerprint)
	}
	for _, k := range []string{"logloss", "auc", "accuracy"} {
		if ev.Challenger[k] != want[k] {
			t.Fatalf("challenger %s = %v, Evaluate says %v", k, ev.Challenger[k], want[k])
		}
	}
	if _, ok := ev.Challenger["rows"]; ok {
		t.Fatal("rows is in the metric map")
	}
	if len(ev.Champion) != 0 || ev.ChampionError != "" || ev.ChampionVersion != 0 || ev.Gain != 0 ||
		ev.GainLow != 0 || ev.GainHigh != 0 || ev.Bootstrap != 0 || ev.Confidence != 0 || ev.UnixMs != 0 {
		t.Fatalf("champion fields set without a champion: %v", ev)
	}
}

func TestCompareSameModel(t *testing.T) {
	d, sp := compareData(t)
	truth, _ := truthModels(t)
	for _, metric := range []string{"logloss", "auc", "accuracy"} {
		ev := mustCompare(t, d, truth, truth, withPromotion(sp, metric, 0.9, 300))
		if ev.Gain != 0 || ev.GainLow != 0 || ev.GainHigh != 0 || ev.Bootstrap != 300 || ev.Confidence != 0.9 {
			t.Fatalf("%s: gain %v [%v, %v] over %d resamples at %v, want 0 [0, 0] over 300 at 0.9",
				metric, ev.Gain, ev.GainLow, ev.GainHigh, ev.Bootstrap, ev.Confidence)
		}
		if ev.ChampionVersion != 3 || !proto.Equal(&pb.Evaluation{Challenger: ev.Challenger}, &pb.Evaluation{Challenger: ev.Champion}) {
			t.Fatalf("%s: champion v%d metrics %v, challenger %v", metric, ev.ChampionVersion, ev.Champion, ev.Challenger)
		}
	}
}

func TestCompareBetterModelWins(t *testing.T) {
	d, sp := compareData(t)
	truth, constant := truthModels(t)
	for _, metric := range []string{"logloss", "auc", "accuracy"} {
		ev := mustCompare(t, d, truth, constant, withPromotion(sp, metric, 0.95, 0))
		want := jobspec.Gain(metric, ev.Challenger[metric], ev.Champion[metric])
		if ev.Gain != want || ev.Gain <= 0 {
			t.Fatalf("%s: gain %v, want %v > 0", metric, ev.Gain, want)
		}
		if !(ev.GainLow > 0 && ev.GainLow <= ev.Gain && ev.Gain <= ev.GainHigh) || ev.Bootstrap != jobspec.DefaultBootstrap {
			t.Fatalf("%s: gain %v in [%v, %v] over %d resamples: want a positive interval around it over %d",
				metric, ev.Gain, ev.GainLow, ev.GainHigh, ev.Bootstrap, jobspec.DefaultBootstrap)
		}
		t.Logf("%s: challenger %v, champion %v, gain %v [%v, %v]", metric, ev.Challenger[metric], ev.Champion[metric], ev.Gain, ev.GainLow, ev.GainHigh)
		// The other way round the gain and its interval change sign.
		rev := mustCompare(t, d, constant, truth, withPromotion(sp, metric, 0.95, 0))
		if rev.Gain != -ev.Gain || !(rev.GainHigh < 0) {
			t.Fatalf("%s reversed: gain %v [%v, %v], want %v and an interval below 0", metric, rev.Gain, rev.GainLow, rev.GainHigh, -ev.Gain)
		}
	}
	// Without a confidence level there is a gain but no interval.
	ev := mustCompare(t, d, truth, constant, withPromotion(sp, "", 0, 0))
	if ev.Gain <= 0 || ev.GainLow != 0 || ev.GainHigh != 0 || ev.Bootstrap != 0 || ev.Confidence != 0 {
		t.Fatalf("no confidence: gain %v [%v, %v] over %d", ev.Gain, ev.GainLow, ev.GainHigh, ev.Bootstrap)
	}
}

func TestCompareDeterministic(t *testing.T) {
	d, sp := compareData(t)
	truth, constant := truthModels(t)
	sp = withPromotion(sp, "auc", 0.8, 150)
	sp.Evaluation = &pb.EvaluationSpec{Slices: []string{"region", "income"}}
	a := mustCompare(t, d, truth, constant, sp)
	b := mustCompare(t, d, truth, constant, sp)
	if !proto.Equal(a, b) {
		t.Fatalf("two comparisons of the same job differ:\n%v\n%v", a, b)
	}
	sp.Seed++
	c := mustCompare(t, d, truth, constant, sp)
	if c.GainLow == a.GainLow && c.GainHigh == a.GainHigh {
		t.Fatal("another seed drew the same interval")
	}
}

// holdoutRows lists the holdout's global rows in holdoutPart's order.
func holdoutRows(d *Data) []int64 {
	var rows []int64
	for _, b := range d.HoldBlocks {
		for r := b * HoldoutBlock; r < min((b+1)*HoldoutBlock, int64(d.Rows)); r++ {
			rows = append(rows, r)
		}
	}
	return rows
}

// cellAt is column col of global row r.
func cellAt(d *Data, col string, r int64) (arrow.Array, int) {
	ci := d.chunkOf(r)
	rec := d.Records[ci]
	return rec.Column(rec.Schema().FieldIndices(col)[0]), int(r - d.plan.chunks[ci].start)
}

// inSlice reports whether a holdout row belongs to the slice of value,
// read independently of the code under test: by value, or by parsing a
// bucket's "[lo, hi)" or "[lo, hi]".
func inSlice(t *testing.T, a arrow.Array, i int, value string) bool {
	if numericType(a.DataType()) {
		v, ok := model.NumericAt(a, i)
		if value == nullSlice {
			return !ok || math.IsNaN(v)
		}
		if !ok || math.IsNaN(v) {
			return false
		}
		lo, hi, closed := parseBucket(t, value)
		return v >= lo && (v < hi || closed && v == hi)
	}
	if a.IsNull(i) {
		return value == nullSlice
	}
	return a.ValueStr(i) == value
}

func parseBucket(t *testing.T, s string) (lo, hi float64, closed bool) {
	closed = strings.HasSuffix(s, "]")
	parts := strings.Split(strings.Trim(s, "[])"), ", ")
	if len(parts) != 2 || !strings.HasPrefix(s, "[") {
		t.Fatalf("bucket %q is not [lo, hi) or [lo, hi]", s)
	}
	var err1, err2 error
	lo, err1 = strconv.ParseFloat(parts[0], 64)
	hi, err2 = strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil || lo > hi {
		t.Fatalf("bucket %q: %v %v", s, err1, err2)
	}
	return lo, hi, closed
}

func TestCompareSlices(t *testing.T) {
	d, sp := compareData(t)
	truth, constant := truthModels(t)
	sp = withPromotion(sp, "", 0, 0)
	cols := []string{"region", "tenure_months", "income", "plan"}
	sp.Evaluation = &pb.EvaluationSpec{Slices: cols, Buckets: 5}
	ev := mustCompare(t, d, truth, constant, sp)
	ch, err := d.holdoutPart(context.Background(), truth, d.HoldBlocks)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := d.holdoutPart(context.Background(), constant, d.HoldBlocks)
	if err != nil {
		t.Fatal(err)
	}
	hold := holdoutRows(d)
	next := 0
	for _, col := range cols {
		total, prev := 0, ""
		var values []string
		for ; next < len(ev.Slices) && ev.Slices[next].Column == col; next++ {
			s := ev.Slices[next]
			values = append(values, s.Value)
			if prev != "" && !sliceBefore(t, prev, s.Value) {
				t.Fatalf("%s: slice %q after %q", col, s.Value, prev)
			}
			prev = s.Value
			var rows []int
			for pos, r := range hold {
				a, i := cellAt(d, col, r)
				if inSlice(t, a, i, s.Value) {
					rows = append(rows, pos)
				}
			}
			if len(rows) != int(s.Rows) || s.Rows == 0 {
				t.Fatalf("%s=%s: %d rows, %d holdout rows have that value", col, s.Value, s.Rows, len(rows))
			}
			total += len(rows)
			for _, side := range []struct {
				part *EvalPart
				got  map[string]float64
			}{{&ch, s.Challenger}, {&cp, s.Champion}} {
				want := metricMap(mustEvaluate(t, subPart(side.part, rows)))
				if !proto.Equal(&pb.SliceMetrics{Challenger: side.got}, &pb.SliceMetrics{Challenger: want}) {
					t.Fatalf("%s=%s: metrics %v, Evaluate on its rows %v", col, s.Value, side.got, want)
				}
			}
		}
		if total != int(ev.Rows) {
			t.Fatalf("%s: slices hold %d rows of %d", col, total, ev.Rows)
		}
		t.Logf("%s: %q", col, values)
		switch col {
		case "region":
			if len(values) != len(sample.Regions) {
				t.Fatalf("region: %d slices, %d regions", len(values), len(sample.Regions))
			}
		case "income":
			if values[len(values)-1] != nullSlice || len(values) != 6 {
				t.Fatalf("income: slices %q: want 5 buckets and the null incomes", values)
			}
		case "tenure_months":
			if len(values) < 2 || len(values) > 5 || !strings.HasSuffix(values[len(values)-1], "]") {
				t.Fatalf("tenure_months: slices %q", values)
			}
		}
	}
	if next != len(ev.Slices) {
		t.Fatalf("%d slices, %d in the spec's column order", len(ev.Slices), next)
	}
}

// sliceBefore is the slices' order within a column: buckets by their
// lower edge, values in byte order, the nulls last.
func sliceBefore(t *testing.T, a, b string) bool {
	switch {
	case b == nullSlice:
		return a != nullSlice
	case a == nullSlice:
		return false
	case strings.HasPrefix(a, "[") && strings.HasPrefix(b, "["):
		alo, ahi, _ := parseBucket(t, a)
		blo, _, _ := parseBucket(t, b)
		return alo < blo && ahi == blo
	}
	return a < b
}

// csvData ingests a hand-written CSV of n rows: x (float), many (a
// distinct string per row), flag (bool) and a label drawn from x.
func csvData(t *testing.T, n int) (*Data, *pb.TrainSpec) {
	t.Helper()
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("x,many,flag,label\n")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		x := r.NormFloat64()
		label := 0
		if r.Float64() < 1/(1+math.Exp(-2*x)) {
			label = 1
		}
		flag := strconv.FormatBool(i%3 == 0)
		if i%17 == 0 {
			flag = ""
		}
		fmt.Fprintf(&sb, "%.4f,id-%04d,%s,%d\n", x, i, flag, label)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "a.csv"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(context.Background(), storage.Config{}, []string{"file://" + filepath.Join(dir, "src")}, "file://"+filepath.Join(dir, "ds"),
		shard.Options{Schema: "x:float64,many:string,flag:bool,label:int64", BatchRows: 300}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := &pb.TrainSpec{Dataset: res.URI, Label: "label", Model: &pb.ModelConfig{Family: "logistic"}, Seed: 9, Holdout: 0.5,
		Features: []*pb.FeatureSpec{{Column: "x", Kind: "numeric"}}}
	return loadCompare(t, sp), sp
}

// csvModel is a logistic model of x with weight w.
func csvModel(t *testing.T, w float32) *model.Model {
	t.Helper()
	m, err := model.New(model.Spec{FormatVersion: model.FormatVersion, Family: model.FamilyLogistic,
		Features: []model.Feature{{Column: "x", Kind: model.KindNumeric, Mean: 0, Std: 1, Missing: model.MissingImpute}}}, []float32{w, 0})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCompareSliceBool(t *testing.T) {
	d, sp := csvData(t, 1000)
	sp.Evaluation = &pb.EvaluationSpec{Slices: []string{"flag"}}
	ev := mustCompare(t, d, csvModel(t, 2), csvModel(t, 1), sp)
	var values []string
	var rows int64
	for _, s := range ev.Slices {
		values = append(values, s.Value)
		rows += s.Rows
	}
	if strings.Join(values, ",") != "false,true,(null)" || rows != ev.Rows {
		t.Fatalf("flag slices %q with %d rows of %d", values, rows, ev.Rows)
	}
}

func TestCompareSliceErrors(t *testing.T) {
	d, sp := csvData(t, 1000)
	a, b := csvModel(t, 2), csvModel(t, 1)
	for _, c := range []struct {
		slices []string
		want   []string
	}{
		{[]string{"x", "many"}, []string{`"many"`, fmt.Sprint(jobspec.MaxSliceValues)}},
		{[]string{"flag", "nope"}, []string{`"nope"`, "not in the dataset"}},
	} {
		sp.Evaluation = &pb.EvaluationSpec{Slices: c.slices}
		_, err := Compare(context.Background(), d, a, b, sp)
		if !errors.Is(err, ErrBadData) {
			t.Fatalf("slices %q: error %v, want ErrBadData", c.slices, err)
		}
		t.Log(err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("slices %q: error %q does not say %s", c.slices, err, w)
			}
		}
	}
}

func TestCompareChampionCannotScore(t *testing.T) {
	d, sp := compareData(t)
	truth, _ := truthModels(t)
	sp = withPromotion(sp, "", 0.95, 100)
	sp.Evaluation = &pb.EvaluationSpec{Slices: []string{"plan"}}
	gone, err := model.New(model.Spec{FormatVersion: model.FormatVersion, Family: model.FamilyLogistic,
		Features: []model.Feature{{Column: "churn_score_v1", Kind: model.KindNumeric, Mean: 0, Std: 1, Missing: model.MissingImpute}}}, []float32{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	regression, err := model.New(model.Spec{FormatVersion: model.FormatVersion, Family: model.FamilyLinear,
		Features: []model.Feature{{Column: "age", Kind: model.KindNumeric, Mean: 45, Std: 14, Missing: model.MissingImpute}}}, []float32{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	// A null income cannot be scored under missing: fail.
	strict := truth.Spec
	strict.Features = append([]model.Feature(nil), truth.Spec.Features...)
	strict.Features[1].Missing = model.MissingFail
	failing, err := model.New(strict, append([]float32(nil), truth.Weights()...))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		champion *model.Model
		want     string
	}{{gone, `"churn_score_v1"`}, {regression, "regression"}, {failing, `"income"`}} {
		ev := mustCompare(t, d, truth, c.champion, sp)
		if !strings.HasPrefix(ev.ChampionError, "production v3 cannot score these rows: ") || !strings.Contains(ev.ChampionError, c.want) ||
			strings.Contains(ev.ChampionError, ErrBadData.Error()) {
			t.Fatalf("champion error %q, want it to name %s", ev.ChampionError, c.want)
		}
		t.Log(ev.ChampionError)
		if len(ev.Champion) != 0 || ev.Gain != 0 || ev.Bootstrap != 0 || len(ev.Challenger) == 0 || len(ev.Slices) != 3 {
			t.Fatalf("champion that cannot score: %v", ev)
		}
		for _, s := range ev.Slices {
			if len(s.Champion) != 0 || len(s.Challenger) == 0 {
				t.Fatalf("slice %s=%s: challenger %v champion %v", s.Column, s.Value, s.Challenger, s.Champion)
			}
		}
	}
}

// randomPart is a part of n rows of task with ties (probabilities on a
// grid of 0.05) and, for regression, errors of all sizes.
func randomPart(r *rand.Rand, task EvalTask, classes, n int) EvalPart {
	p := EvalPart{Task: task}
	if task == EvalMulticlass {
		p.Classes = classes
	}
	pred := make([]float64, p.width())
	for range n {
		var y float64
		switch task {
		case EvalBinary:
			pred[0] = math.Round(r.Float64()*20) / 20
			y = float64(r.IntN(2))
		case EvalMulticlass:
			sum := 0.0
			for k := range pred {
				pred[k] = math.Round(r.Float64()*10) + 0.01
				sum += pred[k]
			}
			for k := range pred {
				pred[k] /= sum
			}
			y = float64(r.IntN(classes))
		default:
			y = r.NormFloat64() * 10
			pred[0] = y + r.NormFloat64()*math.Pow(10, float64(r.IntN(6)-3))
		}
		p.Append(pred, y)
	}
	return p
}

// TestRowTermsIdentityMatchesEvaluate: with every row drawn once, the
// bootstrap's weighted metrics are Evaluate's, bit for bit.
func TestRowTermsIdentityMatchesEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	d, _ := compareData(t)
	truth, _ := truthModels(t)
	real, err := d.holdoutPart(context.Background(), truth, d.HoldBlocks)
	if err != nil {
		t.Fatal(err)
	}
	parts := []EvalPart{real, randomPart(r, EvalBinary, 0, 5000), randomPart(r, EvalMulticlass, 4, 3000), randomPart(r, EvalRegression, 0, 3000)}
	for i := range parts {
		p := &parts[i]
		want := mustEvaluate(t, *p)
		ones := make([]int32, p.Rows())
		for k := range ones {
			ones[k] = 1
		}
		checked := 0
		for _, metric := range jobspec.Metrics {
			got, ok := newRowTerms(p, metric).metric(ones)
			w, has := want[metric]
			if ok != has {
				t.Fatalf("part %d (task %d) %s: defined %v, Evaluate has it %v", i, p.Task, metric, ok, has)
			}
			if ok && math.Float64bits(got) != math.Float64bits(w) {
				t.Fatalf("part %d (task %d) %s: %v on the identity resample, Evaluate %v", i, p.Task, metric, got, w)
			}
			if ok {
				checked++
			}
		}
		if checked == 0 {
			t.Fatalf("part %d: no metric checked", i)
		}
	}
}

// TestRowTermsCounts: a row drawn c times weighs as c copies of it.
func TestRowTermsCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, task := range []EvalTask{EvalBinary, EvalMulticlass, EvalRegression} {
		p := randomPart(r, task, 3, 400)
		counts := make([]int32, p.Rows())
		drawCounts(counts, 7, 0)
		var rows []int
		for k, c := range counts {
			for range c {
				rows = append(rows, k)
			}
		}
		want := mustEvaluate(t, subPart(&p, rows))
		for _, metric := range jobspec.Metrics {
			got, ok := newRowTerms(&p, metric).metric(counts)
			if w, has := want[metric]; ok != has || ok && !evalNear(got, w) {
				t.Fatalf("task %d %s: %v (%v) on the resample, Evaluate on its copies %v (%v)", task, metric, got, ok, w, has)
			}
		}
	}
}

func TestDrawCounts(t *testing.T) {
	counts := make([]int32, 1000)
	drawCounts(counts, 1, 0)
	again := make([]int32, 1000)
	drawCounts(again, 1, 0)
	other := make([]int32, 1000)
	drawCounts(other, 1, 1)
	total, zeros, same := 0, 0, true
	for k, c := range counts {
		total += int(c)
		if c == 0 {
			zeros++
		}
		same = same && c == other[k]
		if c != again[k] {
			t.Fatal("the same resample drew differently")
		}
	}
	// About 1/e of the rows are not drawn.
	if total != 1000 || zeros < 300 || zeros > 440 || same {
		t.Fatalf("%d draws, %d rows undrawn, same as resample 1: %v", total, zeros, same)
	}
}

func BenchmarkBootstrapGain(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const rows = 100_000
	ch, cp := randomPart(r, EvalBinary, 0, rows), randomPart(r, EvalBinary, 0, rows)
	for _, metric := range []string{"logloss", "auc"} {
		b.Run(metric, func(b *testing.B) {
			for b.Loop() {
				bootstrapGain(metric, &ch, &cp, jobspec.DefaultBootstrap, 1, 0.95)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(rows*jobspec.DefaultBootstrap), "ns/row-resample")
		})
	}
}
