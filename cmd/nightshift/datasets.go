package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

func newDatasetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "Profile datasets and infer their data contracts",
		Long: `datasets shows a dataset's profile (its statistics, computed by a distributed
pass over its shards and stored as profile.json beside its manifest) and the
data contract a reference implies.`,
		Example: `  nightshift datasets profile s3://lake/datasets/churn
  nightshift datasets profile s3://lake/datasets/churn -o json
  nightshift datasets contract churn@production > contract.yaml`,
	}
	cmd.AddCommand(newDatasetsProfileCmd(), newDatasetsContractCmd())
	return cmd
}

type profileFlags struct {
	submit  submitFlags
	refresh bool
	out     outputFormat
}

func newDatasetsProfileCmd() *cobra.Command {
	var f profileFlags
	cmd := &cobra.Command{
		Use:   "profile URI",
		Short: "Show a dataset's profile, computing it first when it has none",
		Long: `profile prints the statistics of the dataset at URI (a folder holding
manifest.json): per column the count, nulls, NaN and infinities, min, max,
mean, standard deviation and quantiles of numeric columns, the most frequent
values, the "other" mass and the distinct count of string and boolean columns.

When the dataset has no profile of its current data, profile submits a
profile job (one task per shard on the workers of --pool; the partials are
merged in shard order into profile.json beside the manifest), follows it to
its end and then prints the result. --refresh computes it again regardless.`,
		Example: `  nightshift datasets profile s3://lake/datasets/events-1122
  nightshift datasets profile file:///data/ds -o json | jq '.columns[] | {name, nulls}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &f.submit.client, func(ctx context.Context, c *apiClient) error {
				p, err := ensureProfile(ctx, cmd, c, args[0], f.submit.pool, f.refresh, f.out == outputTable)
				if err != nil {
					return err
				}
				if f.out == outputJSON {
					return writeProto(cmd.OutOrStdout(), p)
				}
				return writeProfile(cmd.OutOrStdout(), p)
			})
		},
	}
	cmd.Flags().BoolVar(&f.refresh, "refresh", false, "compute the profile again even if the dataset has one")
	cmd.Flags().StringVar(&f.submit.pool, "pool", jobspec.DefaultPool, "worker pool of the profile job")
	addClientFlags(cmd, &f.submit.client)
	addOutputFlag(cmd, &f.out)
	return cmd
}

// ensureProfile returns the profile of the dataset at uri, running a
// profile job first when it has none (or when refresh is set).
func ensureProfile(ctx context.Context, cmd *cobra.Command, c *apiClient, uri, pool string, refresh, bar bool) (*nsv1.DatasetProfile, error) {
	data := nsv1.NewDataServiceClient(c.conn)
	get := func() (*nsv1.DatasetProfile, error) {
		cctx, cancel := c.call(ctx)
		defer cancel()
		resp, err := data.GetProfile(cctx, &nsv1.GetProfileRequest{Dataset: uri})
		return resp.GetProfile(), err
	}
	if !refresh {
		p, err := get()
		if err == nil {
			return p, nil
		}
		// NotFound: no profile, or one of an older manifest (a
		// re-ingested dataset); a missing dataset is InvalidArgument.
		if status.Code(err) != codes.NotFound {
			return nil, c.apiError(err, "")
		}
	}
	spec := &nsv1.JobSpec{Kind: &nsv1.JobSpec_Profile{Profile: &nsv1.ProfileSpec{Input: uri}}, Pool: pool,
		Name: "profile " + uri, Owner: os.Getenv("USER"), IdempotencyKey: randomID("profile-")}
	if err := jobspec.Normalize(spec); err != nil {
		return nil, err
	}
	if bar {
		fmt.Fprintf(cmd.ErrOrStderr(), "profiling %s …\n", uri)
	}
	if _, err := runToEnd(ctx, cmd, c, bar, spec); err != nil {
		return nil, err
	}
	p, err := get()
	if err != nil {
		return nil, c.apiError(err, "")
	}
	return p, nil
}

// writeProfile prints a profile: a header, then one row per column.
func writeProfile(w io.Writer, p *nsv1.DatasetProfile) error {
	if err := writeKV(w, [][2]string{
		{"dataset", p.GetDataset()},
		{"fingerprint", shortFingerprint(p.GetFingerprint())},
		{"rows", strconv.FormatInt(p.GetRows(), 10)},
		{"shards", strconv.Itoa(int(p.GetShards()))},
	}); err != nil {
		return err
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(p.GetColumns()))
	for _, c := range p.GetColumns() {
		row := []string{c.GetName(), c.GetType(), pct(c.GetNulls(), c.GetCount())}
		switch {
		case c.GetNumeric() != nil:
			n := c.GetNumeric()
			row = append(row, numericSummary(n))
		case c.GetCategorical() != nil:
			row = append(row, categoricalSummary(c.GetCategorical(), c.GetCount()-c.GetNulls()))
		default:
			row = append(row, "")
		}
		rows = append(rows, row)
	}
	return writeTable(w, []string{"COLUMN", "TYPE", "NULLS", "DISTRIBUTION"}, rows)
}

// numericSummary is min, quartiles, max, mean ± std, and any NaN/Inf.
func numericSummary(n *nsv1.NumericStats) string {
	if n.GetFinite() == 0 {
		return "no finite values" + nonFinite(n)
	}
	q := func(level float64) string {
		for i, l := range profile.Levels {
			if l == level && i < len(n.GetQuantiles()) {
				return num(n.GetQuantiles()[i])
			}
		}
		return "?"
	}
	return fmt.Sprintf("min %s  p25 %s  p50 %s  p75 %s  max %s  mean %s ± %s%s",
		num(n.GetMin()), q(0.25), q(0.5), q(0.75), num(n.GetMax()), num(n.GetMean()), num(n.GetStd()), nonFinite(n))
}

func nonFinite(n *nsv1.NumericStats) string {
	var parts []string
	if n.GetNan() > 0 {
		parts = append(parts, fmt.Sprintf("NaN %d", n.GetNan()))
	}
	if k := n.GetPosInf() + n.GetNegInf(); k > 0 {
		parts = append(parts, fmt.Sprintf("Inf %d", k))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// categoricalSummary is the distinct count and the top values' shares.
func categoricalSummary(c *nsv1.CategoricalStats, nonNull int64) string {
	distinct := strconv.FormatInt(c.GetDistinct(), 10)
	if !c.GetExact() {
		distinct = "≈" + distinct
	}
	var top []string
	for i, v := range c.GetTop() {
		if i == 4 {
			break
		}
		top = append(top, fmt.Sprintf("%s %s", v.GetValue(), pct(v.GetCount(), nonNull)))
	}
	s := distinct + " distinct: " + strings.Join(top, ", ")
	if rest := len(c.GetTop()) - len(top); rest > 0 || c.GetOther() > 0 {
		s += ", …"
	}
	return s
}

func pct(n, of int64) string {
	if of <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func shortFingerprint(fp string) string {
	fp = strings.TrimPrefix(fp, "sha256:")
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}
