package jobspec

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// nightlyPipeline is a full pipeline template: every step, each wired to
// the one before it.
func nightlyPipeline() *pb.PipelineSpec {
	return &pb.PipelineSpec{
		Ingest: &pb.ShardSpec{Sources: []string{`file:///lake/events/{{ .Slot.Format "2006-01-02" }}/`},
			Output: ` file:///ds/events-{{ .Slot.Format "20060102" }}/ `, OptionsJson: []byte(`{"label":"label"}`)},
		Validate: &pb.ValidateSpec{RequiredColumns: []string{" id "}},
		Train: &pb.TrainSpec{ModelName: "churn", Output: "file:///models", Label: "label",
			Features: []*pb.FeatureSpec{{Column: "age", Kind: "numeric"}}, Model: &pb.ModelConfig{Family: "Logistic"}},
		Score: &pb.ScoreSpec{Output: "file:///scored/{{ .Run }}", Passthrough: []string{"id"}},
		Pool:  " batch ", MaxAttempts: 2,
	}
}

func TestPipelineDefaultsAndCanonicalForm(t *testing.T) {
	p := nightlyPipeline()
	if err := Pipeline(p); err != nil {
		t.Fatal(err)
	}
	if p.Pool != "batch" || p.StepTries != DefaultStepTries || p.StepBackoffS != DefaultStepBackoffS {
		t.Errorf("pipeline fields: %v", p)
	}
	if !proto.Equal(p.Validate, &pb.ValidateSpec{MinRows: 1, RequiredColumns: []string{"id"}}) {
		t.Errorf("validate: %v", p.Validate)
	}
	// Templates keep their text, in the canonical form of a URI; the wired
	// fields stay empty; the kinds' defaults are filled.
	if p.Ingest.Sources[0] != `file:///lake/events/{{ .Slot.Format "2006-01-02" }}` ||
		p.Ingest.Output != `file:///ds/events-{{ .Slot.Format "20060102" }}` {
		t.Errorf("ingest: %v", p.Ingest)
	}
	if p.Train.Dataset != "" || p.Train.Model.Family != "logistic" || p.Train.Epochs != DefaultEpochs || p.Train.Features[0].Missing != "impute" {
		t.Errorf("train: %v", p.Train)
	}
	if p.Score.Model != "" || p.Score.Input != "" || p.Score.Format != "parquet" || p.Score.BadRows != "fail" {
		t.Errorf("score: %v", p.Score)
	}
	again := proto.Clone(p).(*pb.PipelineSpec)
	if err := Pipeline(again); err != nil || !proto.Equal(again, p) {
		t.Fatalf("second normalisation changed the pipeline (%v): %v", err, again)
	}
	// The validate step's gates: the reference in its canonical form, the
	// drift policy with its defaults, the contract as written.
	p.Validate.Against = " file:///models/churn/job-1/ "
	p.Validate.Contract = &pb.DataContract{Columns: []*pb.ColumnContract{{Name: "age", Required: true, MaxNullFraction: 0.1}}}
	p.Validate.Drift = &pb.DriftPolicy{PsiFail: 0.5, Columns: []*pb.ColumnDrift{{Name: "age", Ignore: true}}}
	p.Validate.FailOnWarn = true
	p.Validate.IgnoreColumns = []string{" id "}
	if err := Pipeline(p); err != nil {
		t.Fatal(err)
	}
	want := &pb.ValidateSpec{MinRows: 1, RequiredColumns: []string{"id"}, Against: "file:///models/churn/job-1", FailOnWarn: true,
		IgnoreColumns: []string{"id"},
		Contract:      &pb.DataContract{Columns: []*pb.ColumnContract{{Name: "age", Required: true, MaxNullFraction: 0.1}}},
		Drift: &pb.DriftPolicy{PsiWarn: DefaultPSIWarn, PsiFail: 0.5, JsWarn: DefaultJSWarn, JsFail: DefaultJSFail,
			DriftedShareFail: DefaultDriftedShare, Columns: []*pb.ColumnDrift{{Name: "age", Ignore: true}}}}
	if !proto.Equal(p.Validate, want) {
		t.Errorf("validate gates\n got %v\nwant %v", p.Validate, want)
	}
	again = proto.Clone(p).(*pb.PipelineSpec)
	if err := Pipeline(again); err != nil || !proto.Equal(again, p) {
		t.Fatalf("second normalisation changed the gates (%v): %v", err, again.Validate)
	}
	q := nightlyPipeline()
	q.Validate.MinRowsRatio, q.Validate.MaxRowsRatio = 0.25, 4
	if err := Pipeline(q); err != nil || q.Validate.MinRowsRatio != 0.25 || q.Validate.MaxRowsRatio != 4 {
		t.Errorf("row ratios: %v %v", err, q.Validate)
	}
	for _, ref := range []string{"churn", "churn@candidate", "churn@v3"} {
		q := nightlyPipeline()
		q.Validate.Against = ref
		if err := Pipeline(q); err != nil || q.Validate.Against != ref {
			t.Errorf("against %s: %v %q", ref, err, q.Validate.Against)
		}
	}
	// Validate is implied by a dataset step only.
	scoreOnly := &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: "churn", Input: "file:///in", Output: "file:///out"}}
	if err := Pipeline(scoreOnly); err != nil || scoreOnly.Validate != nil {
		t.Errorf("score only: %v %v", err, scoreOnly)
	}
	trainOnly := &pb.PipelineSpec{Train: validTrain()}
	if err := Pipeline(trainOnly); err != nil || trainOnly.Validate.GetMinRows() != 1 {
		t.Errorf("train only: %v %v", err, trainOnly)
	}
}

func TestPipelineErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*pb.PipelineSpec)
		want []string // "path: message part", in order
	}{
		{"no step", func(p *pb.PipelineSpec) { p.Ingest, p.Train, p.Score = nil, nil, nil }, []string{"no step: want ingest, train or score"}},
		{"step numbers", func(p *pb.PipelineSpec) { p.StepTries, p.StepBackoffS = -1, MaxStepBackoffS+1 },
			[]string{"step_tries: must be ≥ 1, got -1", "step_backoff_s: at most 86400, got 86401"}},
		{"too many tries", func(p *pb.PipelineSpec) { p.StepTries = MaxStepTries + 1 }, []string{"step_tries: at most 100"}},
		{"max attempts told once", func(p *pb.PipelineSpec) { p.MaxAttempts = MaxAttempts + 1 }, []string{"max_attempts: must be ≥ 0 and at most 100"}},
		{"validate", func(p *pb.PipelineSpec) {
			p.Validate = &pb.ValidateSpec{MinRows: -1, RequiredColumns: []string{"a", " ", "a"}}
		},
			[]string{"validate.min_rows: must be ≥ 1", "validate.required_columns[1]: empty column name", `validate.required_columns[2]: column "a" is listed twice`}},
		{"validate gates", func(p *pb.PipelineSpec) {
			p.Validate.Against = "Churn!"
			p.Validate.Contract = &pb.DataContract{MinRowsRatio: 3, MaxRowsRatio: 2, Columns: []*pb.ColumnContract{
				{Name: "amount", MaxNullFraction: 1.5}, {Name: "amount", Kind: pb.ColumnKind_COLUMN_KIND_NUMERIC, Allowed: []string{"x"}}}}
			p.Validate.Drift = &pb.DriftPolicy{PsiFail: -1, JsWarn: 0.5, Columns: []*pb.ColumnDrift{{Name: "amount", Warn: 0.3}}}
		},
			[]string{`validate.against: model "Churn!"`,
				"validate.contract.min_rows_ratio: 3 is above the maximum ratio (2)",
				"validate.contract.columns[0].max_null_fraction: at most 1",
				`validate.contract.columns[1].name: column "amount" is listed twice`,
				"validate.contract.columns[1].allowed: allowed values need a categorical column",
				"validate.drift.psi_fail: must be ≥ 0",
				"validate.drift.js_warn: 0.5 is above the fail threshold (0.2)",
				"validate.drift.columns[0].fail: must be > 0 when warn is set"}},
		{"validate ignore and ratios", func(p *pb.PipelineSpec) {
			p.Validate.IgnoreColumns = []string{" id ", "", "id"}
			p.Validate.MinRowsRatio = 3 // above the default maximum, 2
		}, []string{"validate.ignore_columns[1]: empty column name", `validate.ignore_columns[2]: column "id" is listed twice`,
			"validate.min_rows_ratio: 3 is above the maximum ratio (2)"}},
		{"validate ratios", func(p *pb.PipelineSpec) { p.Validate.MinRowsRatio, p.Validate.MaxRowsRatio = -1, math.NaN() },
			[]string{"validate.min_rows_ratio: must be ≥ 0", "validate.max_rows_ratio: NaN: want a finite number"}},
		{"validate ratios with a contract", func(p *pb.PipelineSpec) {
			p.Validate.MaxRowsRatio, p.Validate.Contract = 3, &pb.DataContract{}
		}, []string{"validate.max_rows_ratio: an explicit contract has its own row bounds"}},
		{"validate against uri", func(p *pb.PipelineSpec) { p.Validate.Against = "ftp://models/churn" }, []string{"validate.against: "}},
		{"ingest sources", func(p *pb.PipelineSpec) { p.Ingest.Sources = nil }, []string{"ingest.sources: required"}},
		{"template parse", func(p *pb.PipelineSpec) { p.Ingest.Sources[0] = "file:///lake/{{ .Slot.Format }" },
			[]string{`ingest.sources[0]: template: unexpected "}" in operand`}},
		{"template function", func(p *pb.PipelineSpec) { p.Ingest.Output = "file:///ds/{{ now }}" },
			[]string{`ingest.output: template: function "now" not defined`}},
		{"template field", func(p *pb.PipelineSpec) { p.Train.Output = "file:///m/{{ .Bucket }}" },
			[]string{"train.output: template: <.Bucket>: can't evaluate field Bucket"}},
		{"template empty", func(p *pb.PipelineSpec) { p.Score.Output = "{{ if false }}x{{ end }}" },
			[]string{"score.output: the template renders to an empty string"}},
		{"rendered bad uri", func(p *pb.PipelineSpec) { p.Ingest.Output = "ftp://{{ .Schedule }}/x" }, []string{"ingest.output: "}},
		{"range refused", func(p *pb.PipelineSpec) { p.Score.Output = "file:///o/{{ range 3 }}x{{ end }}" },
			[]string{"score.output: template: range is not allowed"}},
		{"block refused", func(p *pb.PipelineSpec) { p.Score.Output = `file:///o/{{ block "b" . }}x{{ end }}` },
			[]string{"score.output: template: define is not allowed"}},
		{"huge printf refused", func(p *pb.PipelineSpec) { p.Score.Output = `file:///o/{{ printf "%099999d" 1 }}` },
			[]string{"error calling printf: widths and precisions are limited to 3 digits"}},
		{"template too long", func(p *pb.PipelineSpec) { p.Score.Output = "file:///o/" + strings.Repeat("x", MaxTemplateLen) },
			[]string{"score.output: at most 4096 bytes"}},
		{"rendered too long", func(p *pb.PipelineSpec) {
			p.Score.Output = `file:///o/{{ printf "%999d%999d%999d%999d%999d" 1 2 3 4 5 }}`
		},
			[]string{"score.output: template: renders to more than 4096 bytes"}},
		{"train dataset needs ingest", func(p *pb.PipelineSpec) { p.Ingest = nil },
			[]string{"train.dataset: required when the pipeline has no ingest step", "score.input: required when the pipeline has no ingest step"}},
		{"score model needs train", func(p *pb.PipelineSpec) { p.Train = nil }, []string{"score.model: required when the pipeline has no train step"}},
		{"score model ref", func(p *pb.PipelineSpec) { p.Score.Model = "churn@latest" }, []string{`score.model: model churn: "latest" is neither`}},
		{"train rules", func(p *pb.PipelineSpec) { p.Train.Epochs, p.Train.Features[0].Kind = -1, "text" },
			[]string{`train.features[0].kind: "text": want numeric or categorical`, "train.epochs: must be ≥ 1"}},
		// A bad model name is told at train.model_name, not again at the score model wired from it.
		{"wired model told at its source", func(p *pb.PipelineSpec) { p.Train.ModelName = "Churn!" }, []string{`train.model_name: "Churn!"`}},
		{"wired dataset told at its source", func(p *pb.PipelineSpec) { p.Ingest.Output = "{{ .Nope }}" },
			[]string{"ingest.output: template: <.Nope>"}},
		{"ingest options", func(p *pb.PipelineSpec) { p.Ingest.OptionsJson = []byte("[1]") }, []string{"ingest.options: not a JSON object"}},
		{"score format", func(p *pb.PipelineSpec) { p.Score.Format = "csv" }, []string{`score.format: "csv": want parquet or arrow`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := nightlyPipeline()
			tc.edit(p)
			err := Pipeline(p)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %v", err)
			}
			if len(es) != len(tc.want) {
				t.Fatalf("got %d errors (%v), want %d: %q", len(es), err, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(es[i].Error(), w) {
					t.Errorf("error %d %q does not say %q", i, es[i].Error(), w)
				}
			}
		})
	}
	if err := Pipeline(nil); err == nil {
		t.Error("nil pipeline accepted")
	}
}

func TestRenderWiresTheSteps(t *testing.T) {
	p := nightlyPipeline()
	if err := Pipeline(p); err != nil {
		t.Fatal(err)
	}
	before := proto.Clone(p)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	// 23:30 UTC on 31 March is 1 April in Berlin: the templates see the zone's day.
	d := SlotData{Slot: time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC).In(berlin), Run: "nightly@2026-03-31T23:30:00Z", Schedule: "nightly"}
	r, err := Render(p, d)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(p, before) {
		t.Fatal("Render changed the pipeline")
	}
	in := r.Ingest.GetShard()
	if in.Sources[0] != "file:///lake/events/2026-04-01" || in.Output != "file:///ds/events-20260401" || string(in.OptionsJson) != `{"label":"label"}` {
		t.Errorf("ingest: %v", in)
	}
	if tr := r.Train.GetTrain(); tr.Dataset != in.Output || tr.Output != "file:///models" || tr.Epochs != 1 {
		t.Errorf("train: %v", tr)
	}
	sc := r.Score.GetScore()
	if sc.Input != in.Output || sc.Model != "churn@production" || sc.Output != "file:///scored/nightly@2026-03-31T23:30:00Z" {
		t.Errorf("score: %v", sc)
	}
	for _, js := range []*pb.JobSpec{r.Ingest, r.Train, r.Score} {
		if js.Pool != "batch" || js.MaxAttempts != 2 {
			t.Errorf("job fields: %v", js)
		}
	}
	// Deterministic: the same pipeline and slot render the same bytes.
	r2, err := Render(p, d)
	if err != nil {
		t.Fatal(err)
	}
	det := proto.MarshalOptions{Deterministic: true}
	for i, pair := range [][2]*pb.JobSpec{{r.Ingest, r2.Ingest}, {r.Train, r2.Train}, {r.Score, r2.Score}} {
		a, _ := det.Marshal(pair[0])
		b, _ := det.Marshal(pair[1])
		if string(a) != string(b) {
			t.Errorf("step %d renders differently", i)
		}
	}
	// Explicit values are not rewired; absent steps render nil.
	q := &pb.PipelineSpec{Train: validTrain(), Score: &pb.ScoreSpec{Model: "other@v3", Input: "file:///in/{{ .Schedule }}", Output: "file:///o"}}
	if err := Pipeline(q); err != nil {
		t.Fatal(err)
	}
	r, err = Render(q, d)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ingest != nil || r.Train.GetTrain().Dataset != "file:///d/ds" || r.Score.GetScore().Model != "other@v3" ||
		r.Score.GetScore().Input != "file:///in/nightly" || r.Score.Pool != "" {
		t.Errorf("explicit fields: %v", r)
	}
	// A template can fail for one slot only: Render tells it at the field.
	q.Score.Input = `{{ if eq .Schedule "nightly" }}{{ .Missing }}{{ else }}file:///in{{ end }}`
	if err := Pipeline(q); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(q, d); err == nil || !strings.HasPrefix(err.Error(), "score.input: template:") {
		t.Errorf("slot-dependent failure: %v", err)
	}
}

func TestValidateColumns(t *testing.T) {
	p := nightlyPipeline()
	p.Validate.RequiredColumns = []string{"id", "age", "region"}
	p.Train.Features = append(p.Train.Features, &pb.FeatureSpec{Column: "region", Kind: "categorical"})
	if got, want := ValidateColumns(p), []string{"age", "id", "label", "region"}; !slices.Equal(got, want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	if got := ValidateColumns(&pb.PipelineSpec{}); len(got) != 0 {
		t.Errorf("no validate, no train: %v", got)
	}
}

// FuzzPipeline feeds arbitrary pipelines (as protobuf bytes) to Pipeline:
// it never panics, and a pipeline it accepts is a fixed point that
// renders.
func FuzzPipeline(f *testing.F) {
	for _, p := range []*pb.PipelineSpec{
		nightlyPipeline(),
		{Train: validTrain(), StepTries: 5, Validate: &pb.ValidateSpec{Against: "churn@v2", FailOnWarn: true,
			Contract: goodContract(), Drift: &pb.DriftPolicy{JsFail: 0.3, Columns: []*pb.ColumnDrift{{Name: "a", Warn: 1, Fail: 2}}}}},
		{Score: &pb.ScoreSpec{Model: "m@v2", Input: "s3://b/{{ .Slot.Year }}", Output: "file:///o/{{ .Run }}"}, StepBackoffS: 60},
	} {
		b, _ := proto.Marshal(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &pb.PipelineSpec{}
		if proto.Unmarshal(b, p) != nil || Pipeline(p) != nil {
			return
		}
		again := proto.Clone(p).(*pb.PipelineSpec)
		if err := Pipeline(again); err != nil || !proto.Equal(again, p) {
			t.Fatalf("accepted pipeline is not a fixed point: %v\n%v\n%v", err, p, again)
		}
		if _, err := Render(p, SlotData{Slot: sampleSlot, Run: "sample", Schedule: "sample"}); err != nil {
			t.Fatalf("accepted pipeline does not render with the sample slot: %v", err)
		}
	})
}
