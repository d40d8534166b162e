package coordinator

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestScheduleAPIRefusesWhatCannotRun drives PutSchedule on a one-voter
// cluster with specs that must be refused at submit, each naming its
// field: the rules of jobspec.Schedule, and inputs that do not exist now
// (a model no step trains, a fixed dataset without a manifest). Then a
// good spec is stored, read back, paused with a reason and deleted.
func TestScheduleAPIRefusesWhatCannotRun(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	leader := c.waitLeader()
	api := pb.NewScheduleServiceClient(dial(t, leader.Addr()))
	ctx := context.Background()
	dir := "file://" + t.TempDir()
	score := func(model, input string) *pb.PipelineSpec {
		return &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: model, Input: input, Output: dir + `/scored/{{ .Slot.Format "2006-01-02" }}`}}
	}
	spec := func(cron, zone string, p *pb.PipelineSpec) *pb.ScheduleSpec {
		return &pb.ScheduleSpec{Name: "nightly", Cron: cron, TimeZone: zone, Pipeline: p}
	}
	for _, tc := range []struct {
		spec *pb.ScheduleSpec
		want string
	}{
		{spec("0 25 * * *", "UTC", score("churn@v1", dir+"/ds")), "cron"},
		{spec("0 2 * * *", "Mars/Base", score("churn@v1", dir+"/ds")), "time_zone"},
		{spec("0 2 * * *", "UTC", score("churn@v1", dir+`/ds/{{ .Nope }}`)), "pipeline.score.input"},
		{spec("0 2 * * *", "UTC", score("churn@production", dir+"/ds")), "pipeline.score.model"},
		{spec("0 2 * * *", "UTC", score(dir+"/models/m", dir+"/ds")), "pipeline.score.input"},
	} {
		_, err := api.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: tc.spec})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want InvalidArgument naming %s", tc.spec.Cron, tc.spec.TimeZone, err, tc.want)
		}
	}
	if n := len(leader.store.Snapshot().Schedules()); n != 0 {
		t.Fatalf("%d schedules stored from refused specs", n)
	}
	// A templated input is checked per run, not at submit.
	good := spec("30 2 * * *", "Europe/Berlin", score(dir+"/models/m", dir+`/ds/{{ .Slot.Format "2006-01-02" }}`))
	put, err := api.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: good, CreateOnly: true})
	if err != nil || !put.Created || put.Schedule.Spec.Policy.GetCatchup() != "latest" {
		t.Fatalf("put: %v %v", put, err)
	}
	if _, err := api.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: good, CreateOnly: true}); status.Code(err) != codes.AlreadyExists && status.Code(err) != codes.Aborted {
		t.Fatalf("second create: %v", err)
	}
	got, err := api.GetSchedule(ctx, &pb.GetScheduleRequest{Name: "nightly"})
	if err != nil || len(got.NextUnixMs) != 5 {
		t.Fatalf("get: %v %v", got, err)
	}
	p, err := api.PauseSchedule(ctx, &pb.PauseScheduleRequest{Name: "nightly", Paused: true, Reason: "lake migration"})
	if err != nil || !p.Schedule.Paused || p.Schedule.PauseReason != "lake migration" {
		t.Fatalf("pause: %v %v", p, err)
	}
	if _, err := api.DeleteSchedule(ctx, &pb.DeleteScheduleRequest{Name: "nightly"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetSchedule(ctx, &pb.GetScheduleRequest{Name: "nightly"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get after delete: %v", err)
	}
}
