package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// modelEventsShown is how many of a model's latest events `models get` prints.
const modelEventsShown = 10

func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List registered models; promote and roll back versions",
		Long: `models shows the model registry and changes its production alias.

Every finished train job registers its artifact as the next version of its
model_name (v1, v2, ...) and points the candidate alias at it. The job's
promotion policy then decides whether it also becomes production: the first
version always does; a later one only when, scored with the production
version on the same holdout rows of the new data, it beats production on the
policy's metric (logloss for classifiers, rmse for regression by default;
lower is better for logloss and rmse, higher for auc and accuracy) by at
least the policy's margin, with confidence when the policy asks for an
interval, and no gated slice gets worse; never with manual: true, nor
without a policy. history prints each evaluation over time.

promote makes any version production by hand; rollback restores the
production version before the current one. Both are recorded in the
model's events. score --model churn (= churn@production), churn@candidate
or churn@v3 scores with the version the name resolves to at submit.

With -o json every subcommand prints the API's message in the proto3 JSON
mapping with the .proto field names.`,
		Example: `  nightshift models list
  nightshift models get churn
  nightshift models promote churn 3 --reason "validated offline"
  nightshift models rollback churn --reason "v3 drifts on new data"
  nightshift models history churn --metric auc --slice region=north`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newModelsListCmd(), newModelsGetCmd(), newModelsHistoryCmd(), newModelsPromoteCmd(), newModelsRollbackCmd())
	return cmd
}

func newModelsListCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered models with their production and candidate versions",
		Long: `list prints every registered model by name: the production and candidate
versions, how many versions it has and the latest one with its age. -o json
prints ListModelsResponse: {"models": [{"name": ..., "versions": [...],
"aliases": {"production": 2, "candidate": 3}, "production_history": [1],
"events": []}]} (events are left out of listings; models get has them).`,
		Example: `  nightshift models list
  nightshift models list -o json | jq -r '.models[] | "\(.name) v\(.aliases.production)"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewModelServiceClient(c.conn).ListModels(cctx, &nsv1.ListModelsRequest{Stale: stale})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeModelList(cmd.OutOrStdout(), resp.GetModels())
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newModelsGetCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a model's versions, aliases and latest events",
		Long: fmt.Sprintf(`get prints a registered model: its production and candidate versions, the
production versions rollback would restore, a table of its versions (aliases,
holdout metrics, the train job that made it, age, artifact URI), the newest
evaluation (the challenger against production on the same holdout rows,
with slices) and its latest %d events (registrations with the promotion decision and its reason,
promotions, rollbacks). -o json prints GetModelResponse: {"model": {...}}
with every event kept (the newest 64).`, modelEventsShown),
		Example: `  nightshift models get churn
  nightshift models get churn -o json | jq '.model.versions[-1].metrics'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				resp, err := getModel(ctx, c, args[0], stale)
				if err != nil {
					return err
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeModel(cmd.OutOrStdout(), resp.GetModel())
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newModelsPromoteCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		reason string
	)
	cmd := &cobra.Command{
		Use:   "promote NAME VERSION",
		Short: "Make a version production by hand; the previous one is kept for rollback",
		Long: `promote points a model's production alias at VERSION (3 or v3), whatever
the promotion policy decided. The version production pointed at before is
kept, so rollback restores it. Promoting the production version again
changes nothing. Score jobs already submitted keep the version they
resolved; new ones use the new production. -o json prints
PromoteModelResponse: {"model": {...}}.`,
		Example: `  nightshift models promote churn 3
  nightshift models promote churn v3 --reason "validated on the March holdout"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := parseModelVersion(args[1])
			if err != nil {
				return err
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewModelServiceClient(c.conn).PromoteModel(cctx, &nsv1.PromoteModelRequest{
					Name: args[0], Version: v, Reason: reason, RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "model "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintln(cmd.OutOrStdout(), modelStateLine(resp.GetModel()))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the model's events")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newModelsRollbackCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		reason string
	)
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Restore the production version before the current one",
		Long: `rollback points a model's production alias back at the version it pointed
at before the current one (the last promotion, automatic or by hand, is
undone); rolling back again goes one further. It fails when there is no
earlier production version. -o json prints RollbackModelResponse:
{"model": {...}}.`,
		Example: `  nightshift models rollback churn --reason "v3 drifts on new data"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewModelServiceClient(c.conn).RollbackModel(cctx, &nsv1.RollbackModelRequest{
					Name: args[0], Reason: reason, RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "model "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintln(cmd.OutOrStdout(), modelStateLine(resp.GetModel()))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the model's events")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// parseModelVersion reads "3" or "v3".
func parseModelVersion(s string) (int32, error) {
	digits := strings.TrimPrefix(strings.TrimSpace(s), "v")
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n <= 0 || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("version %q: want a version number such as 3 or v3", s)
	}
	return int32(n), nil
}

// versionText is "v3", or "-" for no version.
func versionText(n int32, ok bool) string {
	if !ok || n <= 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", n)
}

func aliasText(m *nsv1.RegisteredModel, alias string) string {
	n, ok := m.GetAliases()[alias]
	return versionText(n, ok)
}

// latestVersion is the model's highest version, or nil.
func latestVersion(m *nsv1.RegisteredModel) *nsv1.ModelVersion {
	var latest *nsv1.ModelVersion
	for _, v := range m.GetVersions() {
		if latest == nil || v.GetVersion() > latest.GetVersion() {
			latest = v
		}
	}
	return latest
}

// writeModelList prints `models list`: NAME, PRODUCTION, CANDIDATE, VERSIONS, LATEST.
func writeModelList(w io.Writer, models []*nsv1.RegisteredModel) error {
	rows := make([][]string, 0, len(models))
	for _, m := range models {
		latest := "-"
		if v := latestVersion(m); v != nil {
			latest = fmt.Sprintf("v%d (%s)", v.GetVersion(), ago(v.GetCreateUnixMs()))
		}
		rows = append(rows, []string{m.GetName(), aliasText(m, "production"), aliasText(m, "candidate"),
			fmt.Sprint(len(m.GetVersions())), latest})
	}
	return writeTable(w, []string{"NAME", "PRODUCTION", "CANDIDATE", "VERSIONS", "LATEST"}, rows)
}

// writeModel prints `models get`: the aliases, the versions table and the
// latest events.
func writeModel(w io.Writer, m *nsv1.RegisteredModel) error {
	if err := writeKV(w, [][2]string{
		{"name", m.GetName()},
		{"production", aliasText(m, "production")},
		{"candidate", aliasText(m, "candidate")},
		{"rollback", rollbackText(m)},
	}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(m.GetVersions()))
	for _, v := range slices.Backward(m.GetVersions()) {
		var aliases []string
		for _, a := range []string{"production", "candidate"} {
			if n, ok := m.GetAliases()[a]; ok && n == v.GetVersion() {
				aliases = append(aliases, a)
			}
		}
		rows = append(rows, []string{fmt.Sprintf("v%d", v.GetVersion()), dash(strings.Join(aliases, ",")),
			dash(metricsText(v.GetMetrics())), dash(v.GetJobId()), ago(v.GetCreateUnixMs()), dash(v.GetUri())})
	}
	if err := writeTable(w, []string{"VERSION", "ALIASES", "METRICS", "JOB", "CREATED", "URI"}, rows); err != nil {
		return err
	}
	// The newest same-data comparison (models history has them all).
	for _, v := range slices.Backward(m.GetVersions()) {
		if v.GetEvaluation() != nil {
			if err := writeEvaluation(w, fmt.Sprintf("v%d", v.GetVersion()), v.GetEvaluation()); err != nil {
				return err
			}
			break
		}
	}
	ev := m.GetEvents()
	if len(ev) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nEVENTS")
	ev = ev[max(0, len(ev)-modelEventsShown):]
	kv := make([][2]string, 0, len(ev))
	for _, e := range ev {
		kv = append(kv, [2]string{unixMs(e.GetUnixMs()).Format(time.DateTime), e.GetMessage()})
	}
	return writeKV(w, kv)
}

// rollbackText names the version rollback would restore.
func rollbackText(m *nsv1.RegisteredModel) string {
	h := m.GetProductionHistory()
	if len(h) == 0 {
		return "- (no earlier production version)"
	}
	return fmt.Sprintf("v%d", h[len(h)-1])
}

// modelStateLine is the one-line answer of promote and rollback:
// "churn: production v3, candidate v4; rollback restores v2".
func modelStateLine(m *nsv1.RegisteredModel) string {
	s := fmt.Sprintf("%s: production %s, candidate %s", m.GetName(), aliasText(m, "production"), aliasText(m, "candidate"))
	if h := m.GetProductionHistory(); len(h) > 0 {
		return s + fmt.Sprintf("; rollback restores v%d", h[len(h)-1])
	}
	return s + "; no earlier production version"
}

// getModel reads a registered model (from any coordinator with stale).
func getModel(ctx context.Context, c *apiClient, name string, stale bool) (*nsv1.GetModelResponse, error) {
	cctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := nsv1.NewModelServiceClient(c.conn).GetModel(cctx, &nsv1.GetModelRequest{Name: name, Stale: stale})
	if err != nil {
		return nil, c.apiError(err, "model "+name)
	}
	return resp, nil
}
