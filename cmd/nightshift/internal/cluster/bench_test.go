package cluster

import (
	"context"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
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
