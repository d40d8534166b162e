package cluster

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// BenchmarkSchedule10kNoopTasks measures the scheduler: a 3-voter cluster
// (real Raft with fsync'd bolt logs, gossip and gRPC on loopback) runs a
// 10,000-task job of no-op tasks on 4 workers. It reports tasks/s from
// submit to success and Raft log entries per task.
func BenchmarkSchedule10kNoopTasks(b *testing.B) {
	const tasks = 10_000
	c, err := Start(context.Background(), Options{Coordinators: 3, Workers: 4, Slots: 16, DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	jobs, _ := clients(b, c.Addr())
	var total time.Duration
	var entries uint64
	b.ResetTimer()
	for range b.N {
		l := c.Leader()
		before := l.AppliedIndex()
		start := time.Now()
		resp, err := jobs.SubmitJob(context.Background(), &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: tasks}}}})
		if err != nil {
			b.Fatal(err)
		}
		// Follow the job on its watch stream, as `jobs watch` does.
		stream, err := jobs.WatchJob(context.Background(), &pb.WatchJobRequest{Id: resp.Job.Id})
		if err != nil {
			b.Fatal(err)
		}
		for {
			msg, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if j := msg.Job; j.State == pb.JobState_JOB_STATE_SUCCEEDED {
				break
			} else if j.State != pb.JobState_JOB_STATE_RUNNING {
				b.Fatalf("job %s: %s", j.State, j.Error)
			}
		}
		total += time.Since(start)
		entries += l.AppliedIndex() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(tasks*b.N)/total.Seconds(), "tasks/s")
	b.ReportMetric(float64(entries)/float64(tasks*b.N), "raft-entries/task")
}

// BenchmarkSlotToFirstJob measures how long a schedule's slot waits for
// its run's first job: from the instant the slot comes due to the commit
// of the job the leader submits for it, on 3 voters with the production
// schedule interval (1 s) and Raft timings. The schedules' clock runs 17
// times faster than real time (a "* * * * *" slot every 3.5 s: each run,
// a small score job, ends before the next slot, so no run waits in the
// overlap queue; and slots fall at every phase of the 1 s tick). Each
// slot's instant is mapped back to real time. Reports the median and the
// 90th percentile in ms over 12 slots.
func BenchmarkSlotToFirstJob(b *testing.B) {
	const slots = 12
	f := newFixture(b, 1, 200, 100)
	clk := &fastClock{start: time.Now(), at: time.Date(2026, 12, 4, 1, 59, 50, 0, time.UTC), speed: 17}
	c, err := Start(context.Background(), Options{Coordinators: 3, Workers: 1, DataDir: b.TempDir(), Storage: f.st,
		Coordinator: func(_ int, cfg *coordinator.Config) { cfg.Clock, cfg.SlotGrace = clk.now, time.Hour }})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	spec := &pb.ScheduleSpec{Name: "latency", Cron: "* * * * *", Policy: &pb.SchedulePolicy{Overlap: "buffer_all"},
		Pipeline: &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: f.model, Input: f.dataset, Output: f.base + `/scored/{{ .Slot.Format "1504" }}`}}}
	b.ResetTimer()
	for range b.N {
		spec.Name = fmt.Sprintf("latency-%d", time.Now().UnixNano())
		if _, err := pb.NewScheduleServiceClient(conn).PutSchedule(context.Background(), &pb.PutScheduleRequest{Spec: spec}); err != nil {
			b.Fatal(err)
		}
		var lat []float64
		deadline := time.Now().Add(time.Duration(slots+5) * 4 * time.Second)
		for len(lat) < slots && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			v := c.Leader().Store().Snapshot()
			lat = lat[:0]
			v.RunsNewestFirst(spec.Name, false, nil, func(r *pb.PipelineRun) bool {
				st := stepOf(r, "score")
				if j := v.Job(st.GetJobId()); j != nil {
					slotReal := clk.start.Add(time.UnixMilli(r.SlotUnixMs).Sub(clk.at) / time.Duration(clk.speed))
					lat = append(lat, float64(j.CreateUnixMs-slotReal.UnixMilli()))
				}
				return true
			})
		}
		if len(lat) < slots {
			b.Fatalf("%d of %d slots ran", len(lat), slots)
		}
		sort.Float64s(lat)
		b.ReportMetric(lat[len(lat)/2], "median-ms")
		b.ReportMetric(lat[len(lat)*9/10], "p90-ms")
	}
}
