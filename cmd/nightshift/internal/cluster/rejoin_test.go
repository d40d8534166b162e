package cluster

import (
	"context"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestWorkersRejoinGossipAfterAllCoordinatorsRestart: every coordinator
// restarts at once; their seeds name only coordinators, so the workers,
// still a gossip cluster of their own, must find them again by rejoining
// their seeds (worker rejoinLoop). The leader then sees every worker alive
// in gossip again, which is what detects a dead worker before its lease
// runs out.
func TestWorkersRejoinGossipAfterAllCoordinatorsRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Coordinators: 1, Workers: 2, DataDir: t.TempDir(), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gossipOf := func() map[string]string {
		_, admin := clients(t, c.Addr())
		out := map[string]string{}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		resp, err := admin.ListWorkers(rctx, &pb.ListWorkersRequest{})
		if err != nil {
			return out
		}
		for _, w := range resp.Workers {
			out[w.Worker.Id] = w.Gossip
		}
		return out
	}
	alive := func() bool {
		g := gossipOf()
		return len(g) == 2 && g["worker-1"] != "gone" && g["worker-2"] != "gone"
	}
	testkit.Wait(t, 10*time.Second, "both workers alive in the leader's gossip", alive)
	c.KillCoordinator(0)
	time.Sleep(time.Second) // the workers' gossip declares it dead
	if err := c.RestartCoordinator(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 15*time.Second, "both workers alive in the restarted leader's gossip", alive)
}
