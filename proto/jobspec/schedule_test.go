package jobspec

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// minimalPipeline is the smallest valid pipeline: one score step.
func minimalPipeline() *pb.PipelineSpec {
	return &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: "churn", Input: "file:///in/", Output: "file:///out"}}
}

func TestScheduleDefaultsAndCanonicalForm(t *testing.T) {
	sp := &pb.ScheduleSpec{Name: " churn-nightly ", Cron: " 0  2 * * * ", TimeZone: "Europe/Berlin",
		Policy: &pb.SchedulePolicy{Overlap: "Buffer_One"}, Pipeline: minimalPipeline()}
	if err := Schedule(sp); err != nil {
		t.Fatal(err)
	}
	want := &pb.ScheduleSpec{Name: "churn-nightly", Cron: "0 2 * * *", TimeZone: "Europe/Berlin",
		Policy: &pb.SchedulePolicy{Catchup: "latest", CatchupWindowS: DefaultCatchupWindowS, Overlap: "buffer_one",
			PauseAfterFailures: DefaultPauseAfterFailures},
		Pipeline: &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: "churn", Input: "file:///in", Output: "file:///out", Format: "parquet", BadRows: "fail"},
			StepTries: DefaultStepTries, StepBackoffS: DefaultStepBackoffS}}
	if !proto.Equal(sp, want) {
		t.Fatalf("normalised schedule\n got %v\nwant %v", sp, want)
	}
	again := proto.Clone(sp).(*pb.ScheduleSpec)
	if err := Schedule(again); err != nil || !proto.Equal(again, sp) {
		t.Fatalf("second normalisation changed the schedule (%v): %v", err, again)
	}
}

func TestScheduleErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		spec *pb.ScheduleSpec
		want []string // "path: message part"
	}{
		{&pb.ScheduleSpec{Cron: "@daily"}, []string{"name: required"}},
		{&pb.ScheduleSpec{Name: "Nightly!", Cron: "@daily"}, []string{`name: "Nightly!": want lower-case`}},
		{&pb.ScheduleSpec{Name: "n", Cron: "0 25 * * *"}, []string{`cron: cron "0 25 * * *": hour field "25": 25 is out of range 0-23`}},
		{&pb.ScheduleSpec{Name: "n", Cron: "0 0 31 2 *"}, []string{"cron: ", "never fires"}},
		{&pb.ScheduleSpec{Name: "n"}, []string{"cron: required"}},
		{&pb.ScheduleSpec{Name: "n", Cron: "@daily", TimeZone: "Europe/Atlantis"}, []string{`time_zone: time zone "Europe/Atlantis": not an IANA zone name`}},
		{&pb.ScheduleSpec{Name: "n", Cron: "@daily", Policy: &pb.SchedulePolicy{Catchup: "some", Overlap: "queue",
			CatchupWindowS: -1, PauseAfterFailures: -2}},
			[]string{`policy.catchup: "some": want latest, none or all`, `policy.overlap: "queue": want skip, buffer_one, buffer_all or cancel_other`,
				"policy.catchup_window_s: must be ≥ 1", "policy.pause_after_failures: must be ≥ 1"}},
		{&pb.ScheduleSpec{Name: "n", Cron: "@daily"}, []string{"pipeline: required"}},
		{&pb.ScheduleSpec{Name: "n", Cron: "@daily", Pipeline: &pb.PipelineSpec{}}, []string{"pipeline: no step"}},
		{&pb.ScheduleSpec{Name: "n", Cron: "@daily", Pipeline: &pb.PipelineSpec{StepTries: -1,
			Score: &pb.ScoreSpec{Input: "file:///in", Output: "file:///o/{{ .Nope }}"}}},
			[]string{"pipeline.step_tries: must be ≥ 1", "pipeline.score.model: required when the pipeline has no train step",
				"pipeline.score.output: template: <.Nope>"}},
	} {
		if tc.spec.Pipeline == nil && !strings.Contains(tc.want[0], "pipeline") {
			tc.spec.Pipeline = minimalPipeline()
		}
		err := Schedule(tc.spec)
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%v: want field errors, got %v", tc.spec, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", tc.spec, err, w)
			}
		}
	}
}

// FuzzSchedule feeds arbitrary schedule specs (as protobuf bytes) to
// Schedule: it never panics, and a spec it accepts is a fixed point.
func FuzzSchedule(f *testing.F) {
	for _, sp := range []*pb.ScheduleSpec{
		{Name: "nightly", Cron: "0 2 * * *", TimeZone: "America/New_York", Pipeline: minimalPipeline()},
		{Name: "n", Cron: "*/15 9-17 * * mon-fri", Policy: &pb.SchedulePolicy{Catchup: "all", Overlap: "cancel_other"},
			Pipeline: nightlyPipeline()},
	} {
		b, _ := proto.Marshal(sp)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sp := &pb.ScheduleSpec{}
		if proto.Unmarshal(b, sp) != nil || Schedule(sp) != nil {
			return
		}
		again := proto.Clone(sp).(*pb.ScheduleSpec)
		if err := Schedule(again); err != nil || !proto.Equal(again, sp) {
			t.Fatalf("accepted schedule is not a fixed point: %v\n%v\n%v", err, sp, again)
		}
	})
}

// TestScheduleRendersInItsZone: the sample render at submit sees the
// schedule's zone, name and slot key, as its runs will.
func TestScheduleRendersInItsZone(t *testing.T) {
	p := minimalPipeline()
	p.Score.Output = `file:///o/{{ if ne .Slot.Location.String "Asia/Tokyo" }}{{ .WrongZone }}{{ end }}{{ .Schedule }}/{{ .Run }}`
	sp := &pb.ScheduleSpec{Name: "tokyo", Cron: "@daily", TimeZone: "Asia/Tokyo", Pipeline: p}
	if err := Schedule(sp); err != nil {
		t.Fatal(err)
	}
}
