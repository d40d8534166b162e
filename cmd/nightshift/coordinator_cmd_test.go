package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestNodesKeepRunningWhileSeedsAreDown runs `nightshift coordinator` and
// `nightshift worker` whose gossip seeds are all unreachable, as in a
// cluster restarted in any order: each keeps running, retrying the join,
// until it is stopped, and then exits cleanly.
func TestNodesKeepRunningWhileSeedsAreDown(t *testing.T) {
	seed := testkit.DeadAddr(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name, config string
	}{
		{"coordinator", fmt.Sprintf(`
id: c1
data_dir: %s
bootstrap: true
grpc_addr: 127.0.0.1:0
raft_addr: 127.0.0.1:0
gossip_addr: 127.0.0.1:0
seeds: [%s]
loopback_only: true
`, filepath.Join(dir, "c1"), seed)},
		{"worker", fmt.Sprintf(`
id: w1
coordinators: [%s]
grpc_addr: 127.0.0.1:0
gossip_addr: 127.0.0.1:0
seeds: [%s]
loopback_only: true
drain_grace: 1s
`, testkit.DeadAddr(t), seed)},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.config)
			var logs testkit.Buffer
			cmd := newRootCmd()
			cmd.SetOut(&logs)
			cmd.SetErr(&logs)
			cmd.SetArgs([]string{c.name, "--config", path})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()

			testkit.Wait(t, 15*time.Second, "two failed gossip join rounds", func() bool {
				select {
				case err := <-done:
					t.Fatalf("%s exited while its seeds were down: %v\n%s", c.name, err, logs.String())
				default:
				}
				return strings.Count(logs.String(), "no seed answered; retrying") >= 2
			})
			if !strings.Contains(logs.String(), seed) {
				t.Errorf("the retry log does not name the seed %s:\n%s", seed, logs.String())
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s stopped with %v", c.name, err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("%s did not stop within 15s of its context ending", c.name)
			}
		})
	}
}
