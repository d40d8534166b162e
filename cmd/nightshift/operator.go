package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Cluster administration: Raft membership, gossip keys",
		Long: `operator holds the commands that change the cluster itself: the coordinators
in Raft, and the keys that encrypt gossip.`,
		Example: `  nightshift operator raft list-peers
  nightshift operator raft add-peer --id coordinator-2 --address 127.0.0.1:7111
  nightshift operator gossip keyring list`,
		Args: cobra.NoArgs,
	}
	raft := &cobra.Command{
		Use:   "raft",
		Short: "List, add and remove coordinators (Raft peers)",
		Long: `raft lists, adds and removes coordinators in the Raft configuration. Changes
go through the leader and are committed like any other write.

To grow a cluster, start the new coordinator without bootstrap (it waits,
holding no state), then add it with add-peer from anywhere. To replace a
coordinator, add the new one first, then remove the old one, so the cluster
never drops below its quorum. Keep 3 or 5 voters; non-voters replicate the
log (fast reads, warm spares) without counting towards quorum.`,
		Example: `  nightshift operator raft list-peers
  nightshift operator raft add-peer --id coordinator-4 --address 10.0.0.4:7101
  nightshift operator raft add-peer --id reader-1 --address 10.0.0.9:7101 --non-voter
  nightshift operator raft remove-peer --id coordinator-1`,
		Args: cobra.NoArgs,
	}
	raft.AddCommand(newListPeersCmd(), newAddPeerCmd(), newRemovePeerCmd())
	cmd.AddCommand(raft, newGossipCmd())
	return cmd
}

func newListPeersCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list-peers",
		Short: "List the Raft configuration: coordinators, voters and the leader",
		Long: `list-peers prints every coordinator in the Raft configuration: id, Raft
address, gRPC address, whether it votes and whether it leads, then the
commit and applied index of the coordinator that answered. -o json prints
ListPeersResponse: {"peers": [...], "commit_index": "..", "applied_index": "..", "leader_id": ".."}.`,
		Example: `  nightshift operator raft list-peers
  nightshift operator raft list-peers -o json | jq -r .leader_id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.admin.ListPeers(cctx, &nsv1.ListPeersRequest{})
				if err != nil {
					return c.apiError(err, "")
				}
				w := cmd.OutOrStdout()
				if out == outputJSON {
					return writeProto(w, resp)
				}
				rows := make([][]string, 0, len(resp.GetPeers()))
				for _, p := range resp.GetPeers() {
					rows = append(rows, []string{p.GetId(), p.GetRaftAddr(), dash(p.GetGrpcAddr()), yesNo(p.GetVoter()), yesNo(p.GetLeader())})
				}
				if err := writeTable(w, []string{"ID", "RAFT ADDRESS", "GRPC ADDRESS", "VOTER", "LEADER"}, rows); err != nil {
					return err
				}
				fmt.Fprintf(w, "\nleader %s, commit index %d, applied index %d\n", dash(resp.GetLeaderId()), resp.GetCommitIndex(), resp.GetAppliedIndex())
				return nil
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newAddPeerCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
		req nsv1.AddPeerRequest
	)
	cmd := &cobra.Command{
		Use:   "add-peer --id ID --address RAFT_ADDR",
		Short: "Add a coordinator to the Raft configuration",
		Long: `add-peer adds a coordinator, by its id and the Raft address its peers dial
(raft_advertise, else raft_addr, in its config), as a voter or with
--non-voter as a non-voter. The new coordinator must be running without
bootstrap; it receives the log and a snapshot from the leader.`,
		Example: `  nightshift operator raft add-peer --id coordinator-2 --address 127.0.0.1:7111
  nightshift operator raft add-peer --id reader-1 --address 10.0.0.9:7101 --non-voter`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				if _, err := c.admin.AddPeer(cctx, &req); err != nil {
					return c.apiError(err, "")
				}
				kind := "voter"
				if req.NonVoter {
					kind = "non-voter"
				}
				return printPeerChange(cmd, out, fmt.Sprintf("added %s %s at %s", kind, req.Id, req.RaftAddr))
			})
		},
	}
	cmd.Flags().StringVar(&req.Id, "id", "", "the coordinator's id (id in its config)")
	cmd.Flags().StringVar(&req.RaftAddr, "address", "", "the coordinator's Raft address host:port, as its peers dial it")
	cmd.Flags().BoolVar(&req.NonVoter, "non-voter", false, "add it as a non-voter (replicates, does not vote)")
	_ = cmd.MarkFlagRequired("id")
	_ = cmd.MarkFlagRequired("address")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newRemovePeerCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
		id  string
	)
	cmd := &cobra.Command{
		Use:   "remove-peer --id ID",
		Short: "Remove a coordinator from the Raft configuration",
		Long: `remove-peer removes a coordinator from the Raft configuration. Removing the
leader makes it step down after the change commits; a new leader is elected
among the rest. Never remove so many voters at once that the rest cannot
form a quorum; replace one coordinator at a time (add the new one, then
remove the old).`,
		Example: `  nightshift operator raft remove-peer --id coordinator-3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				if _, err := c.admin.RemovePeer(cctx, &nsv1.RemovePeerRequest{Id: id}); err != nil {
					return c.apiError(err, "peer "+id)
				}
				return printPeerChange(cmd, out, "removed "+id)
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the coordinator's id")
	_ = cmd.MarkFlagRequired("id")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// peerChange is the JSON add-peer and remove-peer print: {"ok": true, "message": "..."}.
type peerChange struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

func printPeerChange(cmd *cobra.Command, out outputFormat, msg string) error {
	if out == outputJSON {
		return writeJSON(cmd.OutOrStdout(), peerChange{OK: true, Message: msg})
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), msg)
	return err
}
