package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// newGossipCmd is `operator gossip`: the gossip keyring.
func newGossipCmd() *cobra.Command {
	g := &cobra.Command{
		Use:   "gossip",
		Short: "Gossip encryption: rotate the keyring",
		Long: `gossip holds the commands about the gossip layer (memberlist), which carries
membership and failure detection between coordinators and workers. Today:
the keyring that encrypts it (see nightshift operator gossip keyring --help).`,
		Example: `  nightshift operator gossip keyring list`,
		Args:    cobra.NoArgs,
	}
	kr := &cobra.Command{
		Use:   "keyring",
		Short: "List, install, use and remove gossip encryption keys",
		Long: `keyring rotates the key that encrypts gossip (memberlist) without downtime.
The keyring lives in Raft; every coordinator applies it, and workers get it
with their heartbeats over their authenticated gRPC connection. Gossip
encrypts with the primary key and decrypts with every key of the ring.

A rotation is three steps, each confirmed by every live member before the
next is allowed, so no member ever receives a message it cannot read:

  1. install NEW       every member adds the key (still encrypting with the old)
  2. use NEW           refused until every live member holds NEW; then all switch
  3. remove OLD        refused while any live member still encrypts with OLD

use and remove wait (--wait) for the members to confirm the previous step.
Keys are 16, 24 or 32 bytes, standard base64; the CLI and the state name a
key by its ID (the first 6 bytes of its SHA-256), never by its value. The
cluster must already encrypt gossip (gossip_key on every node). After a
rotation, put the new key in the nodes' gossip_key so that a node which
cannot reach a coordinator at start can still join.`,
		Example: `  nightshift operator gossip keyring list
  nightshift operator gossip keyring install --generate
  nightshift operator gossip keyring use 4be1c9d0a7f3
  nightshift operator gossip keyring remove 9f2e61b0c4d8`,
		Args: cobra.NoArgs,
	}
	kr.AddCommand(newKeyringListCmd(), newKeyringInstallCmd(), newKeyringStepCmd("use"), newKeyringStepCmd("remove"))
	g.AddCommand(kr)
	return g
}

func newKeyringListCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys, which is primary, and how many live members hold and use each",
		Long: `list prints each key of the ring: its ID, whether it is the primary, how many
live gossip members hold it and encrypt with it (of all live members), who
installed it and when, and the members that do not hold it yet. -o json
prints GossipKeyringResponse.`,
		Example: `  nightshift operator gossip keyring list
  nightshift operator gossip keyring list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.admin.ListGossipKeys(cctx, &nsv1.ListGossipKeysRequest{})
				if err != nil {
					return c.apiError(err, "")
				}
				return printKeyring(cmd, out, resp)
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newKeyringInstallCmd() *cobra.Command {
	var (
		cf       clientFlags
		out      outputFormat
		generate bool
	)
	cmd := &cobra.Command{
		Use:   "install KEY | --generate",
		Short: "Add a key to every member's ring (step 1 of a rotation)",
		Long: `install adds a key to the ring of every coordinator and worker; gossip goes
on encrypting with the primary. KEY is standard base64 of 16, 24 or 32
bytes (openssl rand -base64 32); --generate makes a 32-byte key and prints
it once: keep it, the cluster shows only its ID.`,
		Example: `  nightshift operator gossip keyring install "$(openssl rand -base64 32)"
  nightshift operator gossip keyring install --generate`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := installKey(args, generate)
			if err != nil {
				return err
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.admin.InstallGossipKey(cctx, &nsv1.InstallGossipKeyRequest{Key: key})
				if err != nil {
					return c.apiError(err, "")
				}
				if generate {
					fmt.Fprintf(cmd.ErrOrStderr(), "new gossip key %s (shown once): %s\n", gossip.KeyID(key), base64.StdEncoding.EncodeToString(key))
				}
				return printKeyring(cmd, out, resp)
			})
		},
	}
	cmd.Flags().BoolVar(&generate, "generate", false, "make a random 32-byte key, install it and print it")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// installKey is the key install was given, or a new one.
func installKey(args []string, generate bool) ([]byte, error) {
	switch {
	case generate && len(args) > 0:
		return nil, errors.New("give a KEY or --generate, not both")
	case generate:
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	case len(args) == 0:
		return nil, errors.New("give the key to install (standard base64) or --generate")
	}
	key, err := decodeGossipKey(args[0])
	if err != nil {
		return nil, fmt.Errorf("KEY: %w", err)
	}
	return key, nil
}

func decodeGossipKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("not standard base64 (make one with: openssl rand -base64 32)")
	}
	if len(key) == 0 {
		return nil, errors.New("empty key")
	}
	return key, gossip.CheckKey(key)
}

// keyArgID accepts a key's ID or the key itself (base64) and returns the ID.
func keyArgID(arg string) string {
	arg = strings.TrimSpace(arg)
	if len(arg) > 12 {
		if key, err := decodeGossipKey(arg); err == nil {
			return gossip.KeyID(key)
		}
	}
	return strings.ToLower(arg)
}

// newKeyringStepCmd is `use` or `remove`: steps the leader allows only once
// every live member confirmed the previous one, so they wait and retry.
func newKeyringStepCmd(step string) *cobra.Command {
	var (
		cf   clientFlags
		out  outputFormat
		wait time.Duration
	)
	short, long := "Make an installed key the primary on every member (step 2)",
		`use makes an installed key the one every member encrypts with. The leader
refuses while a live member does not hold the key yet (it names them); use
retries until --wait runs out, so it follows an install at once.`
	if step == "remove" {
		short, long = "Drop a key from every member's ring (step 3)",
			`remove drops a key that is no longer the primary. The leader refuses while a
live member still encrypts with it (it names them); remove retries until
--wait runs out. A node configured with only that key can then no longer
join until it reaches a coordinator, which hands it the ring.`
	}
	cmd := &cobra.Command{
		Use:     step + " ID",
		Short:   short,
		Long:    long,
		Example: "  nightshift operator gossip keyring " + step + " 4be1c9d0a7f3\n  nightshift operator gossip keyring " + step + " 4be1c9d0a7f3 --wait 2m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := keyArgID(args[0])
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				deadline := time.Now().Add(wait)
				for {
					cctx, cancel := c.call(ctx)
					var resp *nsv1.GossipKeyringResponse
					var err error
					if step == "use" {
						resp, err = c.admin.UseGossipKey(cctx, &nsv1.UseGossipKeyRequest{Id: id})
					} else {
						resp, err = c.admin.RemoveGossipKey(cctx, &nsv1.RemoveGossipKeyRequest{Id: id})
					}
					cancel()
					if err == nil {
						return printKeyring(cmd, out, resp)
					}
					if status.Code(err) != codes.FailedPrecondition || time.Now().After(deadline) {
						return c.apiError(err, "gossip key "+id)
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(500 * time.Millisecond):
					}
				}
			})
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the members to confirm the previous step")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func printKeyring(cmd *cobra.Command, out outputFormat, resp *nsv1.GossipKeyringResponse) error {
	w := cmd.OutOrStdout()
	if out == outputJSON {
		return writeProto(w, resp)
	}
	rows := make([][]string, 0, len(resp.GetKeys()))
	for _, k := range resp.GetKeys() {
		installed := k.GetInstalledBy()
		if ms := k.GetInstallUnixMs(); ms > 0 {
			installed += " " + time.UnixMilli(ms).UTC().Format(time.DateTime)
		}
		rows = append(rows, []string{k.GetId(), yesNo(k.GetPrimary()),
			fmt.Sprintf("%d/%d", k.GetMembers(), resp.GetLiveMembers()),
			fmt.Sprintf("%d/%d", k.GetPrimaryOn(), resp.GetLiveMembers()),
			dash(installed), dash(strings.Join(k.GetMissing(), ","))})
	}
	return writeTable(w, []string{"KEY", "PRIMARY", "HELD BY", "ENCRYPTS ON", "INSTALLED", "NOT YET ON"}, rows)
}
