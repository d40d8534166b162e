package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func newDatasetsContractCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "contract REFERENCE",
		Short: "Print the data contract inferred from a model's training data or a dataset",
		Long: `contract prints, as YAML you can edit and pass to validate --contract or put
in a pipeline's validate step, the data contract inferred from a reference:
a registered model (NAME, NAME@ALIAS, NAME@vN: the profile of its training
data) or a dataset folder URI (its profile). ` + contractRules,
		Example: `  nightshift datasets contract churn@production > contract.yaml
  nightshift validate --dataset s3://lake/datasets/events-1123 --against churn --contract contract.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewDataServiceClient(c.conn).InferContract(cctx, &nsv1.InferContractRequest{Reference: args[0]})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				body, err := jobspec.ContractYAML(resp.GetContract())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "# data contract inferred from %s\n", resp.GetReference())
				_, err = cmd.OutOrStdout().Write(body)
				return err
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// contractRules is how a contract is inferred; it goes into the help of
// the commands that infer one.
const contractRules = `Inferred rules: every reference column is required
with its kind; its null fraction may be at most twice the reference's (and
at least the reference's plus one point); numeric values must lie within the
reference's range widened by its width on each side; a string column with at
most 100 values in the reference allows only those, with up to 1% of rows
unseen; the row count must be within 0.5× and 2× the reference's.`

type validateFlags struct {
	submit     submitFlags
	dataset    string
	against    string
	contract   string
	drift      string
	failOnWarn bool
	ignore     []string
	out        outputFormat
}

func newValidateCmd() *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate --dataset URI --against REFERENCE",
		Short: "Check a dataset against a data contract and for drift, as a pipeline's validate step does",
		Long: `validate runs the data gates of a pipeline's validate step outside a
pipeline: the dataset at --dataset (profiled first when it has no profile) is
checked against a data contract and compared with the reference for drift.
The reference is a registered model (NAME, NAME@ALIAS, NAME@vN: the profile
of its training data) or a dataset folder URI.

The contract comes from --contract FILE (YAML, as datasets contract prints),
else it is inferred from the reference. ` + contractRules + `

Drift: numeric columns by the population stability index over the
reference's decile bins plus a missing-value bin (warn 0.1, fail 0.25);
string and boolean columns by the Jensen–Shannon distance of the value
frequencies (warn 0.1, fail 0.2); the L-infinity distance is reported too.
The dataset fails when half the compared columns drift to warn or beyond.
--drift FILE (YAML) overrides the thresholds, per column too. --ignore leaves
columns whose values are new by design (identifiers, timestamps) out of the
range, category and drift checks.

The report lists the violations and every column's drift, worst first. The
exit status is 1 when the verdict is FAIL (or WARN with --fail-on-warn).`,
		Example: `  nightshift validate --dataset s3://lake/datasets/events-1123 --against churn@production --ignore id
  nightshift validate --dataset file:///data/new --against file:///data/old --contract contract.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runValidate(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataset, "dataset", "", "dataset folder URI (holding manifest.json)")
	fl.StringVar(&f.against, "against", "", "reference: a registered model (NAME, NAME@ALIAS, NAME@vN) or a dataset folder URI")
	fl.StringVar(&f.contract, "contract", "", "data contract YAML file (default: inferred from the reference)")
	fl.StringVar(&f.drift, "drift", "", "drift thresholds YAML file (default: the documented defaults)")
	fl.BoolVar(&f.failOnWarn, "fail-on-warn", false, "exit non-zero on warnings too")
	fl.StringSliceVar(&f.ignore, "ignore", nil, "columns left out of the range, category and drift checks (identifiers, timestamps), e.g. id,created_at")
	fl.StringVar(&f.submit.pool, "pool", jobspec.DefaultPool, "worker pool of the profile job, when the dataset needs one")
	addClientFlags(cmd, &f.submit.client)
	addOutputFlag(cmd, &f.out)
	_ = cmd.MarkFlagRequired("dataset")
	_ = cmd.MarkFlagRequired("against")
	return cmd
}

func runValidate(cmd *cobra.Command, f *validateFlags) error {
	req := &nsv1.ValidateRequest{Dataset: jobspec.CanonicalURI(f.dataset), Against: f.against, IgnoreColumns: f.ignore}
	if f.contract != "" {
		body, err := os.ReadFile(f.contract)
		if err != nil {
			return err
		}
		if req.Contract, err = jobspec.ParseContractYAML(body); err != nil {
			return fmt.Errorf("%s: %w", f.contract, err)
		}
	}
	if f.drift != "" {
		body, err := os.ReadFile(f.drift)
		if err != nil {
			return err
		}
		if req.Drift, err = jobspec.ParseDriftYAML(body); err != nil {
			return fmt.Errorf("%s: %w", f.drift, err)
		}
	}
	return withClient(cmd, &f.submit.client, func(ctx context.Context, c *apiClient) error {
		if _, err := ensureProfile(ctx, cmd, c, req.Dataset, f.submit.pool, false, f.out == outputTable); err != nil {
			return err
		}
		cctx, cancel := c.call(ctx)
		defer cancel()
		resp, err := nsv1.NewDataServiceClient(c.conn).Validate(cctx, req)
		if err != nil {
			return c.apiError(err, "")
		}
		rep := resp.GetReport()
		if f.out == outputJSON {
			err = writeProto(cmd.OutOrStdout(), resp)
		} else {
			err = writeReport(cmd.OutOrStdout(), rep)
		}
		if err != nil {
			return err
		}
		switch {
		case rep.GetVerdict() == nsv1.Severity_SEVERITY_FAIL:
			return errors.New(rep.GetSummary())
		case f.failOnWarn && rep.GetVerdict() == nsv1.Severity_SEVERITY_WARN:
			return errors.New(rep.GetSummary() + " (--fail-on-warn)")
		}
		return nil
	})
}

// writeReport prints a validation report: the verdict, the violations,
// then every column's drift, worst first.
func writeReport(w io.Writer, rep *nsv1.ValidationReport) error {
	if err := writeKV(w, [][2]string{
		{"dataset", rep.GetDataset()},
		{"reference", rep.GetReference()},
		{"verdict", severity(rep.GetVerdict())},
		{"summary", rep.GetSummary()},
	}); err != nil {
		return err
	}
	if len(rep.GetViolations()) > 0 {
		fmt.Fprintln(w, "\nCONTRACT")
		rows := make([][]string, len(rep.GetViolations()))
		for i, v := range rep.GetViolations() {
			rows[i] = []string{severity(v.GetSeverity()), dash(v.GetColumn()), v.GetRule(), v.GetObserved(), v.GetAllowed()}
		}
		if err := writeTable(w, []string{"SEVERITY", "COLUMN", "RULE", "OBSERVED", "ALLOWED"}, rows); err != nil {
			return err
		}
	}
	if len(rep.GetDrift()) > 0 {
		fmt.Fprintf(w, "\nDRIFT (%.0f%% of the compared columns at warn or beyond)\n", 100*rep.GetDriftedShare())
		rows := make([][]string, len(rep.GetDrift()))
		for i, d := range rep.GetDrift() {
			rows[i] = []string{severity(d.GetSeverity()), d.GetColumn(), d.GetMetric(), fmt.Sprintf("%.4f", d.GetValue()),
				fmt.Sprintf("%.4f", d.GetLinf()), fmt.Sprintf("%g / %g", d.GetWarn(), d.GetFail())}
		}
		return writeTable(w, []string{"SEVERITY", "COLUMN", "METRIC", "VALUE", "L-INF", "WARN / FAIL"}, rows)
	}
	return nil
}

func severity(s nsv1.Severity) string { return strings.ToUpper(stateName(s, "SEVERITY_")) }
