package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/coordinator/alert"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

// TestPipelineValidateStopsShiftedNight runs a nightly ingest → validate →
// train → promote pipeline over three nights of CSV partitions whose
// middle night is shifted upstream (a column moved, a category renamed,
// nulls injected). The first night has no production model to compare
// with and trains v1; the shifted night fails at validate, naming the
// three columns, trains nothing and alerts; the third night passes the
// gates against v1's training profile and trains v2. The profiles are
// checked against a local statistics pass over the same shards, and the
// DataService answers a validation and refuses bad contracts and
// thresholds.
func TestPipelineValidateStopsShiftedNight(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	root := t.TempDir()
	base := "file://" + root
	st := storage.Config{}
	days := []string{"2026-12-01", "2026-12-02", "2026-12-03"}
	const shifted = 1

	lake, rootKey, err := storage.Open(ctx, base, st)
	if err != nil {
		t.Fatal(err)
	}
	for i, day := range days {
		var buf bytes.Buffer
		spec := sample.Spec{Files: 1, RowsPerFile: 1500, Seed: uint64(200 + i), Format: "csv"}
		if err := sample.Encode(ctx, &buf, spec, 0); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		if i == shifted {
			if data, err = sample.DefaultShift.ApplyCSV(data, rand.New(rand.NewPCG(1, 2))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := lake.Put(ctx, storage.JoinKey(rootKey, "lake", day, "part-0000.csv"), bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	sink := &alertSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	fixed := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := startCluster(t, 1, 2, func(o *Options) {
		o.Logger = failureLog(t)
		o.Coordinator = func(_ int, cfg *coordinator.Config) {
			cfg.Alerts = alert.Config{Webhooks: []alert.Webhook{{URL: hook.URL}}}
			cfg.Clock = func() time.Time { return fixed.Add(time.Since(began)) }
		}
	})
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	sched, data := pb.NewScheduleServiceClient(conn), pb.NewDataServiceClient(conn)

	day := `{{ .Slot.Format "2006-01-02" }}`
	spec := &pb.ScheduleSpec{
		Name: "gated", Cron: "0 2 * * *", TimeZone: "UTC",
		Pipeline: &pb.PipelineSpec{
			Ingest: &pb.ShardSpec{Sources: []string{base + "/lake/" + day + "/"}, Output: base + "/datasets/" + day,
				OptionsJson: []byte(`{"rows_per_shard": 500}`)},
			Validate: &pb.ValidateSpec{MinRows: 100, IgnoreColumns: []string{"id"}},
			Train: &pb.TrainSpec{
				ModelName: "churn", Output: base + "/models", Label: "label",
				Model:     &pb.ModelConfig{Family: "logistic", L2: 1e-4},
				Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: 0.05},
				Epochs:    1, BatchPerMember: 64, MinMembers: 1, MaxMembers: 1, Seed: 9, Holdout: 0.2,
				Promotion: &pb.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0), Confidence: 0.9, Bootstrap: 200,
					SliceGate: &pb.SliceGate{MinRows: 1, MaxRegression: 10}},
				Evaluation: &pb.EvaluationSpec{Slices: []string{"plan", "age"}, Buckets: 3},
				Features: []*pb.FeatureSpec{
					{Column: "age", Kind: "numeric"}, {Column: "days_since_last", Kind: "numeric"},
					{Column: "plan", Kind: "categorical", Buckets: 8},
				},
			},
			StepTries: 2, StepBackoffS: 1,
		},
	}
	if _, err := sched.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: spec, CreateOnly: true}); err != nil {
		t.Fatal(err)
	}
	runID := func(i int) string { return "gated@" + days[i] + "T02:00:00Z" }
	if _, err := sched.Backfill(ctx, &pb.BackfillRequest{Name: "gated",
		FromUnixMs: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		ToUnixMs:   time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC).UnixMilli(), Reprocess: "none"}); err != nil {
		t.Fatal(err)
	}
	runs := waitRuns(t, sched, 120*time.Second, runID(0), runID(1), runID(2))
	for _, r := range runs {
		t.Logf("run %s: %s: %s\n%s", r.Id, r.State, r.Reason, describeRun(r))
	}

	// Night 0: no production model yet, so no drift reference: it trains v1.
	if r := runs[0]; r.State != pb.RunState_RUN_STATE_SUCCEEDED || r.ModelVersion != 1 || !r.Promoted {
		t.Fatalf("night 0: %s v%d promoted %v: %s", r.State, r.ModelVersion, r.Promoted, r.Reason)
	}
	if v := stepOf(runs[0], "validate"); !strings.Contains(v.Detail, "no reference") || v.JobId == "" {
		t.Fatalf("night 0 validate: %q (job %q), want a profile job and no reference", v.Detail, v.JobId)
	}

	// Night 1, shifted: stopped at validate with the three columns named.
	bad := runs[shifted]
	v := stepOf(bad, "validate")
	if bad.State != pb.RunState_RUN_STATE_FAILED || v.State != pb.StepState_STEP_STATE_FAILED || v.Validation.GetVerdict() != pb.Severity_SEVERITY_FAIL {
		t.Fatalf("shifted night: run %s, validate %s, verdict %s: %s", bad.State, v.State, v.Validation.GetVerdict(), bad.Reason)
	}
	if v.Tries != 1 {
		t.Errorf("shifted night: validate tried %d times; a failed gate is not retried", v.Tries)
	}
	for _, col := range sample.DefaultShift.Columns() {
		if !strings.Contains(bad.Reason, col) {
			t.Errorf("shifted night: the reason does not name %s: %s", col, bad.Reason)
		}
	}
	if v.Validation.GetReference() != "churn@v1" {
		t.Errorf("shifted night: compared with %q, want churn@v1", v.Validation.GetReference())
	}
	if tr := stepOf(bad, "train"); tr.JobId != "" || bad.ModelVersion != 0 {
		t.Fatalf("shifted night: a model was trained (train job %q, v%d)", tr.JobId, bad.ModelVersion)
	}
	drifted := map[string]pb.Severity{}
	for _, d := range v.Validation.GetDrift() {
		drifted[d.Column] = d.Severity
		if d.Column == "id" {
			t.Errorf("shifted night: the ignored id column was compared: %v", d)
		}
	}
	for _, col := range []string{"days_since_last", "region"} {
		if drifted[col] != pb.Severity_SEVERITY_FAIL {
			t.Errorf("shifted night: %s drift %s, want FAIL (%v)", col, drifted[col], v.Validation.GetDrift())
		}
	}
	rules := map[string]string{}
	for _, vi := range v.Validation.GetViolations() {
		rules[vi.Column+"/"+vi.Rule] = vi.Observed + " vs " + vi.Allowed
	}
	for _, want := range []string{"region/allowed", "avg_basket/max_null_fraction"} {
		if _, ok := rules[want]; !ok {
			t.Errorf("shifted night: no %s violation in %v", want, rules)
		}
	}
	testkit.Wait(t, 15*time.Second, "the shifted night's run_failed alert", func() bool {
		got, _ := sink.snapshot()
		return slices.ContainsFunc(got, func(p alert.Payload) bool {
			return p.ID == bad.Id+"/run_failed" && strings.Contains(p.Message, "days_since_last")
		})
	})

	// Night 2: the same distribution as v1's data: passes and trains v2.
	if r := runs[2]; r.State != pb.RunState_RUN_STATE_SUCCEEDED || r.ModelVersion != 2 {
		t.Fatalf("night 2: %s v%d: %s", r.State, r.ModelVersion, r.Reason)
	}
	if v := stepOf(runs[2], "validate"); v.Validation.GetVerdict() != pb.Severity_SEVERITY_OK || v.Validation.GetReference() != "churn@v1" {
		t.Fatalf("night 2 validate: verdict %s against %q: %s", v.Validation.GetVerdict(), v.Validation.GetReference(), v.Detail)
	}
	checkSameDataEvaluation(t, runs[2])

	// The stored profile is the merge, in shard order, of every shard's
	// statistics, whichever worker computed which: recompute it here.
	ds0 := base + "/datasets/" + days[0]
	got, err := data.GetProfile(ctx, &pb.GetProfileRequest{Dataset: ds0})
	if err != nil {
		t.Fatal(err)
	}
	local := localProfile(t, ds0)
	if !proto.Equal(got.Profile, local) {
		t.Fatalf("the profile job's profile differs from a local pass:\n got %v\nwant %v", got.Profile, local)
	}
	if got.Profile.Shards != 3 || got.Profile.Rows != 1500 {
		t.Fatalf("profile of %d shards, %d rows; want 3, 1500", got.Profile.Shards, got.Profile.Rows)
	}
	// v1's artifact recorded the same profile of its training data.
	inferred, err := data.InferContract(ctx, &pb.InferContractRequest{Reference: "churn@v1"})
	if err != nil {
		t.Fatal(err)
	}
	fromDataset, err := data.InferContract(ctx, &pb.InferContractRequest{Reference: ds0})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(inferred.Contract, fromDataset.Contract) || inferred.Reference != "churn@v1" {
		t.Fatalf("the contract of churn@v1's training profile differs from its dataset's:\n%v\n%v", inferred.Contract, fromDataset.Contract)
	}

	// The standalone validation says the same as the shifted night's step.
	rep, err := data.Validate(ctx, &pb.ValidateRequest{Dataset: base + "/datasets/" + days[shifted], Against: "churn", IgnoreColumns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Report.Verdict != pb.Severity_SEVERITY_FAIL || rep.Report.Summary != v.Validation.Summary {
		t.Fatalf("standalone validate: %s %q, the pipeline said %q", rep.Report.Verdict, rep.Report.Summary, v.Validation.Summary)
	}

	// Bad input is refused, naming what was wrong.
	for _, tc := range []struct {
		name, want string
		req        *pb.ValidateRequest
	}{
		{"contract names a missing column", "regoin", &pb.ValidateRequest{Contract: &pb.DataContract{Columns: []*pb.ColumnContract{{Name: "regoin", Required: true}}}}},
		{"drift threshold out of range", "js_fail", &pb.ValidateRequest{Drift: &pb.DriftPolicy{JsFail: 1.5}}},
		{"no such model", "nope", &pb.ValidateRequest{Against: "nope@production"}},
	} {
		tc.req.Dataset = ds0
		if tc.req.Against == "" {
			tc.req.Against = "churn"
		}
		_, err := data.Validate(ctx, tc.req)
		if code := status.Code(err); (code != codes.InvalidArgument && code != codes.NotFound) || !strings.Contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("%s: want a refusal naming %q, got %v", tc.name, tc.want, err)
		} else {
			t.Logf("%s: %s", tc.name, status.Convert(err).Message())
		}
	}

	// A train job slicing by a column that is missing is refused at
	// submit, naming the column (a categorical column of too many values
	// too: jobspec.SliceValues' test).
	jobs := pb.NewJobServiceClient(conn)
	for _, tc := range []struct{ slice, want string }{
		{"regoin", `evaluation.slices[0]: "regoin" is not a column`},
	} {
		tr := proto.Clone(spec.Pipeline.Train).(*pb.TrainSpec)
		tr.Dataset, tr.Evaluation = ds0, &pb.EvaluationSpec{Slices: []string{tc.slice}}
		_, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: tr}}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("slice %s: want InvalidArgument naming %q, got %v", tc.slice, tc.want, err)
		} else {
			t.Logf("slice %s: %s", tc.slice, status.Convert(err).Message())
		}
	}
}

// localProfile computes a dataset's profile in this process: every
// shard's partial merged in shard order.
func localProfile(t *testing.T, uri string) *pb.DatasetProfile {
	t.Helper()
	ds, err := shard.OpenDataset(context.Background(), storage.Config{}, uri)
	if err != nil {
		t.Fatal(err)
	}
	var merged *pb.DatasetProfile
	for i := range ds.NumShards() {
		p, err := profile.Shard(context.Background(), ds, i)
		if err != nil {
			t.Fatal(err)
		}
		if merged == nil {
			merged = p
		} else if err := profile.Merge(merged, p); err != nil {
			t.Fatal(err)
		}
	}
	merged.Dataset, merged.Fingerprint = ds.URI, ds.Manifest.Fingerprint
	profile.Finish(merged)
	return merged
}

// checkSameDataEvaluation: the promote step of a night that trained v2
// carries the comparison its train job made: v2 and production v1 scored
// on the same holdout rows, the bootstrap interval around the gain, the
// slices partitioning those rows, and the decision the registry took on
// exactly those numbers.
func checkSameDataEvaluation(t *testing.T, r *pb.PipelineRun) {
	t.Helper()
	ev := stepOf(r, "promote").Evaluation
	if ev == nil {
		t.Fatalf("night 2: the promote step has no evaluation: %s", describeRun(r))
	}
	cv, cok := ev.Challenger["logloss"]
	pv, pok := ev.Champion["logloss"]
	if ev.ChampionVersion != 1 || ev.Metric != "logloss" || ev.Rows == 0 || !cok || !pok || ev.ChampionError != "" {
		t.Fatalf("night 2 evaluation: %v", ev)
	}
	if gain := pv - cv; math.Abs(gain-ev.Gain) > 1e-12 || !(ev.GainLow <= ev.Gain && ev.Gain <= ev.GainHigh) || ev.Bootstrap == 0 || ev.Confidence != 0.9 {
		t.Fatalf("night 2: gain %v in [%v, %v] over %d resamples; the metrics say %v", ev.Gain, ev.GainLow, ev.GainHigh, ev.Bootstrap, pv-cv)
	}
	rows := map[string]int64{}
	for _, sl := range ev.Slices {
		rows[sl.Column] += sl.Rows
		if _, ok := sl.Champion["logloss"]; !ok {
			t.Errorf("night 2: slice %s=%s has no production metric", sl.Column, sl.Value)
		}
	}
	if rows["plan"] != ev.Rows || rows["age"] != ev.Rows {
		t.Fatalf("night 2: the slices hold %v rows, the evaluation %d", rows, ev.Rows)
	}
	wantPromoted := ev.GainLow > 0
	if r.Promoted != wantPromoted || ev.Promoted != r.Promoted || !strings.Contains(r.PromotionReason, fmt.Sprintf("on the same %d rows", ev.Rows)) {
		t.Fatalf("night 2: promoted %v (evaluation says %v, interval low %v): %s", r.Promoted, ev.Promoted, ev.GainLow, r.PromotionReason)
	}
	t.Logf("night 2: %s", r.PromotionReason)
}
