package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/cron"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// runPollEvery is how often `schedules run --wait` and `runs start --wait`
// ask for the run.
const runPollEvery = 2 * time.Second

// runReasonWidth caps the REASON column of `runs list`.
const runReasonWidth = 60

func newRunsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List and inspect pipeline runs; resume, cancel or start one",
		Long: `runs shows the runs of scheduled pipelines: one record per slot of a
schedule (its ID is the slot key SCHEDULE@RFC3339-UTC, with #N for the Nth
reprocessing), holding the run, or why the slot did not run (skipped,
missed). Ad-hoc runs started with runs start have IDs adhoc-....

A run executes its pipeline's steps in order: ingest, validate, train,
promote, score. Listings show them compactly, e.g.
"ingest✓ validate✓ train✓ promote✗ score–":

  ✓ succeeded   ✗ failed   … running   · pending   – skipped (not in the
  pipeline, or not reached)   ↺ reused (inputs unchanged by content: an
  earlier run's result stands)

Slot times are printed in the schedule's time zone with the UTC time
beside them: "2026-12-05 02:00 CET (01:00Z)".

With -o json every subcommand prints the API's message in the proto3 JSON
mapping with the .proto field names (e.g. {"runs": [{"id": ..., "state":
"RUN_STATE_FAILED", ...}]}); 64-bit integers are JSON strings.`,
		Example: `  nightshift runs list --schedule churn-nightly --state failed
  nightshift runs get churn-nightly@2026-12-05T01:00:00Z
  nightshift runs resume churn-nightly@2026-12-05T01:00:00Z
  nightshift runs cancel churn-nightly@2026-12-05T01:00:00Z --reason "bad source data"
  nightshift runs start -f churn-nightly.yaml --slot 2026-12-01 --wait`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newRunsListCmd(), newRunsGetCmd(), newRunsResumeCmd(), newRunsCancelCmd(), newRunsStartCmd())
	return cmd
}

func newRunsListCmd() *cobra.Command {
	var (
		cf       clientFlags
		out      outputFormat
		schedule string
		states   []string
		limit    int32
		page     string
		stale    bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pipeline runs, newest claim first",
		Long: `list prints runs, the most recently claimed first: the run ID, its trigger
(scheduled, catchup, backfill, manual, adhoc), state, slot, its steps
compactly (see nightshift runs --help), the model version it registered
(NAME@vN, and whether it was promoted), how long it ran and the first line
of its reason (why it was skipped, missed or failed). --schedule keeps one
schedule's runs, --state keeps runs in the given states. When more runs
remain it prints "next page: --page TOKEN": pass that to see the next,
older, page. -o json prints ListRunsResponse: {"runs": [...],
"next_page_token": "..."}.`,
		Example: `  nightshift runs list
  nightshift runs list --schedule churn-nightly --state failed,cancelled --limit 20
  nightshift runs list -o json | jq -r '.runs[] | select(.state == "RUN_STATE_FAILED") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseRunStates(states)
			if err != nil {
				return err
			}
			if limit < 0 || limit > 1000 {
				return fmt.Errorf("--limit %d: want 1 to 1000 (0: 50)", limit)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).ListRuns(cctx, &nsv1.ListRunsRequest{
					Schedule: schedule, States: st, Limit: limit, PageToken: page, Stale: stale})
				if err != nil {
					return c.apiError(err, scheduleWhat(schedule))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeRunList(cmd.OutOrStdout(), resp.GetRuns(), resp.GetNextPageToken())
			})
		},
	}
	cmd.Flags().StringVar(&schedule, "schedule", "", "only this schedule's runs")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only runs in these states: queued, running, succeeded, failed, cancelled, skipped, missed")
	cmd.Flags().Int32Var(&limit, "limit", 50, "at most this many runs (at most 1000)")
	cmd.Flags().StringVar(&page, "page", "", "the next page: the token a previous list printed")
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newRunsGetCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one run with its steps",
		Long: `get prints a run: its schedule, slot, trigger, state and reason, the dataset
it ingested (with its content fingerprint), the model version it registered
(whether it was promoted, and why), where it wrote scores, and how often it
was resumed; then one line per step: state, the step's job (of its latest
try), tries, when it started, how long it took, what it produced (the
dataset folder, the model version NAME@vN, the output folder) and its detail
or error (a reused step names the run whose result it reused). -o json
prints GetRunResponse: {"run": {...}}.`,
		Example: `  nightshift runs get churn-nightly@2026-12-05T01:00:00Z
  nightshift runs get churn-nightly@2026-12-05T01:00:00Z -o json | jq '.run.steps[] | select(.state == "STEP_STATE_FAILED")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).GetRun(cctx, &nsv1.GetRunRequest{Id: args[0], Stale: stale})
				if err != nil {
					return c.apiError(err, "run "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeRun(cmd.OutOrStdout(), resp.GetRun())
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newRunsResumeCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Restart a failed or cancelled run from its first step that did not succeed",
		Long: `resume restarts a failed or cancelled run from its first step that did not
succeed; the steps that succeeded keep their results. The run keeps its
slot, its ID and the pipeline it was claimed with (later edits of the
schedule do not apply). Resuming a run that is not failed or cancelled is
an error. -o json prints ResumeRunResponse: {"run": {...}}.`,
		Example: `  nightshift runs resume churn-nightly@2026-12-05T01:00:00Z`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).ResumeRun(cctx, &nsv1.ResumeRunRequest{Id: args[0], RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "run "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintln(cmd.OutOrStdout(), resumedLine(resp.GetRun()))
				return nil
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newRunsCancelCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		reason string
	)
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running run and its running job",
		Long: `cancel moves a queued or running run to cancelled; the coordinator cancels
the job of the step that runs. The steps that succeeded keep their results,
so runs resume can continue the run later. Cancelling a run that is over
changes nothing. -o json prints CancelRunResponse: {"run": {...}}.`,
		Example: `  nightshift runs cancel churn-nightly@2026-12-05T01:00:00Z --reason "bad source data"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).CancelRun(cctx, &nsv1.CancelRunRequest{
					Id: args[0], Reason: reason, RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "run "+args[0])
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				r := resp.GetRun()
				fmt.Fprintf(cmd.OutOrStdout(), "run %s %s\n", r.GetId(), runStateWord(r.GetState()))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded as the run's reason")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newRunsStartCmd() *cobra.Command {
	var (
		cf   clientFlags
		out  outputFormat
		file string
		slot string
		wait bool
	)
	cmd := &cobra.Command{
		Use:   "start -f FILE",
		Short: "Run a schedule file's pipeline once, without a schedule",
		Long: `start runs the pipeline of a schedule file (the file schedules add takes)
once, as an ad-hoc run (ID adhoc-...), without storing a schedule: to try a
pipeline before scheduling it, or to run it for one date by hand. The
file's cron expression and policy are ignored; its time_zone is the zone
the templates render the slot in.

--slot is the instant the templates render as the slot ({{ .Slot }}):
RFC 3339 (2026-12-01T02:00:00+01:00), a date (2026-12-01: midnight in the
file's time zone) or a wall time (2026-12-01T02:00, in the file's time
zone); default now. It prints the run ID; --wait follows the run until it
is over, prints it, and exits non-zero unless it succeeded. -o json prints
StartPipelineResponse: {"run": {...}}, with --wait the run as it ended.`,
		Example: `  nightshift runs start -f churn-nightly.yaml
  nightshift runs start -f churn-nightly.yaml --slot 2026-12-01 --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("give the schedule file with -f FILE")
			}
			spec, err := loadScheduleFile(file)
			if err != nil {
				return err
			}
			loc, err := cron.LoadZone(spec.GetTimeZone())
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			var slotMs int64
			if slot != "" {
				t, err := parseTimeArg("--slot", slot, loc, false)
				if err != nil {
					return err
				}
				slotMs = t.UnixMilli()
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).StartPipeline(cctx, &nsv1.StartPipelineRequest{
					Pipeline: spec.GetPipeline(), SlotUnixMs: slotMs, TimeZone: spec.GetTimeZone(), RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, "")
				}
				return reportStartedRun(ctx, cmd, c, out, wait, resp.GetRun(), func(r *nsv1.PipelineRun) error {
					return writeProto(cmd.OutOrStdout(), &nsv1.StartPipelineResponse{Run: r})
				})
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "schedule file (YAML) whose pipeline runs")
	cmd.Flags().StringVar(&slot, "slot", "", "the slot the templates render: RFC 3339, a date or a wall time in the file's zone (default now)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run until it is over; exit non-zero unless it succeeded")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// reportStartedRun prints a run just started (schedules run, runs start):
// its ID, or with wait the run once it is over and its outcome. asJSON
// prints the command's response message holding a run.
func reportStartedRun(ctx context.Context, cmd *cobra.Command, c *apiClient, out outputFormat, wait bool,
	r *nsv1.PipelineRun, asJSON func(*nsv1.PipelineRun) error) error {
	w := cmd.OutOrStdout()
	if !wait {
		if out == outputJSON {
			return asJSON(r)
		}
		fmt.Fprintf(w, "run %s %s\n", r.GetId(), runStateWord(r.GetState()))
		return nil
	}
	var lines io.Writer
	if out == outputTable {
		lines = w
	}
	final, err := waitRun(ctx, c, r, lines)
	if err != nil {
		return err
	}
	if out == outputJSON {
		if err := asJSON(final); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w)
		if err := writeRun(w, final); err != nil {
			return err
		}
	}
	return runOutcome(final)
}

// waitRun polls a run until it is over, writing a line to lines (when not
// nil) whenever its state or steps change. Polls that fail for a reason
// worth retrying are retried until they have failed for longer than the
// client's timeout.
func waitRun(ctx context.Context, c *apiClient, r *nsv1.PipelineRun, lines io.Writer) (*nsv1.PipelineRun, error) {
	client := nsv1.NewScheduleServiceClient(c.conn)
	last, failingSince := "", time.Time{}
	for {
		if line := runProgressLine(r); line != last && lines != nil {
			fmt.Fprintf(lines, "%s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		if runIsOver(r.GetState()) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, errors.New("interrupted")
		case <-time.After(runPollEvery):
		}
		cctx, cancel := c.call(ctx)
		resp, err := client.GetRun(cctx, &nsv1.GetRunRequest{Id: r.GetId()})
		cancel()
		switch {
		case err == nil:
			r, failingSince = resp.GetRun(), time.Time{}
		case ctx.Err() != nil || !retryable(err):
			return r, c.apiError(err, "run "+r.GetId())
		case failingSince.IsZero():
			failingSince = time.Now()
		case c.timeout > 0 && time.Since(failingSince) > c.timeout:
			return r, c.apiError(err, "run "+r.GetId())
		}
	}
}

// runProgressLine is one --wait update: "ID  running  ingest✓ validate… ...".
func runProgressLine(r *nsv1.PipelineRun) string {
	return fmt.Sprintf("%s  %-9s  %s", r.GetId(), runStateWord(r.GetState()), stepsSummary(r.GetSteps()))
}

// runOutcome turns a run that is over into the command's result: nil when
// it succeeded, else an error carrying the run's reason.
func runOutcome(r *nsv1.PipelineRun) error {
	if r.GetState() == nsv1.RunState_RUN_STATE_SUCCEEDED {
		return nil
	}
	if reason := firstLine(r.GetReason()); reason != "" {
		return fmt.Errorf("run %s %s: %s", r.GetId(), runStateWord(r.GetState()), reason)
	}
	return fmt.Errorf("run %s %s", r.GetId(), runStateWord(r.GetState()))
}

// resumedLine is the answer of runs resume: "run ID running; from step
// train (resume 2)".
func resumedLine(r *nsv1.PipelineRun) string {
	s := fmt.Sprintf("run %s %s", r.GetId(), runStateWord(r.GetState()))
	if st := firstOpenStep(r.GetSteps()); st != "" {
		s += "; from step " + st
	}
	return fmt.Sprintf("%s (resume %d)", s, r.GetResumes())
}

// firstOpenStep names the first step that is pending, running or failed.
func firstOpenStep(steps []*nsv1.StepRun) string {
	for _, st := range steps {
		switch st.GetState() {
		case nsv1.StepState_STEP_STATE_PENDING, nsv1.StepState_STEP_STATE_RUNNING, nsv1.StepState_STEP_STATE_FAILED:
			return st.GetName()
		}
	}
	return ""
}

// --- run tables ---

var runListHeader = []string{"RUN", "TRIGGER", "STATE", "SLOT", "STEPS", "MODEL", "DURATION", "REASON"}

// writeRunList prints `runs list` and, when there is one, the next page's flag.
func writeRunList(w io.Writer, runs []*nsv1.PipelineRun, nextPage string) error {
	rows := make([][]string, 0, len(runs))
	for _, r := range runs {
		rows = append(rows, runRow(r))
	}
	if err := writeTable(w, runListHeader, rows); err != nil {
		return err
	}
	if nextPage != "" {
		fmt.Fprintf(w, "next page: --page %s\n", nextPage)
	}
	return nil
}

// runRow is a run's line in `runs list`.
func runRow(r *nsv1.PipelineRun) []string {
	return []string{r.GetId(), dash(r.GetTrigger()), runStateWord(r.GetState()),
		slotText(r.GetSlotUnixMs(), zoneOf(r.GetTimeZone())), dash(stepsSummary(r.GetSteps())),
		runModelText(r), runDuration(r, time.Now()), dash(truncateText(firstLine(r.GetReason()), runReasonWidth))}
}

// writeRun prints `runs get`: the run's key/value view, then its steps.
func writeRun(w io.Writer, r *nsv1.PipelineRun) error {
	if err := writeKV(w, runDetail(r)); err != nil {
		return err
	}
	if len(r.GetSteps()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	loc := zoneOf(r.GetTimeZone())
	rows := make([][]string, 0, len(r.GetSteps()))
	for _, st := range r.GetSteps() {
		rows = append(rows, stepRow(st, loc))
	}
	if err := writeTable(w, []string{"STEP", "STATE", "JOB", "TRIES", "STARTED", "DURATION", "ARTIFACT", "DETAIL/ERROR"}, rows); err != nil {
		return err
	}
	// The data gates' report and the same-data comparison, where the
	// steps made them.
	for _, st := range r.GetSteps() {
		if rep := st.GetValidation(); rep != nil {
			fmt.Fprintln(w, "\nVALIDATION")
			if err := writeReport(w, rep); err != nil {
				return err
			}
		}
		if ev := st.GetEvaluation(); ev != nil {
			if err := writeEvaluation(w, fmt.Sprintf("v%d", r.GetModelVersion()), ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// runDetail is the key/value view of one run; fields the run has not
// filled yet are left out.
func runDetail(r *nsv1.PipelineRun) [][2]string {
	loc := zoneOf(r.GetTimeZone())
	rows := [][2]string{
		{"id", r.GetId()},
		{"schedule", dash(r.GetSchedule())},
		{"slot", slotText(r.GetSlotUnixMs(), loc)},
		{"trigger", dash(r.GetTrigger())},
		{"state", runStateWord(r.GetState())},
	}
	optional := [][2]string{
		{"reason", continuedLines(r.GetReason())},
		{"owner", r.GetOwner()},
		{"dataset", joinNonEmpty(" ", r.GetDatasetUri(), parenthesised("fingerprint ", r.GetDatasetFingerprint()))},
		{"model", runModelDetail(r)},
		{"output", r.GetOutputUri()},
	}
	for _, kv := range optional {
		if kv[1] != "" {
			rows = append(rows, kv)
		}
	}
	if r.GetResumes() > 0 {
		rows = append(rows, [2]string{"resumes", fmt.Sprint(r.GetResumes())})
	}
	rows = append(rows, [2]string{"created", instantText(r.GetCreateUnixMs(), loc)})
	if r.GetStartUnixMs() != 0 {
		rows = append(rows, [2]string{"started", instantText(r.GetStartUnixMs(), loc)}, [2]string{"duration", runDuration(r, time.Now())})
	}
	return rows
}

// stepRow is a step's line in `runs get`.
func stepRow(st *nsv1.StepRun, loc *time.Location) []string {
	started, took := "-", "-"
	if ms := st.GetStartUnixMs(); ms != 0 {
		started = unixMs(ms).In(loc).Format(time.Stamp)
		took = spanText(ms, st.GetEndUnixMs(), time.Now())
	}
	return []string{st.GetName(), stepStateWord(st.GetState()), dash(st.GetJobId()), fmt.Sprint(st.GetTries()),
		started, took, dash(st.GetArtifact()), dash(stepDetail(st, loc))}
}

// stepDetail is a step's DETAIL/ERROR: what it reused, its error (and when
// it is retried), or its free-text detail.
func stepDetail(st *nsv1.StepRun, loc *time.Location) string {
	var parts []string
	if st.GetState() == nsv1.StepState_STEP_STATE_REUSED && st.GetReusedFrom() != "" {
		parts = append(parts, "reused from "+st.GetReusedFrom())
	}
	if e := firstLine(st.GetError()); e != "" {
		parts = append(parts, e)
	}
	if nb := st.GetNotBeforeUnixMs(); nb > time.Now().UnixMilli() {
		parts = append(parts, "retried at "+unixMs(nb).In(loc).Format(time.TimeOnly))
	}
	if d := firstLine(st.GetDetail()); d != "" {
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

// runModelText is a run's MODEL column: "churn@v4 (promoted)", "churn@v4
// (not promoted)", or "-" before the train step registered a version.
func runModelText(r *nsv1.PipelineRun) string {
	if r.GetModelVersion() <= 0 {
		return "-"
	}
	if r.GetPromoted() {
		return fmt.Sprintf("%s@v%d (promoted)", r.GetModelName(), r.GetModelVersion())
	}
	return fmt.Sprintf("%s@v%d (not promoted)", r.GetModelName(), r.GetModelVersion())
}

// runModelDetail is runModelText with the promotion decision's reason.
func runModelDetail(r *nsv1.PipelineRun) string {
	if r.GetModelVersion() <= 0 {
		return ""
	}
	return joinNonEmpty(": ", runModelText(r), r.GetPromotionReason())
}

// runDuration is how long a run ran (so far, while it runs), or "-" when it
// never started.
func runDuration(r *nsv1.PipelineRun, now time.Time) string {
	if r.GetStartUnixMs() == 0 {
		return "-"
	}
	return spanText(r.GetStartUnixMs(), r.GetEndUnixMs(), now)
}

// spanText is the time from start to end, or to now while end is 0.
func spanText(startMs, endMs int64, now time.Time) string {
	end := now
	if endMs != 0 {
		end = unixMs(endMs)
	}
	return roundDur(max(0, end.Sub(unixMs(startMs))))
}

// --- shared by the schedules and runs commands: state words, step glyphs,
// slot times ---

func runStateWord(s nsv1.RunState) string   { return stateName(s, "RUN_STATE_") }
func stepStateWord(s nsv1.StepState) string { return stateName(s, "STEP_STATE_") }

// runIsOver reports whether a run will change no more (unless resumed).
func runIsOver(s nsv1.RunState) bool {
	return s != nsv1.RunState_RUN_STATE_QUEUED && s != nsv1.RunState_RUN_STATE_RUNNING && s != nsv1.RunState_RUN_STATE_UNSPECIFIED
}

// parseRunStates reads "failed,running" (any case, with or without the
// RUN_STATE_ prefix).
func parseRunStates(list []string) ([]nsv1.RunState, error) {
	return parseStates[nsv1.RunState](list, "RUN_STATE_", nsv1.RunState_value, "run", "queued, running, succeeded, failed, cancelled, skipped or missed")
}

// stepGlyphs mark a step's state in compact step lists.
var stepGlyphs = map[nsv1.StepState]string{
	nsv1.StepState_STEP_STATE_PENDING:   "·",
	nsv1.StepState_STEP_STATE_RUNNING:   "…",
	nsv1.StepState_STEP_STATE_SUCCEEDED: "✓",
	nsv1.StepState_STEP_STATE_FAILED:    "✗",
	nsv1.StepState_STEP_STATE_SKIPPED:   "–",
	nsv1.StepState_STEP_STATE_REUSED:    "↺",
}

// stepsSummary lists steps with their glyphs: "ingest✓ validate✓ train✗ promote– score–".
func stepsSummary(steps []*nsv1.StepRun) string {
	parts := make([]string, 0, len(steps))
	for _, st := range steps {
		g, ok := stepGlyphs[st.GetState()]
		if !ok {
			g = "?"
		}
		parts = append(parts, st.GetName()+g)
	}
	return strings.Join(parts, " ")
}

// zoneOf is the IANA zone a schedule or run names; UTC for "" or a name
// this binary does not know (display only: the coordinator checked it).
func zoneOf(name string) *time.Location {
	loc, err := cron.LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// slotText is a slot in its zone with the UTC time beside it: "2026-12-05
// 02:00 CET (01:00Z)"; the UTC date is added when it differs ("2026-12-05
// 00:30 CET (2026-12-04 23:30Z)"), seconds only when they are not zero. In
// UTC: "2026-12-05 01:00 UTC". "-" for no slot.
func slotText(ms int64, loc *time.Location) string {
	if ms == 0 {
		return "-"
	}
	t := unixMs(ms)
	clock := slotClock(t)
	local, utc := t.In(loc), t.UTC()
	if local.Format("MST") == "UTC" {
		return utc.Format("2006-01-02 " + clock + " UTC")
	}
	s := local.Format("2006-01-02 " + clock + " MST")
	if local.Format(time.DateOnly) == utc.Format(time.DateOnly) {
		return s + utc.Format(" ("+clock+"Z)")
	}
	return s + utc.Format(" (2006-01-02 "+clock+"Z)")
}

// slotClock is the clock layout of a slot: seconds only when not zero
// (cron slots are whole minutes; a manual run's slot is to the second).
func slotClock(t time.Time) string {
	if t.Second() != 0 {
		return "15:04:05"
	}
	return "15:04"
}

// slotLocalText is a slot in its zone with the weekday and the offset, for
// `schedules next`: "Sun 2026-03-29 03:00 CEST +02:00".
func slotLocalText(ms int64, loc *time.Location) string {
	t := unixMs(ms)
	return t.In(loc).Format("Mon 2006-01-02 " + slotClock(t) + " MST -07:00")
}

// instantText is an event time in the zone: "2026-12-05 02:00:07 CET".
func instantText(ms int64, loc *time.Location) string {
	if ms == 0 {
		return "-"
	}
	return unixMs(ms).In(loc).Format("2006-01-02 15:04:05 MST")
}

// timeArgHelp says which times the time flags take.
const timeArgHelp = "RFC 3339 (2026-11-01T02:00:00+01:00), a date (2026-11-01) or a wall time (2026-11-01T02:00) in the schedule's time zone"

// parseTimeArg reads a time flag: RFC 3339 (with its offset), a date
// (midnight in loc; with endOfDay the last millisecond of that day in loc,
// so a date as the end of a range takes in the whole day) or a wall time
// "2006-01-02T15:04[:05]" in loc.
func parseTimeArg(flag, s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if endOfDay {
			return d.AddDate(0, 0, 1).Add(-time.Millisecond), nil
		}
		return d, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want %s", flag, s, timeArgHelp)
}

// continuedLines lets a multi-line value continue in writeKV's value
// column.
func continuedLines(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n\t")
}

// truncateText cuts s to n runes, marking the cut with "…".
func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// joinNonEmpty joins the parts that are not empty.
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// parenthesised is "(prefix s)", or "" for an empty s.
func parenthesised(prefix, s string) string {
	if s == "" {
		return ""
	}
	return "(" + prefix + s + ")"
}

// orDefault is v, or def when v is 0 (the proto's "0 = default").
func orDefault[N int32 | int64](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// orText is s, or def when s is empty.
func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// shortDur drops zero tails of a duration: 24h, 1h30m, 30s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
