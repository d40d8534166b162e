package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/proto/cron"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// fastClock runs the schedules' clock speed times faster than real time
// from start, the same for every coordinator of the process.
type fastClock struct {
	mu    sync.Mutex
	start time.Time
	at    time.Time
	speed int64
}

func (c *fastClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at.Add(time.Since(c.start) * time.Duration(c.speed))
}

// realUntil is the real time left until the fake instant t.
func (c *fastClock) realUntil(t time.Time) time.Duration {
	return t.Sub(c.now()) / time.Duration(c.speed)
}

// TestScheduleExactlyOncePerSlotAcrossLeaderKills kills the leader of 3
// voters right at slot boundaries (just before, at, and just after the
// instant a slot comes due), restarts it, and does it again, while a
// minute-by-minute schedule runs a score pipeline with a clock 30 times
// faster than real time. Every slot gets exactly one run record and one
// run; no slot is lost, none is launched twice, and each run submitted
// exactly one job.
func TestScheduleExactlyOncePerSlotAcrossLeaderKills(t *testing.T) {
	f := newFixture(t, 1, 200, 100)
	clk := &fastClock{start: time.Now(), at: time.Date(2026, 3, 29, 0, 55, 30, 0, time.UTC), speed: 30}
	c := startCluster(t, 3, 1, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) {
			cfg.Clock = clk.now
			// An election is seconds of this clock: slots it delays are on time.
			cfg.SlotGrace = 10 * time.Minute
		}
	})
	ctx := context.Background()
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := pb.NewScheduleServiceClient(conn)
	spec := &pb.ScheduleSpec{Name: "every-minute", Cron: "* * * * *", TimeZone: "Europe/Berlin",
		Policy: &pb.SchedulePolicy{Overlap: "buffer_all"},
		Pipeline: &pb.PipelineSpec{Score: &pb.ScoreSpec{Model: f.model, Input: f.dataset,
			Output: f.base + `/scored/{{ .Slot.Format "2006-01-02T1504" }}`}}}
	var created *pb.Schedule
	testkit.Retry(t, 30*time.Second, "creating the schedule", func() error {
		resp, err := api.PutSchedule(ctx, &pb.PutScheduleRequest{Spec: spec, RequestId: "put-1"})
		if err == nil {
			created = resp.Schedule
		}
		return err
	})

	// Watch every claim: a slot claimed twice would show its run record
	// with a second claim index (seq), even if the second run then ended
	// the same way.
	claims := map[string]map[uint64]bool{}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, s := range c.Live() {
				s.Store().Snapshot().RunsNewestFirst(spec.Name, false, nil, func(r *pb.PipelineRun) bool {
					if claims[r.Id] == nil {
						claims[r.Id] = map[uint64]bool{}
					}
					claims[r.Id][r.Seq] = true
					return true
				})
			}
		}
	}()

	const kills = 6
	for k := range kills {
		next := time.UnixMilli(created.CursorUnixMs).Truncate(time.Minute)
		for next.Before(clk.now()) {
			next = next.Add(time.Minute)
		}
		// Kill 150 ms (real) before, at, or 150 ms after the boundary.
		offset := time.Duration(k%3-1) * 150 * time.Millisecond
		time.Sleep(clk.realUntil(next) + offset)
		i := c.KillLeader()
		if i < 0 {
			t.Fatalf("kill %d: no leader", k)
		}
		if _, err := c.WaitLeader(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.RestartCoordinator(ctx, i); err != nil {
			t.Fatalf("restart coordinator %d: %v", i, err)
		}
	}

	// Let the last slots be claimed and every run finish.
	end := clk.now()
	var runs []*pb.PipelineRun
	testkit.Wait(t, 90*time.Second, "every run of the slots so far to end", func() bool {
		l, err := c.WaitLeader(ctx)
		if err != nil {
			return false
		}
		v := l.Store().Snapshot()
		s := v.Schedule(spec.Name)
		if s == nil || s.CursorUnixMs < end.UnixMilli()-time.Minute.Milliseconds() || len(v.ActiveRuns(spec.Name, false)) > 0 {
			return false
		}
		runs = runs[:0]
		v.RunsNewestFirst(spec.Name, false, nil, func(r *pb.PipelineRun) bool { runs = append(runs, r); return true })
		return true
	})

	close(stop)
	<-watched
	for id, seqs := range claims {
		if len(seqs) != 1 {
			t.Errorf("slot %s was claimed %d times (at Raft indexes %v)", id, len(seqs), seqs)
		}
	}
	cs, err := cron.Parse(spec.Cron, spec.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.WaitLeader(ctx)
	v := l.Store().Snapshot()
	cursor := time.UnixMilli(v.Schedule(spec.Name).CursorUnixMs)
	want := map[string]bool{}
	for slot := range cs.Slots(time.UnixMilli(created.CursorUnixMs), cursor) {
		want[cron.SlotKey(spec.Name, slot)] = true
	}
	if len(want) < kills {
		t.Fatalf("only %d slots passed during %d kills", len(want), kills)
	}
	seen := map[int64]string{}
	jobsPerRun := map[string]int{}
	for _, j := range v.Jobs() {
		jobsPerRun[j.Spec.Name]++
	}
	for _, r := range runs {
		if other, dup := seen[r.SlotUnixMs]; dup {
			t.Errorf("slot %s has two runs: %s and %s", fmtSlot(r.SlotUnixMs), other, r.Id)
		}
		seen[r.SlotUnixMs] = r.Id
		if !want[r.Id] {
			t.Errorf("run %s is not a slot of the schedule", r.Id)
		}
		if r.State != pb.RunState_RUN_STATE_SUCCEEDED {
			t.Errorf("run %s: %s (%s)", r.Id, r.State, r.Reason)
		}
		if n := jobsPerRun[r.Id+" score"]; n != 1 {
			t.Errorf("run %s submitted %d score jobs", r.Id, n)
		}
	}
	for key := range want {
		if v.Run(key) == nil {
			t.Errorf("slot %s has no run: lost across a failover", key)
		}
	}
	t.Logf("%d slots, %d runs, %d leader kills at slot boundaries", len(want), len(runs), kills)
}

func fmtSlot(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
