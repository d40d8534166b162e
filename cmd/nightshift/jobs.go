package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func newJobsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, inspect, cancel and follow jobs",
		Long: `jobs lists, inspects, cancels and follows the cluster's jobs (shard, score,
train). With -o json every subcommand prints the API's message in the proto3
JSON mapping with the .proto field names (e.g. {"jobs": [{"id": ..., "state":
"JOB_STATE_RUNNING", ...}]}); 64-bit counters are JSON strings.`,
		Example: `  nightshift jobs list --state running
  nightshift jobs get 01JD3K --tasks
  nightshift jobs watch 01JD3K
  nightshift jobs cancel 01JD3K --reason "wrong model"`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newJobsListCmd(), newJobsGetCmd(), newJobsCancelCmd(), newJobsWatchCmd())
	return cmd
}

func newJobsListCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		states []string
		limit  int32
		stale  bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		Long: `list prints the cluster's jobs: id, name, kind, state, tasks succeeded of
total, progress (rows done of total; the step of total steps for a train
job), pool and age. --state keeps only jobs in the given states. -o json
prints ListJobsResponse: {"jobs": [...]}.`,
		Example: `  nightshift jobs list
  nightshift jobs list --state running,pending --limit 20
  nightshift jobs list -o json | jq -r '.jobs[] | select(.state == "JOB_STATE_FAILED") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseJobStates(states)
			if err != nil {
				return err
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.jobs.ListJobs(cctx, &nsv1.ListJobsRequest{States: st, Limit: limit, Stale: stale})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				rows := make([][]string, 0, len(resp.GetJobs()))
				for _, j := range resp.GetJobs() {
					rows = append(rows, jobRow(j))
				}
				return writeTable(cmd.OutOrStdout(), jobHeader, rows)
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only jobs in these states: pending, running, finalizing, succeeded, failed, cancelled")
	cmd.Flags().Int32Var(&limit, "limit", 50, "at most this many jobs (0: all)")
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newJobsGetCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		tasks bool
	)
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one job, optionally with its tasks",
		Long: `get prints a job: kind, state, progress, timings, where it writes, its error
if it failed, and its latest events. --tasks adds one line per task (state,
attempts, worker, rows, last error). -o json prints GetJobResponse:
{"job": {...}, "tasks": [...]}.

For a train job it also shows the group's generation and its members by
rank, the step of total steps, epoch, loss, samples, restarts and the last
checkpoint; a table of per-epoch metrics (train loss and the holdout
logloss, AUC, accuracy, RMSE the model reports); the membership history; and
once it finished, the artifact, the registered version and the promotion
decision with its reason.`,
		Example: `  nightshift jobs get 01JD3K
  nightshift jobs get 01JD3K --tasks -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.jobs.GetJob(cctx, &nsv1.GetJobRequest{Id: args[0], Tasks: tasks})
				if err != nil {
					return c.apiError(err, "job "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return printJob(cmd, resp, tasks)
			})
		},
	}
	cmd.Flags().BoolVar(&tasks, "tasks", false, "also list the job's tasks")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func printJob(cmd *cobra.Command, resp *nsv1.GetJobResponse, tasks bool) error {
	w := cmd.OutOrStdout()
	j := resp.GetJob()
	if err := writeJob(w, j); err != nil {
		return err
	}
	if err := writeGenerations(w, j.GetTrain()); err != nil {
		return err
	}
	if ev := j.GetEvents(); len(ev) > 0 {
		fmt.Fprintln(w, "\nEVENTS")
		rows := make([][2]string, 0, len(ev))
		for _, e := range ev {
			rows = append(rows, [2]string{unixMs(e.GetUnixMs()).Format("15:04:05.000"), e.GetMessage()})
		}
		if err := writeKV(w, rows); err != nil {
			return err
		}
	}
	if !tasks {
		return nil
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(resp.GetTasks()))
	for _, t := range resp.GetTasks() {
		var workers []string
		for _, a := range t.GetActive() {
			workers = append(workers, a.GetWorkerId())
		}
		if len(workers) == 0 && t.GetResult() != nil {
			workers = append(workers, t.GetResult().GetWorkerId())
		}
		rows = append(rows, []string{fmt.Sprint(t.GetIndex()), taskState(t.GetState()), fmt.Sprint(t.GetAttempts()),
			fmt.Sprint(t.GetFailures()), dash(strings.Join(workers, ",")), fmt.Sprint(t.GetResult().GetRows()),
			dash(firstLine(t.GetLastError()))})
	}
	return writeTable(w, []string{"TASK", "STATE", "ATTEMPTS", "FAILURES", "WORKER", "ROWS", "LAST ERROR"}, rows)
}

func newJobsCancelCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		reason string
	)
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job; its running tasks stop promptly",
		Long: `cancel moves a job to cancelled: no task of it is leased again and workers
abort the attempts they run. Nothing of a cancelled score job becomes
committed output. Cancelling a finished job changes nothing. -o json prints
CancelJobResponse: {"job": {...}}.`,
		Example: `  nightshift jobs cancel 01JD3K --reason "wrong input"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := c.jobs.CancelJob(cctx, &nsv1.CancelJobRequest{Id: args[0], Reason: reason, RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "job "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "job %s %s\n", resp.GetJob().GetId(), jobState(resp.GetJob().GetState()))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the job's events and error")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newJobsWatchCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job until it ends",
		Long: `watch follows a job until it succeeds, fails or is cancelled: a progress bar
(tasks done of total, rows, rows/s, ETA; for a train job steps done of
total, epoch, loss, samples/s, ETA) on a terminal, one line per update
otherwise. It then prints the job (for a train job with its per-epoch
metrics, artifact, registered version and promotion decision) and exits
non-zero unless the job succeeded. -o json prints only the final Job
message.`,
		Example: `  nightshift jobs watch 01JD3K
  nightshift jobs watch 01JD3K -o json > final.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				o := watchOptions{bar: newProgressBar(cmd.ErrOrStderr())}
				if out == outputTable {
					o.lines = cmd.OutOrStdout()
				}
				j, err := watchJob(ctx, c, args[0], o)
				o.bar.finish()
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if out == outputJSON {
					if err := writeProto(w, j); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(w)
					if err := writeJob(w, j); err != nil {
						return err
					}
				}
				return jobOutcome(j)
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// writeJob prints a job's key/value view and, for a train job, its
// per-epoch metrics (`jobs get`, `jobs watch`, the --wait summary).
func writeJob(w io.Writer, j *nsv1.Job) error {
	if err := writeKV(w, jobDetail(j)); err != nil {
		return err
	}
	if err := writeEpochs(w, j.GetTrain()); err != nil {
		return err
	}
	if reg := j.GetTrain().GetRegistered(); reg.GetEvaluation() != nil {
		return writeEvaluation(w, fmt.Sprintf("v%d", reg.GetVersion()), reg.GetEvaluation())
	}
	return nil
}
