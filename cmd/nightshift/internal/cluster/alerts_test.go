package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/coordinator/alert"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestAlertsSurviveLeaderChanges runs a schedule whose runs fail (the
// score model does not exist) on 3 voters, with a webhook receiver that
// refuses everything at first. The alerts wait in Raft's outbox while the
// leader is killed; the next leader delivers them once the receiver
// accepts; after their acknowledgement another leader kill sends none of
// them again. Every alert arrives exactly once: run_failed per failed
// run and schedule_paused for the automatic pause after 3 failures.
func TestAlertsSurviveLeaderChanges(t *testing.T) {
	f := newFixture(t, 1, 50, 50)
	var accept atomic.Bool
	var mu sync.Mutex
	got := map[string]int{}
	events := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !accept.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var p alert.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.ID != r.Header.Get("Idempotency-Key") {
			t.Errorf("alert body %s (key %q): %v", body, r.Header.Get("Idempotency-Key"), err)
		}
		mu.Lock()
		got[p.ID]++
		events[p.ID] = p.Event
		mu.Unlock()
	}))
	defer srv.Close()
	clk := &fastClock{start: time.Now(), at: time.Date(2026, 12, 4, 1, 59, 0, 0, time.UTC), speed: 30}
	c := startCluster(t, 3, 1, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) {
			cfg.Clock, cfg.SlotGrace = clk.now, 10*time.Minute
			cfg.Alerts = alert.Config{Webhooks: []alert.Webhook{{URL: srv.URL}}}
		}
	})
	ctx := context.Background()
	conn, err := rpc.Dial(c.Addr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	spec := &pb.ScheduleSpec{Name: "doomed", Cron: "* * * * *", Policy: &pb.SchedulePolicy{PauseAfterFailures: 3},
		Pipeline: &pb.PipelineSpec{StepTries: 1, Score: &pb.ScoreSpec{Model: f.base + "/models/missing", Input: f.dataset, Output: f.base + "/scored"}}}
	testkit.Retry(t, 30*time.Second, "creating the schedule", func() error {
		_, err := pb.NewScheduleServiceClient(conn).PutSchedule(ctx, &pb.PutScheduleRequest{Spec: spec, RequestId: "put"})
		return err
	})
	outbox := func() (pending, all int) {
		l, err := c.WaitLeader(ctx)
		if err != nil {
			return -1, -1
		}
		v := l.Store().Snapshot()
		return len(v.PendingAlerts(1000)), len(v.Alerts())
	}
	// Three failed runs and the pause: four alerts, none delivered yet.
	testkit.Wait(t, time.Minute, "4 alerts in the outbox", func() bool { p, _ := outbox(); return p >= 4 })
	if i := c.KillLeader(); i < 0 {
		t.Fatal("no leader to kill")
	} else if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	} else if err := c.RestartCoordinator(ctx, i); err != nil {
		t.Fatal(err)
	}
	accept.Store(true)
	testkit.Wait(t, time.Minute, "the outbox delivered", func() bool { p, a := outbox(); return p == 0 && a >= 4 })
	if i := c.KillLeader(); i >= 0 {
		if _, err := c.WaitLeader(ctx); err != nil {
			t.Fatal(err)
		}
		_ = c.RestartCoordinator(ctx, i)
	}
	time.Sleep(2 * time.Second) // a new leader's alert loop has run several rounds
	_, all := outbox()
	mu.Lock()
	defer mu.Unlock()
	kinds := map[string]int{}
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
		kinds[events[id]]++
	}
	if len(got) != all || kinds["run_failed"] != 3 || kinds["schedule_paused"] != 1 {
		t.Fatalf("delivered %d distinct alerts of %d in the outbox: %v", len(got), all, kinds)
	}
}
