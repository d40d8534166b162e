package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "nightshift",
		Short: "Distributed batch training and scoring on S3-compatible storage",
		Long: `nightshift splits datasets in S3-compatible storage into Arrow shards, trains
models data-parallel across workers, and bulk-scores whole datasets; schedules
run nightly pipelines (ingest, validate, train, promote, score) exactly once
per cron slot.

Storage URIs are s3://bucket/prefix (endpoint and credentials from
NIGHTSHIFT_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
or file:///absolute/path.

Client commands (score, train, jobs, models, datasets, validate, schedules,
runs, workers, tokens, operator, shard --submit) reach a coordinator at
--coordinator (env NIGHTSHIFT_ADDR, default 127.0.0.1:7100, where nightshift
dev listens; a comma-separated list fails over to the next address when one
cannot be reached), with mutual TLS from --tls-ca, --tls-cert and --tls-key
(env NIGHTSHIFT_TLS_CA, NIGHTSHIFT_TLS_CERT, NIGHTSHIFT_TLS_KEY) and the bearer
token of $NIGHTSHIFT_TOKEN (--token), which a coordinator listening beyond
loopback requires (nightshift tokens).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.AddCommand(newShardCmd(), newScoreCmd(), newTrainCmd(), newModelsCmd(), newDatasetsCmd(), newValidateCmd(), newSchedulesCmd(), newRunsCmd(), newJobsCmd(), newWorkersCmd(), newTokensCmd(), newOperatorCmd(),
		newCoordinatorCmd(), newWorkerCmd(), newDevCmd(), newTLSCmd(), newDemoCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "version prints the version this binary was built from (a release tag, or dev-<commit>).",
		Example: "  nightshift version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "nightshift", buildVersion())
		},
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}
