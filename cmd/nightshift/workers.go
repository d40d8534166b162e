package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func newWorkersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List workers; drain and undrain them",
		Long: `workers lists the registered workers and drains or undrains them.

A draining worker leases no new task. It lets the attempts it runs finish
within its drain grace (drain_grace in its config), then hands the rest back
to the coordinator, which leases them to other workers; no task is lost or
run twice in the committed output. undrain makes it lease again.`,
		Example: `  nightshift workers list
  nightshift workers drain worker-3     # before maintenance
  nightshift workers undrain worker-3`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newWorkersListCmd(), newDrainCmd(true), newDrainCmd(false))
	return cmd
}

func newWorkersListCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workers with their state, slots, load and liveness",
		Long: `list prints every registered worker: id, pool, state (active, draining,
down), task slots, attempts running now, time since its last heartbeat
reached the leader, its gossip status (alive, suspect, dead, left), its gRPC
address and labels. -o json prints ListWorkersResponse:
{"workers": [{"worker": {...}, "running": 1, "last_heartbeat_ms_ago": "250", "gossip": "alive"}]}.`,
		Example: `  nightshift workers list
  nightshift workers list -o json | jq -r '.workers[] | select(.worker.state == "WORKER_STATE_ACTIVE") | .worker.id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.admin.ListWorkers(cctx, &nsv1.ListWorkersRequest{Stale: stale})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				rows := make([][]string, 0, len(resp.GetWorkers()))
				for _, s := range resp.GetWorkers() {
					w := s.GetWorker()
					hb := "never"
					if ms := s.GetLastHeartbeatMsAgo(); ms >= 0 {
						hb = roundDur(time.Duration(ms)*time.Millisecond) + " ago"
					}
					rows = append(rows, []string{w.GetId(), w.GetPool(), workerState(w.GetState()), fmt.Sprint(w.GetSlots()),
						fmt.Sprint(s.GetRunning()), hb, dash(s.GetGossip()), dash(w.GetGrpcAddr()), labelsText(w.GetLabels())})
				}
				return writeTable(cmd.OutOrStdout(), []string{"ID", "POOL", "STATE", "SLOTS", "RUNNING", "HEARTBEAT", "GOSSIP", "ADDRESS", "LABELS"}, rows)
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

// newDrainCmd builds `workers drain` (drain) or `workers undrain`.
func newDrainCmd(drain bool) *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "drain ID",
		Short: "Stop a worker from leasing new tasks; its running tasks finish or move",
		Long: `drain marks a worker draining: it leases nothing new, lets its running
attempts finish within its drain grace and hands the rest back to be run
elsewhere. The worker stays registered; undrain makes it take work again.
-o json prints DrainWorkerResponse: {"worker": {...}}.`,
		Example: `  nightshift workers drain worker-3`,
		Args:    cobra.ExactArgs(1),
	}
	if !drain {
		cmd.Use = "undrain ID"
		cmd.Short = "Let a drained worker lease tasks again"
		cmd.Long = `undrain marks a draining worker active again, so it leases new tasks.
-o json prints DrainWorkerResponse: {"worker": {...}}.`
		cmd.Example = `  nightshift workers undrain worker-3`
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
			cctx, cancel := c.call(ctx)
			defer cancel()
			req := &nsv1.DrainWorkerRequest{Id: args[0], RequestId: randomID("req-")}
			var resp *nsv1.DrainWorkerResponse
			var err error
			if drain {
				resp, err = c.admin.DrainWorker(cctx, req)
			} else {
				resp, err = c.admin.UndrainWorker(cctx, req)
			}
			if err != nil {
				return c.apiError(err, "worker "+args[0])
			}
			if out == outputJSON {
				return writeProto(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker %s %s\n", resp.GetWorker().GetId(), workerState(resp.GetWorker().GetState()))
			return nil
		})
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}
