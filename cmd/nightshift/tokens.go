package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke the bearer tokens of the API",
		Long: `tokens manages the API's bearer tokens. A coordinator whose API listens
beyond loopback requires one on every client call (tokens: auto in its config;
required or off to choose). The CLI sends $NIGHTSHIFT_TOKEN (or --token).

Roles form a ladder, each allowing what the ones before it do:
  read     every get, list and watch
  submit   jobs, schedules, backfills and pipeline runs
  operate  cancel jobs and runs, drain workers, pause schedules, promote and roll back models
  admin    Raft peers and tokens

bootstrap makes the first admin token, once, while the cluster has none.
Only the SHA-256 of a token's secret is stored (in Raft); the whole token is
printed once, when it is made. Every write made with a token records its name.`,
		Example: `  nightshift tokens bootstrap --name ops            # once, on a new cluster
  export NIGHTSHIFT_TOKEN=nst_…
  nightshift tokens create alice --role operate
  nightshift tokens create ci-nightly --role submit --ttl 720h
  nightshift tokens list
  nightshift tokens revoke k4x2…`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTokensBootstrapCmd(), newTokensCreateCmd(), newTokensListCmd(), newTokensRevokeCmd())
	return cmd
}

func newTokensBootstrapCmd() *cobra.Command {
	var (
		cf   clientFlags
		out  outputFormat
		name string
	)
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Make the first admin token, while the cluster has no token",
		Long: `bootstrap asks the coordinators for the first admin token. It works once:
when any token exists (revoked ones included) it is refused, and an admin
makes the next ones with tokens create. Keep the printed token safe: it is
not stored anywhere but its hash.`,
		Example: `  nightshift tokens bootstrap --name ops`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewTokenServiceClient(c.conn).BootstrapToken(cctx, &nsv1.BootstrapTokenRequest{Name: name})
				if err != nil {
					return c.apiError(err, "")
				}
				return writeNewToken(cmd.OutOrStdout(), out, resp)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "bootstrap", "who holds the token (recorded with every write made with it)")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newTokensCreateCmd() *cobra.Command {
	var (
		cf   clientFlags
		out  outputFormat
		role string
		ttl  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE",
		Short: "Make a token (admin)",
		Long: `create makes a token for NAME (a person or a system: lower-case letters,
digits, '.', '_', '-') with a role (read, submit, operate, admin) and prints
it once. --ttl bounds its life (0: no expiry). -o json prints
CreateTokenResponse: {"token": {...}, "secret": "nst_…"}.`,
		Example: `  nightshift tokens create alice --role operate
  nightshift tokens create ci-nightly --role submit --ttl 720h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl %s: must not be negative (0: no expiry)", ttl)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewTokenServiceClient(c.conn).CreateToken(cctx, &nsv1.CreateTokenRequest{Name: args[0], Role: role, TtlS: int64(ttl / time.Second)})
				if err != nil {
					return c.apiError(err, "")
				}
				return writeNewToken(cmd.OutOrStdout(), out, resp)
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "read, submit, operate or admin (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, such as 720h (0: no expiry)")
	_ = cmd.MarkFlagRequired("role")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newTokensListCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the tokens (admin): ID, name, role, state, who made them",
		Long:    `list prints every token, revoked ones included, without any secret. -o json prints ListTokensResponse.`,
		Example: `  nightshift tokens list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewTokenServiceClient(c.conn).ListTokens(cctx, &nsv1.ListTokensRequest{})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				rows := make([][]string, len(resp.GetTokens()))
				for i, t := range resp.GetTokens() {
					rows[i] = []string{t.GetId(), t.GetName(), t.GetRole(), tokenState(t, time.Now()), dash(t.GetCreatedBy()), ago(t.GetCreateUnixMs())}
				}
				return writeTable(cmd.OutOrStdout(), []string{"ID", "NAME", "ROLE", "STATE", "CREATED BY", "CREATED"}, rows)
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newTokensRevokeCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token (admin); it is refused from then on",
		Long:    `revoke revokes the token with ID (tokens list shows IDs; a token reads nst_ID_SECRET). Revoking it again changes nothing.`,
		Example: `  nightshift tokens revoke k4x2m7q9a1b3c5d7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewTokenServiceClient(c.conn).RevokeToken(cctx, &nsv1.RevokeTokenRequest{Id: args[0]})
				if err != nil {
					return c.apiError(err, "token "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s, %s) revoked\n", resp.GetToken().GetId(), resp.GetToken().GetName(), resp.GetToken().GetRole())
				return nil
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// writeNewToken prints a token just made, with its secret, once.
func writeNewToken(w io.Writer, out outputFormat, resp *nsv1.CreateTokenResponse) error {
	if out == outputJSON {
		return writeProto(w, resp)
	}
	t := resp.GetToken()
	fmt.Fprintf(w, "token %s for %s, role %s%s\n%s\n", t.GetId(), t.GetName(), t.GetRole(), expiryText(t), resp.GetSecret())
	fmt.Fprintln(w, "This is the only time the token is shown: export NIGHTSHIFT_TOKEN=<it> to use it.")
	return nil
}

func expiryText(t *nsv1.Token) string {
	if t.GetExpireUnixMs() == 0 {
		return ", no expiry"
	}
	return ", expires " + unixMs(t.GetExpireUnixMs()).Format(time.DateTime)
}

// tokenState is "active", "revoked by NAME" or "expired".
func tokenState(t *nsv1.Token, now time.Time) string {
	switch {
	case t.GetRevokeUnixMs() != 0:
		return strings.TrimSpace("revoked " + parenthesised("by ", t.GetRevokedBy()))
	case t.GetExpireUnixMs() != 0 && now.UnixMilli() >= t.GetExpireUnixMs():
		return "expired"
	}
	return "active"
}
