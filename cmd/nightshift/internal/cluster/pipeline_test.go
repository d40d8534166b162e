package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

// alertSink is a webhook receiver that records every POSTed alert.
type alertSink struct {
	mu   sync.Mutex
	got  []alert.Payload
	keys []string // Idempotency-Key of each, in the same order
}

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var p alert.Payload
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	if r.Method != http.MethodPost || err != nil {
		http.Error(w, fmt.Sprintf("want a POSTed JSON alert: %s %v", r.Method, err), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, p)
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *alertSink) snapshot() ([]alert.Payload, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got), slices.Clone(s.keys)
}

// TestPipelineNightlyBackfill runs a nightly train-and-score schedule over
// dated partitions of a lake: a bad spec is refused naming its field; a
// backfill of four nights runs them in order, the three with data train
// v1..v3 and score, the night without data fails at ingest (no model is
// trained) and alerts a real webhook once; the failed night resumes once
// its data lands; reprocessing a night reuses its unchanged ingest and
// train by content; the run history pages.
func TestPipelineNightlyBackfill(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	root := t.TempDir()
	base := "file://" + root
	st := storage.Config{}
	days := []string{"2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"}

	// Raw data lands in dated folders of the lake; the last night's is late.
	lake, rootKey, err := storage.Open(ctx, base, st)
	if err != nil {
		t.Fatal(err)
	}
	writeNight := func(i int) {
		t.Helper()
		spec := sample.Spec{Files: 1, RowsPerFile: 300, Seed: uint64(100 + i), Format: "arrow"}
		w := storage.NewWriter(ctx, lake, storage.JoinKey(rootKey, "lake", days[i], "part-0000.arrow"), storage.PutOptions{})
		if err := sample.Encode(ctx, w, spec, 0); err != nil {
			w.Abort()
			t.Fatal(err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		writeNight(i)
	}

	sink := &alertSink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)

	// The schedules' clock reads 2026-12-04 12:00 UTC when the cluster starts.
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
	sched := pb.NewScheduleServiceClient(conn)
	t.Logf("cluster up after %s", time.Since(began).Round(time.Millisecond))

	day := `{{ .Slot.Format "2006-01-02" }}`
	good := &pb.ScheduleSpec{
		Name: "churn-nightly", Cron: "0 2 * * *", TimeZone: "UTC", Description: "retrain and score churn every night",
		Pipeline: &pb.PipelineSpec{
			Ingest:   &pb.ShardSpec{Sources: []string{base + "/lake/" + day + "/"}, Output: base + "/datasets/" + day},
			Validate: &pb.ValidateSpec{MinRows: 1},
			Train: &pb.TrainSpec{
				ModelName: "churn", Output: base + "/models", Label: "label",
				Model:     &pb.ModelConfig{Family: "logistic", L2: 1e-4},
				Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: 0.05},
				Epochs:    2, BatchPerMember: 16, MinMembers: 1, MaxMembers: 1, Seed: 9, Holdout: 0.2,
				Promotion: &pb.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0)},
				Features: []*pb.FeatureSpec{
					{Column: "age", Kind: "numeric"}, {Column: "income", Kind: "numeric"}, {Column: "tenure_months", Kind: "numeric"},
					{Column: "purchases", Kind: "numeric"}, {Column: "days_since_last", Kind: "numeric"},
					{Column: "plan", Kind: "categorical", Buckets: 8},
				},
			},
			Score: &pb.ScoreSpec{Output: base + "/scored/" + day, Passthrough: []string{"id"}},
			// A transient failure retries after 1 s, not the default 30 s.
			StepTries: 2, StepBackoffS: 1,
		},
	}

	// A bad spec is refused at submit, naming the field.
	for _, bad := range []struct {
		name, field string
		edit        func(*pb.ScheduleSpec)
	}{
		{"cron minute 61", "cron", func(s *pb.ScheduleSpec) { s.Cron = "61 * * * *" }},
		{"unknown zone", "time_zone", func(s *pb.ScheduleSpec) { s.TimeZone = "Mars/Olympus_Mons" }},
		{"template that does not render", "pipeline.ingest.output", func(s *pb.ScheduleSpec) { s.Pipeline.Ingest.Output = base + "/datasets/{{ .Nope }}" }},
	} {
		sp := proto.Clone(good).(*pb.ScheduleSpec)
		bad.edit(sp)
		_, err := sched.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: sp, CreateOnly: true})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), bad.field) {
			t.Fatalf("%s: want InvalidArgument naming %s, got %v", bad.name, bad.field, err)
		}
		t.Logf("%s refused: %s", bad.name, status.Convert(err).Message())
	}
	if resp, err := sched.ListSchedules(ctx, &pb.ListSchedulesRequest{}); err != nil || len(resp.Schedules) != 0 {
		t.Fatalf("refused specs left schedules behind: %v, %v", resp.GetSchedules(), err)
	}

	put, err := sched.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: good, CreateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !put.Created || put.Schedule.CursorUnixMs < fixed.UnixMilli() {
		t.Fatalf("put: created %v, cursor %s (the schedule clock started at %s)", put.Created, fmtTime(put.Schedule.CursorUnixMs), fixed.Format(time.RFC3339))
	}

	// Backfill the four nights: each slot starts a run, queued in slot order.
	runID := func(i int) string { return "churn-nightly@" + days[i] + "T02:00:00Z" }
	bf, err := sched.Backfill(ctx, &pb.BackfillRequest{Name: "churn-nightly",
		FromUnixMs: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		ToUnixMs:   time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC).UnixMilli(), Reprocess: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if len(bf.Slots) != 4 {
		t.Fatalf("backfill planned %d slots, want 4: %v", len(bf.Slots), bf.Slots)
	}
	for i, s := range bf.Slots {
		if s.Action != "start" || s.RunId != runID(i) {
			t.Fatalf("backfill slot %d: %s %s, want start %s", i, s.Action, s.RunId, runID(i))
		}
	}
	backfilled := time.Now()
	runs := waitRuns(t, sched, 90*time.Second, runID(0), runID(1), runID(2), runID(3))
	t.Logf("four backfilled runs over after %s", time.Since(backfilled).Round(time.Millisecond))

	// The three nights with data trained v1..v3 in slot order and scored.
	var stepNames []string
	for _, st := range runs[0].Steps {
		stepNames = append(stepNames, st.Name)
	}
	if want := []string{"ingest", "validate", "train", "promote", "score"}; !slices.Equal(stepNames, want) {
		t.Fatalf("steps %v, want %v", stepNames, want)
	}
	for i, r := range runs[:3] {
		if r.State != pb.RunState_RUN_STATE_SUCCEEDED {
			t.Fatalf("run %s %s: %s\n%s", r.Id, r.State, r.Reason, describeRun(r))
		}
		for _, st := range r.Steps {
			if st.State != pb.StepState_STEP_STATE_SUCCEEDED {
				t.Fatalf("run %s: step %s %s (%s)\n%s", r.Id, st.Name, st.State, st.Error, describeRun(r))
			}
			if (st.Name == "ingest" || st.Name == "train" || st.Name == "score") && st.JobId == "" {
				t.Fatalf("run %s: step %s has no job", r.Id, st.Name)
			}
		}
		if r.Trigger != "backfill" || r.ModelName != "churn" || r.ModelVersion != int32(i+1) {
			t.Fatalf("run %s: trigger %s, model %s v%d, want backfill churn v%d", r.Id, r.Trigger, r.ModelName, r.ModelVersion, i+1)
		}
		if i == 0 && !r.Promoted {
			t.Fatalf("run %s: the first version was not promoted: %s", r.Id, r.PromotionReason)
		}
		if !r.Promoted && r.PromotionReason == "" {
			t.Fatalf("run %s: v%d not promoted, with no reason", r.Id, r.ModelVersion)
		}
		if r.OutputUri == "" || !strings.Contains(r.OutputUri, "/scored/"+days[i]+"/") {
			t.Fatalf("run %s: output %q, want one under scored/%s", r.Id, r.OutputUri, days[i])
		}
		if r.DatasetUri != base+"/datasets/"+days[i] || r.DatasetFingerprint == "" {
			t.Fatalf("run %s: dataset %q (%q)", r.Id, r.DatasetUri, r.DatasetFingerprint)
		}
		if i > 0 && r.StartUnixMs < runs[i-1].EndUnixMs {
			t.Errorf("run %s started before run %s ended: the backfill runs overlap", r.Id, runs[i-1].Id)
		}
	}

	// The night without data failed at ingest; no model was trained for it.
	late := runs[3]
	t.Logf("run %s: %s: %s", late.Id, late.State, late.Reason)
	if late.State != pb.RunState_RUN_STATE_FAILED || !strings.Contains(late.Reason, "ingest") {
		t.Fatalf("run %s %s: %q, want failed naming the ingest step", late.Id, late.State, late.Reason)
	}
	if in := stepOf(late, "ingest"); in.State != pb.StepState_STEP_STATE_FAILED || in.Error == "" {
		t.Fatalf("run %s: ingest step %s %q", late.Id, in.State, in.Error)
	}
	if tr := stepOf(late, "train"); tr.State == pb.StepState_STEP_STATE_SUCCEEDED || tr.JobId != "" || late.ModelVersion != 0 {
		t.Fatalf("run %s: train step %s job %q, model v%d: a model was trained without data", late.Id, tr.State, tr.JobId, late.ModelVersion)
	}

	// The webhook got the failure, once, keyed by the alert ID.
	failedID := late.Id + "/run_failed"
	testkit.Wait(t, 15*time.Second, "the run_failed alert at the webhook", func() bool {
		got, _ := sink.snapshot()
		return slices.ContainsFunc(got, func(p alert.Payload) bool { return p.ID == failedID })
	})
	got, keys := sink.snapshot()
	for i, p := range got {
		if keys[i] != p.ID {
			t.Errorf("alert %s came with Idempotency-Key %q", p.ID, keys[i])
		}
		if p.Schedule != "churn-nightly" || p.RunID == "" {
			t.Errorf("alert %s: schedule %q run %q", p.ID, p.Schedule, p.RunID)
		}
		switch p.Event {
		case "run_failed":
			if p.ID != failedID || p.RunID != late.Id || p.Slot != days[3]+"T02:00:00Z" || !strings.Contains(p.Message, "ingest") {
				t.Errorf("unexpected run_failed alert %+v", p)
			}
		case "not_promoted":
			i := slices.IndexFunc(runs, func(r *pb.PipelineRun) bool { return r.Id == p.RunID })
			if i < 0 || runs[i].Promoted || p.ID != p.RunID+"/not_promoted" {
				t.Errorf("not_promoted alert %+v for a run that was promoted or is unknown", p)
			}
		default:
			t.Errorf("unexpected alert %+v", p)
		}
	}
	for i, r := range runs[:3] {
		if !r.Promoted && !slices.ContainsFunc(got, func(p alert.Payload) bool { return p.ID == r.Id+"/not_promoted" }) {
			// Delivery is in commit order and the run_failed alert came later.
			t.Errorf("run %s (v%d) was not promoted and no not_promoted alert arrived", r.Id, i+1)
		}
	}

	// The late data lands; the failed run resumes from its ingest step.
	writeNight(3)
	if _, err := sched.ResumeRun(ctx, &pb.ResumeRunRequest{Id: late.Id}); err != nil {
		t.Fatal(err)
	}
	late = waitRuns(t, sched, 60*time.Second, late.Id)[0]
	t.Logf("run %s resumed: %s: %s", late.Id, late.State, late.Reason)
	if late.State != pb.RunState_RUN_STATE_SUCCEEDED || late.Resumes != 1 || late.ModelVersion != 4 || late.OutputUri == "" {
		t.Fatalf("resumed run %s %s (resumes %d, model v%d, output %q): %s\n%s", late.Id, late.State, late.Resumes, late.ModelVersion, late.OutputUri, late.Reason, describeRun(late))
	}

	// Reprocess night 2: its source and spec are unchanged, so the dataset
	// and the model of the first run stand.
	slot2 := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC).UnixMilli()
	bf, err = sched.Backfill(ctx, &pb.BackfillRequest{Name: "churn-nightly", FromUnixMs: slot2, ToUnixMs: slot2, Reprocess: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if len(bf.Slots) != 1 || bf.Slots[0].Action != "rerun" || bf.Slots[0].RunId != runID(1)+"#2" {
		t.Fatalf("reprocess: %v, want one rerun %s#2", bf.Slots, runID(1))
	}
	again := waitRuns(t, sched, 60*time.Second, runID(1)+"#2")[0]
	t.Logf("run %s: %s: %s\n%s", again.Id, again.State, again.Reason, describeRun(again))
	if again.State != pb.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("reprocessed run %s %s: %s", again.Id, again.State, again.Reason)
	}
	if in := stepOf(again, "ingest"); in.State != pb.StepState_STEP_STATE_REUSED {
		t.Errorf("reprocessed run: ingest %s (%s), want reused: the source is unchanged", in.State, in.Detail)
	}
	if again.DatasetFingerprint != runs[1].DatasetFingerprint {
		t.Errorf("reprocessed run: dataset fingerprint %s, the first run's %s", again.DatasetFingerprint, runs[1].DatasetFingerprint)
	}
	if tr := stepOf(again, "train"); tr.State != pb.StepState_STEP_STATE_REUSED || tr.ReusedFrom != runID(1) || tr.InputKey == "" || tr.InputKey != stepOf(runs[1], "train").InputKey {
		t.Errorf("reprocessed run: train %s from %q (key %s), want reused from %s (key %s)", tr.State, tr.ReusedFrom, tr.InputKey, runID(1), stepOf(runs[1], "train").InputKey)
	}
	if again.ModelVersion != 2 {
		t.Errorf("reprocessed run: model v%d, want the reused v2", again.ModelVersion)
	}
	if pr := stepOf(again, "promote"); pr.State != pb.StepState_STEP_STATE_REUSED {
		t.Errorf("reprocessed run: promote %s, want reused with the model", pr.State)
	}
	if sc := stepOf(again, "score"); sc.State != pb.StepState_STEP_STATE_SUCCEEDED && sc.State != pb.StepState_STEP_STATE_REUSED {
		t.Errorf("reprocessed run: score %s", sc.State)
	}
	// The reused model's registry decision stands, and the run says what it
	// was. (Known bug at the time of writing: the reused promote step
	// records promoted=false with no reason, so the run reads "churn v2 not
	// promoted: " — coordinator/pipelines.go promoteStep, REUSED branch.)
	if again.Promoted != runs[1].Promoted || (!again.Promoted && again.PromotionReason == "") {
		t.Errorf("reprocessed run: promoted %v (%q), reason %q; the reused v2's decision was promoted %v (%q)",
			again.Promoted, again.PromotionReason, again.Reason, runs[1].Promoted, runs[1].PromotionReason)
	}

	// The history pages newest first, without overlap or gap.
	var paged []string
	token := ""
	for page := 0; ; page++ {
		resp, err := sched.ListRuns(ctx, &pb.ListRunsRequest{Schedule: "churn-nightly", Limit: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if page == 0 && (len(resp.Runs) != 2 || resp.NextPageToken == "") {
			t.Fatalf("first page: %d runs, token %q", len(resp.Runs), resp.NextPageToken)
		}
		for _, r := range resp.Runs {
			if slices.Contains(paged, r.Id) {
				t.Fatalf("run %s on two pages", r.Id)
			}
			if r.Pipeline != nil {
				t.Errorf("listing of %s carries its pipeline", r.Id)
			}
			paged = append(paged, r.Id)
		}
		if token = resp.NextPageToken; token == "" || page > 10 {
			break
		}
	}
	want := []string{runID(1) + "#2", runID(3), runID(2), runID(1), runID(0)}
	all, err := sched.ListRuns(ctx, &pb.ListRunsRequest{Schedule: "churn-nightly"})
	if err != nil {
		t.Fatal(err)
	}
	var whole []string
	for _, r := range all.Runs {
		whole = append(whole, r.Id)
	}
	if !slices.Equal(paged, whole) || len(paged) != 5 || paged[0] != want[0] {
		t.Fatalf("paged %v, whole listing %v; want 5 runs newest first (%v in some order after the first)", paged, whole, want)
	}

	// No alert was delivered twice.
	got, _ = sink.snapshot()
	seen := map[string]int{}
	for _, p := range got {
		if seen[p.ID]++; seen[p.ID] > 1 {
			t.Errorf("alert %s delivered %d times", p.ID, seen[p.ID])
		}
	}

	var hist strings.Builder
	for _, r := range all.Runs {
		fmt.Fprintf(&hist, "\n  %-42s %-9s v%d promoted=%-5v %s", r.Id, strings.TrimPrefix(r.State.String(), "RUN_STATE_"), r.ModelVersion, r.Promoted, r.Reason)
	}
	var al strings.Builder
	for _, p := range got {
		fmt.Fprintf(&al, "\n  %s: %s", p.ID, p.Message)
	}
	t.Logf("run history (newest first):%s\nalerts delivered:%s\ntotal %s", hist.String(), al.String(), time.Since(began).Round(time.Millisecond))
}

// waitRuns polls the runs until each is over and returns them in the
// order asked.
func waitRuns(t *testing.T, sched pb.ScheduleServiceClient, d time.Duration, ids ...string) []*pb.PipelineRun {
	t.Helper()
	out := make([]*pb.PipelineRun, len(ids))
	testkit.Retry(t, d, "runs "+strings.Join(ids, ", ")+" to end", func() error {
		for i, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := sched.GetRun(ctx, &pb.GetRunRequest{Id: id})
			cancel()
			if err != nil {
				return err
			}
			r := resp.Run
			if r.State == pb.RunState_RUN_STATE_QUEUED || r.State == pb.RunState_RUN_STATE_RUNNING {
				return fmt.Errorf("run %s is %s: %s", id, r.State, describeRun(r))
			}
			out[i] = r
		}
		return nil
	})
	return out
}

func stepOf(r *pb.PipelineRun, name string) *pb.StepRun {
	for _, st := range r.Steps {
		if st.Name == name {
			return st
		}
	}
	return &pb.StepRun{Name: name}
}

// describeRun is one line per step: state, tries, job, error or detail.
func describeRun(r *pb.PipelineRun) string {
	var b strings.Builder
	for _, st := range r.Steps {
		note := st.Detail
		if st.Error != "" {
			note = "error: " + st.Error
		}
		if st.ReusedFrom != "" {
			note += " [reused from " + st.ReusedFrom + "]"
		}
		fmt.Fprintf(&b, "    %-8s %-9s tries=%d job=%s %s\n", st.Name, strings.TrimPrefix(st.State.String(), "STEP_STATE_"), st.Tries, st.JobId, note)
	}
	return b.String()
}

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
