package cluster

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/worker"
)

// TestGossipKeyRotationDuringJob rotates the gossip key of a 3-coordinator,
// 3-worker cluster while a job runs, through the admin API the CLI uses:
// use is refused until every member holds the new key, remove until none
// encrypts with the old one. No worker is declared dead on the way (no
// DOWN state, no task attempt lost), the job succeeds, a gossip member
// with only the old key cannot join afterwards, and a worker configured
// with the old key still joins because its coordinator hands it the ring.
func TestGossipKeyRotationDuringJob(t *testing.T) {
	oldKey := bytes.Repeat([]byte("o"), 32)
	newKey := bytes.Repeat([]byte("n"), 32)
	c := startCluster(t, 3, 3, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) { cfg.GossipKey = oldKey }
		o.Worker = func(_ int, cfg *worker.Config) { cfg.GossipKey = oldKey }
	})
	jobs, admin := clients(t, c.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// 300 tasks of 200 ms on 6 slots: about 10 s, longer than the rotation.
	sub, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 300, SleepMs: 200}}}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 10*time.Second, "the job to run", func() bool {
		j, err := getJob(c, sub.Job.Id)
		return err == nil && j.TasksSucceeded > 0
	})

	oldID, newID := gossip.KeyID(oldKey), gossip.KeyID(newKey)
	ring, err := admin.InstallGossipKey(ctx, &pb.InstallGossipKeyRequest{Key: newKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(ring.Keys) != 2 || ring.Keys[0].Id != oldID || !ring.Keys[0].Primary || ring.Keys[1].Id != newID {
		t.Fatalf("after install: %v", ring)
	}
	step := func(what string, call func() (*pb.GossipKeyringResponse, error)) *pb.GossipKeyringResponse {
		t.Helper()
		var out *pb.GossipKeyringResponse
		refused := 0
		testkit.Retry(t, 20*time.Second, what, func() error {
			r, err := call()
			if err != nil {
				if !strings.Contains(err.Error(), "not yet held by") && !strings.Contains(err.Error(), "still encrypts on") {
					t.Fatalf("%s: %v", what, err)
				}
				refused++
				return err
			}
			out = r
			return nil
		})
		t.Logf("%s: refused %d times while members caught up", what, refused)
		return out
	}
	ring = step("use the new key", func() (*pb.GossipKeyringResponse, error) {
		return admin.UseGossipKey(ctx, &pb.UseGossipKeyRequest{Id: newID})
	})
	if ring.Keys[1].Members != ring.LiveMembers || ring.LiveMembers != 6 {
		t.Fatalf("use went through before all 6 members held the key: %v", ring)
	}
	if _, err := admin.RemoveGossipKey(ctx, &pb.RemoveGossipKeyRequest{Id: newID}); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("removing the primary: %v", err)
	}
	ring = step("remove the old key", func() (*pb.GossipKeyringResponse, error) {
		return admin.RemoveGossipKey(ctx, &pb.RemoveGossipKeyRequest{Id: oldID})
	})
	if len(ring.Keys) != 1 || ring.Keys[0].Id != newID || ring.Keys[0].PrimaryOn != 6 {
		t.Fatalf("after remove: %v", ring)
	}
	testkit.Wait(t, 10*time.Second, "every member to drop the old key", func() bool {
		r, err := admin.ListGossipKeys(ctx, &pb.ListGossipKeysRequest{})
		return err == nil && r.LiveMembers == 6 && r.Keys[0].Members == 6 && len(r.Keys[0].Missing) == 0
	})
	if j, err := getJob(c, sub.Job.Id); err != nil || j.State != pb.JobState_JOB_STATE_RUNNING {
		t.Fatalf("the job ended before the rotation did (make it longer): %v %v", j.GetState(), err)
	}

	final := waitJob(t, c, sub.Job.Id, time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	view := c.Leader().Store().Snapshot()
	for _, w := range view.Workers() {
		if w.State != pb.WorkerState_WORKER_STATE_ACTIVE {
			t.Errorf("worker %s is %s after the rotation", w.Id, w.State)
		}
		for _, e := range w.Events {
			if strings.Contains(e.Message, "down") {
				t.Errorf("worker %s was declared down: %s", w.Id, e.Message)
			}
		}
	}
	view.EachTask(final.Id, func(tk *pb.Task) bool {
		if tk.Attempts != 1 {
			t.Errorf("task %d took %d attempts: one was lost during the rotation", tk.Index, tk.Attempts)
		}
		return true
	})

	// An outsider with the old key (or none) cannot join.
	for name, key := range map[string][]byte{"old-key": oldKey, "no-key": nil} {
		n, err := gossip.Start(gossip.Config{Name: name, BindAddr: "127.0.0.1:0", Key: key, Fast: true, Meta: gossip.Meta{Role: gossip.RoleWorker, ID: name}})
		if err != nil {
			t.Fatal(err)
		}
		n.JoinInBackground(ctx, []string{c.Leader().GossipAddr()}, nil)
		time.Sleep(2 * time.Second)
		if ok, _ := n.Joined(); ok {
			t.Errorf("a member with %s joined", name)
		}
		_ = n.Shutdown()
	}
	// A worker still configured with the old key reaches a coordinator over
	// gRPC, gets the ring with its first heartbeat and joins gossip.
	late, err := c.AddWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 15*time.Second, "the late worker to join gossip", func() bool {
		resp, err := admin.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			return false
		}
		for _, w := range resp.Workers {
			if w.Worker.Id == late.ID() {
				return w.Gossip == "alive"
			}
		}
		return false
	})
}
