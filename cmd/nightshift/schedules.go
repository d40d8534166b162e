package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/cron"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// scheduleEventsShown is how many of a schedule's latest events `schedules
// get` prints.
const scheduleEventsShown = 10

// reprocessWords are BackfillRequest.reprocess's words; the first is the default.
var reprocessWords = []string{"none", "failed", "all"}

func newSchedulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "Run pipelines on cron schedules: add, list, pause, backfill",
		Long: `schedules manages nightly (or any cron) pipelines. A schedule is stored from
a schedule file (YAML, see schedules add --help): a name, a cron expression
read in an IANA time zone, a policy for missed and overlapping slots, and a
pipeline of steps (ingest, validate, train, promote, score) each slot runs.

Each instant the expression fires at is a slot; the leader claims every
slot once, whichever coordinator leads, and starts its run (see nightshift
runs --help). Time rules: a wall time in a spring-forward gap (02:30 on the
night clocks go forward) does not exist, so its slot is the first instant
after the gap, and runs once; a wall time in the repeated fall-back hour
exists twice and runs once, at its first occurrence. schedules next shows
the slots an expression yields before you store it.

Slot times are printed in the schedule's time zone with the UTC time
beside them: "2026-12-05 02:00 CET (01:00Z)".

With -o json every subcommand prints the API's message in the proto3 JSON
mapping with the .proto field names; 64-bit integers (times in ms since the
epoch, UTC) are JSON strings.`,
		Example: `  nightshift schedules add -f churn-nightly.yaml
  nightshift schedules list
  nightshift schedules next --cron "30 2 * * *" --zone Europe/Berlin --after 2026-03-27 -n 4
  nightshift schedules pause churn-nightly --reason "source migration"
  nightshift schedules backfill churn-nightly --from 2026-11-01 --to 2026-11-07 --dry-run`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSchedulesListCmd(), newSchedulesGetCmd(), newSchedulesAddCmd(), newSchedulesPauseCmd(true),
		newSchedulesPauseCmd(false), newSchedulesDeleteCmd(), newSchedulesRunCmd(), newSchedulesBackfillCmd(), newSchedulesNextCmd())
	return cmd
}

func newSchedulesListCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List schedules with their next slot and latest run",
		Long: `list prints every schedule by name: its cron expression and time zone, whether
it is active or paused (and why), its next slot (in its zone and UTC; "-"
while paused), its latest run (ID and state; one ListRuns call per
schedule) and its failed runs in a row out of the number that pauses it.
-o json prints ListSchedulesResponse: {"schedules": [...], "next_unix_ms":
[...]} (next_unix_ms[i] is schedules[i]'s next slot, "0" when paused; the
latest runs are not looked up).`,
		Example: `  nightshift schedules list
  nightshift schedules list -o json | jq -r '.schedules[] | select(.paused) | .spec.name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).ListSchedules(cctx, &nsv1.ListSchedulesRequest{Stale: stale})
				if err != nil {
					return c.apiError(err, "")
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				last := latestRuns(ctx, c, resp.GetSchedules(), stale)
				return writeScheduleList(cmd.OutOrStdout(), resp.GetSchedules(), resp.GetNextUnixMs(), last)
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newSchedulesGetCmd() *cobra.Command {
	var (
		cf    clientFlags
		out   outputFormat
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a schedule: its spec, pipeline, state, next slots and events",
		Long: fmt.Sprintf(`get prints a schedule: its cron expression and time zone, its policy (what
happens to missed slots and within which window, to a slot that comes
while the previous run still runs, and after how many failed runs in a row
it pauses itself), its pipeline step by step (ingest sources and dataset,
validate checks, the model train registers and how it is promoted, what
score reads and writes; templated fields as written), whether it is paused
and why, its cursor (every slot up to it has been decided), its next 5
slots and its latest %d events. -o json prints GetScheduleResponse:
{"schedule": {...}, "next_unix_ms": [...]} with every event kept.`, scheduleEventsShown),
		Example: `  nightshift schedules get churn-nightly
  nightshift schedules get churn-nightly -o json | jq '.schedule.spec.policy'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).GetSchedule(cctx, &nsv1.GetScheduleRequest{Name: args[0], Stale: stale})
				if err != nil {
					return c.apiError(err, scheduleWhat(args[0]))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeSchedule(cmd.OutOrStdout(), resp.GetSchedule(), resp.GetNextUnixMs())
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	return cmd
}

func newSchedulesAddCmd() *cobra.Command {
	var (
		cf              clientFlags
		out             outputFormat
		file            string
		update, replace bool
	)
	cmd := &cobra.Command{
		Use:   "add -f FILE",
		Short: "Create a schedule from a schedule file, or update one",
		Long: `add reads a schedule file and stores the schedule. The file (YAML; an unknown
field is an error, and every error names the file, the line and the field;
deploy/examples/nightly.yaml is a full one) holds: name, cron (5 fields, or
@daily, @hourly, ...), time_zone (IANA, e.g. Europe/Berlin; default UTC),
description, policy (catchup: latest | none | all, catchup_window: 24h,
overlap: skip | buffer_one | buffer_all | cancel_other,
pause_after_failures) and pipeline (pool, max_attempts, step_tries,
step_backoff: 30s, and the steps ingest {sources, output, options},
validate {min_rows, required_columns}, train (a training job file's
fields, less the dataset) and score {model, input, output, format,
passthrough, bad_rows}). Templated fields (ingest sources and output, train
output, score input and output) render the slot in the schedule's zone,
e.g. {{ .Slot.Format "2006-01-02" }}, and {{ .Run }}, {{ .Schedule }}.

Without a flag add only creates: it fails if the name exists. --update only
replaces an existing schedule's spec (its cursor, pause and history stay);
--replace does either. A new schedule's first slot is its first after now:
earlier slots are not missed. Runs already claimed keep the pipeline they
were claimed with.

It prints "schedule NAME created" (or updated) and the next slot. -o json
prints PutScheduleResponse: {"schedule": {...}, "created": true}.`,
		Example: `  nightshift schedules add -f churn-nightly.yaml
  nightshift schedules add -f churn-nightly.yaml --update`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := putScheduleRequest(file, update, replace)
			if err != nil {
				return err
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).PutSchedule(cctx, req)
				if err != nil {
					return c.apiError(err, scheduleWhat(req.GetSpec().GetName()))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				verb := "updated"
				if resp.GetCreated() {
					verb = "created"
				}
				s := resp.GetSchedule()
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s %s; %s\n", s.GetSpec().GetName(), verb, nextSlotNote(ctx, c, s))
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "schedule file (YAML)")
	cmd.Flags().BoolVar(&update, "update", false, "only update an existing schedule")
	cmd.Flags().BoolVar(&replace, "replace", false, "create the schedule or update it, whichever applies")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// putScheduleRequest reads the file and sets create_only / update_only
// from the flags.
func putScheduleRequest(file string, update, replace bool) (*nsv1.PutScheduleRequest, error) {
	if file == "" {
		return nil, errors.New("give the schedule file with -f FILE")
	}
	if update && replace {
		return nil, errors.New("give --update or --replace, not both")
	}
	spec, err := loadScheduleFile(file)
	if err != nil {
		return nil, err
	}
	return &nsv1.PutScheduleRequest{Spec: spec, CreateOnly: !update && !replace, UpdateOnly: update, RequestId: randomID("req-")}, nil
}

// newSchedulesPauseCmd is `schedules pause` (pause) or `schedules resume`.
func newSchedulesPauseCmd(pause bool) *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		reason string
	)
	cmd := &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a schedule: its slots are skipped until it resumes",
		Long: `pause stops a schedule from starting runs; a run that is running goes on.
Slots that pass while it is paused are recorded as skipped ("paused") when
it resumes, never run late (backfill runs them if they are wanted). A
schedule also pauses itself after policy.pause_after_failures failed runs
in a row. -o json prints PauseScheduleResponse: {"schedule": {...}}.`,
		Example: `  nightshift schedules pause churn-nightly --reason "source migration until Monday"`,
		Args:    cobra.ExactArgs(1),
	}
	if !pause {
		cmd.Use, cmd.Short = "resume NAME", "Resume a paused schedule from its next slot"
		cmd.Long = `resume lets a paused schedule start runs again from its next slot; the
slots that passed while it was paused are recorded as skipped ("paused").
Its count of failed runs in a row starts again at 0. It prints the next
slot. -o json prints PauseScheduleResponse: {"schedule": {...}}.`
		cmd.Example = `  nightshift schedules resume churn-nightly`
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
			cctx, cancel := c.call(ctx)
			defer cancel()
			resp, err := nsv1.NewScheduleServiceClient(c.conn).PauseSchedule(cctx, &nsv1.PauseScheduleRequest{
				Name: args[0], Paused: pause, Reason: reason, RequestId: randomID("req-")})
			if err != nil {
				return c.apiError(err, scheduleWhat(args[0]))
			}
			if out == outputJSON {
				return writeProto(cmd.OutOrStdout(), resp)
			}
			s := resp.GetSchedule()
			if pause {
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s %s\n", s.GetSpec().GetName(), scheduleStateText(s))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s resumed; %s\n", s.GetSpec().GetName(), nextSlotNote(ctx, c, s))
			}
			return nil
		})
	}
	if pause {
		cmd.Flags().StringVar(&reason, "reason", "", "why, shown in listings and the schedule's events")
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newSchedulesDeleteCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schedule; no slot of it is claimed afterwards",
		Long: `delete removes a schedule: none of its slots is claimed after the delete.
Runs it already claimed are not cancelled by it (runs cancel does that).
-o json prints DeleteScheduleResponse: {}.`,
		Example: `  nightshift schedules delete churn-nightly`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).DeleteSchedule(cctx, &nsv1.DeleteScheduleRequest{
					Name: args[0], RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, scheduleWhat(args[0]))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s deleted\n", args[0])
				return nil
			})
		},
	}
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

func newSchedulesRunCmd() *cobra.Command {
	var (
		cf   clientFlags
		out  outputFormat
		wait bool
	)
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a schedule's pipeline now, outside its slots",
		Long: `run starts a run of the schedule's pipeline now (trigger manual): its slot is
now, to the second, and its ID the slot key NAME@RFC3339-UTC. It runs even
while the schedule is paused, and follows the overlap policy like any
slot. It prints the run ID; --wait follows the run until it is over (one
line per change of its steps), prints it, and exits non-zero unless it
succeeded. -o json prints RunScheduleResponse: {"run": {...}}, with --wait
the run as it ended.`,
		Example: `  nightshift schedules run churn-nightly
  nightshift schedules run churn-nightly --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).RunSchedule(cctx, &nsv1.RunScheduleRequest{
					Name: args[0], RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, scheduleWhat(args[0]))
				}
				return reportStartedRun(ctx, cmd, c, out, wait, resp.GetRun(), func(r *nsv1.PipelineRun) error {
					return writeProto(cmd.OutOrStdout(), &nsv1.RunScheduleResponse{Run: r})
				})
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run until it is over; exit non-zero unless it succeeded")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// backfillFlags are the flags of `schedules backfill`.
type backfillFlags struct {
	from, to  string
	reprocess string
	dryRun    bool
}

// check validates the flags before anything is asked of the coordinator:
// the reprocess word, both times (read in UTC here; the schedule's zone
// applies later) and their order.
func (f *backfillFlags) check() error {
	f.reprocess = strings.ToLower(strings.TrimSpace(f.reprocess))
	if f.reprocess == "" {
		f.reprocess = reprocessWords[0]
	}
	if !slices.Contains(reprocessWords, f.reprocess) {
		return fmt.Errorf("--reprocess %q: want none, failed or all", f.reprocess)
	}
	if f.from == "" || f.to == "" {
		return errors.New("give the range with --from and --to")
	}
	_, _, err := f.window(time.UTC)
	return err
}

// window is the range [from, to] with dates and wall times read in loc (a
// date as --to takes in its whole day).
func (f *backfillFlags) window(loc *time.Location) (time.Time, time.Time, error) {
	from, err := parseTimeArg("--from", f.from, loc, false)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, err := parseTimeArg("--to", f.to, loc, true)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if from.After(to) {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %s is after --to %s", f.from, f.to)
	}
	return from, to, nil
}

func newSchedulesBackfillCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
		f   backfillFlags
	)
	cmd := &cobra.Command{
		Use:   "backfill NAME --from T --to T",
		Short: "Run a schedule's past slots in a range",
		Long: `backfill runs the schedule's slots in [--from, --to] (both inclusive; trigger
backfill), each with its own slot rendered into the pipeline's templates.
Times are RFC 3339 (2026-11-01T02:00:00+01:00), a date (2026-11-01) or a
wall time (2026-11-01T02:00); dates and wall times are read in the
schedule's time zone. A date as --to takes in its whole day, so --from
2026-11-01 --to 2026-11-07 is every slot dated 1 to 7 November in the
schedule's zone.

A slot that already has a run is left alone (keep) unless --reprocess says
otherwise: failed reruns the slots whose latest run did not succeed, all
reruns every slot; a rerun's ID is the slot key with #N. --dry-run only
shows what would happen. It prints one line per slot: SLOT, ACTION (start,
rerun or keep), RUN (the run started, or the one that stands) and REASON.
-o json prints BackfillResponse: {"slots": [{"slot_unix_ms": ..., "action":
..., "run_id": ..., "reason": ...}]}.`,
		Example: `  nightshift schedules backfill churn-nightly --from 2026-11-01 --to 2026-11-07 --dry-run
  nightshift schedules backfill churn-nightly --from 2026-11-01 --to 2026-11-07 --reprocess failed
  nightshift schedules backfill churn-nightly --from 2026-11-03T02:00:00+01:00 --to 2026-11-03T02:00:00+01:00 --reprocess all`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				loc, err := scheduleZone(ctx, c, args[0])
				if err != nil {
					return err
				}
				from, to, err := f.window(loc)
				if err != nil {
					return err
				}
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).Backfill(cctx, &nsv1.BackfillRequest{Name: args[0],
					FromUnixMs: from.UnixMilli(), ToUnixMs: to.UnixMilli(), Reprocess: f.reprocess, DryRun: f.dryRun, RequestId: randomID("req-")})
				if err != nil {
					return c.apiError(err, scheduleWhat(args[0]))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeBackfill(cmd.OutOrStdout(), resp.GetSlots(), loc, f.dryRun)
			})
		},
	}
	cmd.Flags().StringVar(&f.from, "from", "", "first instant of the range: "+timeArgHelp)
	cmd.Flags().StringVar(&f.to, "to", "", "last instant of the range (a date: its whole day)")
	cmd.Flags().StringVar(&f.reprocess, "reprocess", "none", "slots that already have a run: none (keep them), failed (rerun those whose latest run did not succeed), all")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "show what would run; start nothing")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// nextFlags are the flags of `schedules next`.
type nextFlags struct {
	count      int32
	cron, zone string
	after      string
}

// check validates `schedules next`'s arguments: a stored schedule's NAME,
// or --cron (with an optional --zone) to preview one.
func (f *nextFlags) check(args []string) error {
	switch {
	case len(args) == 1 && f.cron != "":
		return errors.New("give a schedule NAME or --cron, not both")
	case len(args) == 0 && f.cron == "":
		return errors.New("give a schedule NAME, or --cron EXPR [--zone ZONE] to preview an expression")
	case f.zone != "" && f.cron == "":
		return errors.New("--zone goes with --cron; a stored schedule has its own zone")
	case f.count < 1 || f.count > 1000:
		return fmt.Errorf("-n %d: want 1 to 1000", f.count)
	}
	if f.cron != "" {
		if _, err := cron.Parse(f.cron, f.zone); err != nil {
			return err
		}
	}
	return nil
}

func newSchedulesNextCmd() *cobra.Command {
	var (
		cf  clientFlags
		out outputFormat
		f   nextFlags
	)
	cmd := &cobra.Command{
		Use:   "next [NAME]",
		Short: "Show the next slots of a schedule, or of a cron expression before storing it",
		Long: `next prints the next slots of a stored schedule (NAME), or of --cron EXPR in
--zone ZONE (default UTC) to preview an expression before storing it (a
preview is computed here, without a coordinator): each slot in the zone with its weekday and UTC offset, and in UTC. A NOTE marks
a slot whose offset differs from the slot before it (a daylight saving time
change). The time rules: a wall time in a spring-forward gap runs once at
the end of the gap; one in the repeated fall-back hour runs once, at its
first occurrence.

--after starts the list after that instant (default now): RFC 3339
(2026-03-27T00:00:00+01:00), a date (2026-03-27: its midnight) or a wall
time (2026-03-27T02:00), dates and wall times in the schedule's (or
--zone's) time zone. -o json prints NextSlotsResponse: {"slots_unix_ms":
[...], "time_zone": ...}.`,
		Example: `  nightshift schedules next churn-nightly -n 10
  nightshift schedules next --cron "30 2 * * *" --zone Europe/Berlin --after 2026-03-27 -n 4
  nightshift schedules next --cron @daily -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(args); err != nil {
				return err
			}
			if len(args) == 0 {
				// A preview needs no cluster: the time rules are package cron's.
				resp, err := previewSlots(f.cron, f.zone, f.after, f.count)
				if err != nil {
					return err
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeNextSlots(cmd.OutOrStdout(), resp.GetSlotsUnixMs(), resp.GetTimeZone())
			}
			req := &nsv1.NextSlotsRequest{Name: args[0], Count: f.count}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				if f.after != "" {
					loc, err := nextZone(ctx, c, req)
					if err != nil {
						return err
					}
					t, err := parseTimeArg("--after", f.after, loc, false)
					if err != nil {
						return err
					}
					req.AfterUnixMs = t.UnixMilli()
				}
				cctx, cancel := c.call(ctx)
				defer cancel()
				resp, err := nsv1.NewScheduleServiceClient(c.conn).NextSlots(cctx, req)
				if err != nil {
					return c.apiError(err, scheduleWhat(req.GetName()))
				}
				if out == outputJSON {
					return writeProto(cmd.OutOrStdout(), resp)
				}
				return writeNextSlots(cmd.OutOrStdout(), resp.GetSlotsUnixMs(), resp.GetTimeZone())
			})
		},
	}
	cmd.Flags().Int32VarP(&f.count, "count", "n", 10, "how many slots (1 to 1000)")
	cmd.Flags().StringVar(&f.cron, "cron", "", "preview this cron expression instead of a stored schedule")
	cmd.Flags().StringVar(&f.zone, "zone", "", "IANA time zone of --cron, e.g. Europe/Berlin (default UTC)")
	cmd.Flags().StringVar(&f.after, "after", "", "list slots after this instant (default now)")
	addClientFlags(cmd, &cf)
	addOutputFlag(cmd, &out)
	return cmd
}

// previewSlots lists the next slots of an expression that is not stored,
// as the coordinator's NextSlots would.
func previewSlots(expr, zone, after string, count int32) (*nsv1.NextSlotsResponse, error) {
	cs, err := cron.Parse(expr, zone)
	if err != nil {
		return nil, fmt.Errorf("--cron %q --zone %q: %w", expr, zone, err)
	}
	from := time.Now()
	if after != "" {
		if from, err = parseTimeArg("--after", after, cs.Location(), false); err != nil {
			return nil, err
		}
	}
	resp := &nsv1.NextSlotsResponse{TimeZone: cs.Location().String()}
	for t, ok := cs.Next(from); ok && len(resp.SlotsUnixMs) < int(count); t, ok = cs.Next(t) {
		resp.SlotsUnixMs = append(resp.SlotsUnixMs, t.UnixMilli())
	}
	return resp, nil
}

// nextZone is the zone --after is read in: --zone's, or the stored schedule's.
func nextZone(ctx context.Context, c *apiClient, req *nsv1.NextSlotsRequest) (*time.Location, error) {
	if req.GetName() == "" {
		return cron.LoadZone(req.GetTimeZone())
	}
	return scheduleZone(ctx, c, req.GetName())
}

// scheduleZone looks up a stored schedule's time zone.
func scheduleZone(ctx context.Context, c *apiClient, name string) (*time.Location, error) {
	cctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := nsv1.NewScheduleServiceClient(c.conn).GetSchedule(cctx, &nsv1.GetScheduleRequest{Name: name})
	if err != nil {
		return nil, c.apiError(err, scheduleWhat(name))
	}
	return zoneOf(resp.GetSchedule().GetSpec().GetTimeZone()), nil
}

// nextSlotNote is the tail of add's and resume's answer: "next slot
// 2026-12-05 02:00 CET (01:00Z)", or why there is none. It costs a
// NextSlots call; a failure of it only shows in the note.
func nextSlotNote(ctx context.Context, c *apiClient, s *nsv1.Schedule) string {
	if s.GetPaused() {
		return scheduleStateText(s)
	}
	cctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := nsv1.NewScheduleServiceClient(c.conn).NextSlots(cctx, &nsv1.NextSlotsRequest{Name: s.GetSpec().GetName(), Count: 1})
	if err != nil {
		return "next slot unknown: " + c.apiError(err, "").Error()
	}
	if len(resp.GetSlotsUnixMs()) == 0 {
		return "no next slot"
	}
	return "next slot " + slotText(resp.GetSlotsUnixMs()[0], zoneOf(s.GetSpec().GetTimeZone()))
}

// latestRuns looks up each schedule's latest run (one ListRuns call each)
// for `schedules list`; a schedule whose lookup failed is missing, and the
// lookups stop at the first failure.
func latestRuns(ctx context.Context, c *apiClient, schedules []*nsv1.Schedule, stale bool) map[string]*nsv1.PipelineRun {
	client := nsv1.NewScheduleServiceClient(c.conn)
	last := make(map[string]*nsv1.PipelineRun, len(schedules))
	for _, s := range schedules {
		name := s.GetSpec().GetName()
		cctx, cancel := c.call(ctx)
		resp, err := client.ListRuns(cctx, &nsv1.ListRunsRequest{Schedule: name, Limit: 1, Stale: stale})
		cancel()
		if err != nil {
			return last
		}
		last[name] = nil
		if runs := resp.GetRuns(); len(runs) > 0 {
			last[name] = runs[0]
		}
	}
	return last
}

// scheduleWhat names a schedule in not-found errors ("" for none).
func scheduleWhat(name string) string {
	if name == "" {
		return ""
	}
	return "schedule " + name
}

// --- schedule tables ---

var scheduleListHeader = []string{"NAME", "CRON", "ZONE", "STATE", "NEXT", "LAST RUN", "FAILURES"}

// writeScheduleList prints `schedules list`. next[i] is schedules[i]'s
// next slot; last holds the latest run by schedule name (nil: none), and
// a schedule missing from it shows "?".
func writeScheduleList(w io.Writer, schedules []*nsv1.Schedule, next []int64, last map[string]*nsv1.PipelineRun) error {
	rows := make([][]string, 0, len(schedules))
	for i, s := range schedules {
		var nextMs int64
		if i < len(next) {
			nextMs = next[i]
		}
		rows = append(rows, scheduleRow(s, nextMs, last))
	}
	return writeTable(w, scheduleListHeader, rows)
}

// scheduleRow is a schedule's line in `schedules list`.
func scheduleRow(s *nsv1.Schedule, nextMs int64, last map[string]*nsv1.PipelineRun) []string {
	sp := s.GetSpec()
	lastRun := "?"
	if r, ok := last[sp.GetName()]; ok {
		lastRun = "-"
		if r != nil {
			lastRun = r.GetId() + " " + runStateWord(r.GetState())
		}
	}
	return []string{sp.GetName(), sp.GetCron(), zoneName(sp.GetTimeZone()), truncateText(scheduleStateText(s), runReasonWidth),
		slotText(nextMs, zoneOf(sp.GetTimeZone())), lastRun, failuresText(s)}
}

// scheduleStateText is "active", "paused" or "paused: REASON".
func scheduleStateText(s *nsv1.Schedule) string {
	if !s.GetPaused() {
		return "active"
	}
	return joinNonEmpty(": ", "paused", firstLine(s.GetPauseReason()))
}

// failuresText is the failed runs in a row of the number that pauses the
// schedule: "1/3".
func failuresText(s *nsv1.Schedule) string {
	return fmt.Sprintf("%d/%d", s.GetConsecutiveFailures(), orDefault(s.GetSpec().GetPolicy().GetPauseAfterFailures(), jobspec.DefaultPauseAfterFailures))
}

func zoneName(z string) string {
	if z == "" {
		return "UTC"
	}
	return z
}

// writeSchedule prints `schedules get`: the spec and state, the pipeline,
// the next slots and the latest events.
func writeSchedule(w io.Writer, s *nsv1.Schedule, next []int64) error {
	loc := zoneOf(s.GetSpec().GetTimeZone())
	if err := writeKV(w, scheduleDetail(s, loc)); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nPIPELINE")
	if err := writeKV(w, pipelineDetail(s.GetSpec().GetPipeline())); err != nil {
		return err
	}
	if len(next) > 0 {
		fmt.Fprintln(w, "\nNEXT SLOTS")
		for _, ms := range next {
			fmt.Fprintln(w, slotText(ms, loc))
		}
	}
	ev := s.GetEvents()
	if len(ev) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nEVENTS")
	ev = ev[max(0, len(ev)-scheduleEventsShown):]
	kv := make([][2]string, 0, len(ev))
	for _, e := range ev {
		kv = append(kv, [2]string{instantText(e.GetUnixMs(), loc), e.GetMessage()})
	}
	return writeKV(w, kv)
}

// scheduleDetail is the key/value view of a schedule's spec and state.
func scheduleDetail(s *nsv1.Schedule, loc *time.Location) [][2]string {
	sp, p := s.GetSpec(), s.GetSpec().GetPolicy()
	rows := [][2]string{{"name", sp.GetName()}}
	if d := sp.GetDescription(); d != "" {
		rows = append(rows, [2]string{"description", d})
	}
	return append(rows, [][2]string{
		{"cron", sp.GetCron()},
		{"time zone", zoneName(sp.GetTimeZone())},
		{"catch-up", catchupText(p)},
		{"overlap", overlapText(p.GetOverlap())},
		{"pause after", fmt.Sprintf("%d failed runs in a row", orDefault(p.GetPauseAfterFailures(), jobspec.DefaultPauseAfterFailures))},
		{"state", scheduleStateText(s)},
		{"failures", fmt.Sprintf("%d in a row", s.GetConsecutiveFailures())},
		{"cursor", "every slot up to " + slotText(s.GetCursorUnixMs(), loc) + " is decided"},
		{"created", instantText(s.GetCreateUnixMs(), loc)},
		{"updated", instantText(s.GetUpdateUnixMs(), loc)},
	}...)
}

// catchupText says what happens to missed slots: "latest: the newest
// missed slot of the last 24h runs".
func catchupText(p *nsv1.SchedulePolicy) string {
	window := shortDur(time.Duration(orDefault(p.GetCatchupWindowS(), jobspec.DefaultCatchupWindowS)) * time.Second)
	switch w := dash(p.GetCatchup()); w {
	case "none":
		return "none: missed slots are recorded as missed"
	case "all":
		return "all: every missed slot of the last " + window + " runs, in order"
	case "latest", "-":
		return "latest: the newest missed slot of the last " + window + " runs"
	default:
		return w
	}
}

// overlapText says what happens to a slot that comes while the previous run runs.
func overlapText(word string) string {
	switch word {
	case "skip", "":
		return "skip: a slot that comes while the previous run runs is skipped"
	case "buffer_one":
		return "buffer_one: it waits for the previous run; a newer slot replaces it"
	case "buffer_all":
		return "buffer_all: every such slot waits its turn"
	case "cancel_other":
		return "cancel_other: the running run is cancelled and the new slot runs"
	}
	return word
}

// pipelineDetail is a pipeline step by step, templated fields as written.
func pipelineDetail(p *nsv1.PipelineSpec) [][2]string {
	rows := [][2]string{{"steps", strings.Join(pipelineStepNames(p), " → ")}}
	if in := p.GetIngest(); in != nil {
		rows = append(rows, [2]string{"ingest", strings.Join(in.GetSources(), ", ") + " → " + in.GetOutput()})
	}
	if v := p.GetValidate(); v != nil {
		rows = append(rows, [2]string{"validate", validateText(v)})
	}
	if t := p.GetTrain(); t != nil {
		rows = append(rows, [2]string{"train", fmt.Sprintf("%s (%s) on %s → %s", t.GetModelName(), modelText(t.GetModel()),
			orText(t.GetDataset(), "the ingested dataset"), t.GetOutput())},
			[2]string{"promote", promotionText(t.GetPromotion())})
	}
	if sc := p.GetScore(); sc != nil {
		model := orText(sc.GetModel(), p.GetTrain().GetModelName()+"@production")
		rows = append(rows, [2]string{"score", fmt.Sprintf("%s on %s → %s", model, orText(sc.GetInput(), "the ingested dataset"), sc.GetOutput())})
	}
	attempts := "the coordinator's default"
	if n := p.GetMaxAttempts(); n > 0 {
		attempts = fmt.Sprint(n)
	}
	return append(rows,
		[2]string{"pool", orText(p.GetPool(), "default")},
		[2]string{"retries", fmt.Sprintf("%d tries per step, backoff %s doubling; attempts per task: %s",
			orDefault(p.GetStepTries(), jobspec.DefaultStepTries), shortDur(time.Duration(orDefault(p.GetStepBackoffS(), jobspec.DefaultStepBackoffS))*time.Second), attempts)})
}

// pipelineStepNames lists the steps a pipeline runs, in order.
func pipelineStepNames(p *nsv1.PipelineSpec) []string {
	if names := jobspec.PipelineSteps(p); len(names) > 0 {
		return names
	}
	return []string{"-"}
}

// validateText is the validate step's checks: "at least 1000 rows; columns id, age".
func validateText(v *nsv1.ValidateSpec) string {
	s := fmt.Sprintf("at least %d rows", orDefault(v.GetMinRows(), jobspec.DefaultMinRows))
	if cols := v.GetRequiredColumns(); len(cols) > 0 {
		s += "; columns " + strings.Join(cols, ", ")
	}
	return s
}

// promotionText is the promote step's policy: "by logloss, margin 0.001",
// "manual: registered as candidate only".
func promotionText(p *nsv1.PromotionPolicy) string {
	if p.GetManual() {
		return "manual: registered as candidate only"
	}
	return fmt.Sprintf("by %s, margin %g", orText(p.GetMetric(), "the model's default metric"), p.GetMargin())
}

var nextSlotsHeader = []string{"SLOT", "UTC", "NOTE"}

// writeNextSlots prints `schedules next`: each slot in the zone (with
// weekday and offset) and in UTC, noting offset changes between slots.
func writeNextSlots(w io.Writer, slots []int64, zone string) error {
	loc := zoneOf(zone)
	header := append([]string(nil), nextSlotsHeader...)
	header[0] = fmt.Sprintf("SLOT (%s)", zoneName(zone))
	rows := make([][]string, 0, len(slots))
	for i, ms := range slots {
		note := ""
		if i > 0 {
			note = offsetChange(slots[i-1], ms, loc)
		}
		rows = append(rows, []string{slotLocalText(ms, loc), unixMs(ms).UTC().Format(time.RFC3339), dash(note)})
	}
	return writeTable(w, header, rows)
}

// offsetChange notes a change of the zone's UTC offset between two slots:
// "offset +01:00 → +02:00", or "".
func offsetChange(prevMs, ms int64, loc *time.Location) string {
	a, b := unixMs(prevMs).In(loc).Format("-07:00"), unixMs(ms).In(loc).Format("-07:00")
	if a == b {
		return ""
	}
	return "offset " + a + " → " + b
}

// writeBackfill prints `schedules backfill`: a line per slot and a count
// of the actions.
func writeBackfill(w io.Writer, slots []*nsv1.BackfillSlot, loc *time.Location, dryRun bool) error {
	rows := make([][]string, 0, len(slots))
	counts := map[string]int{}
	for _, s := range slots {
		rows = append(rows, []string{slotText(s.GetSlotUnixMs(), loc), s.GetAction(), dash(s.GetRunId()), dash(firstLine(s.GetReason()))})
		counts[s.GetAction()]++
	}
	if err := writeTable(w, []string{"SLOT", "ACTION", "RUN", "REASON"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, backfillSummary(len(slots), counts, dryRun))
	return nil
}

// backfillSummary is "7 slots: 5 start, 1 rerun, 1 keep" (with "; dry
// run, nothing started").
func backfillSummary(n int, counts map[string]int, dryRun bool) string {
	s := fmt.Sprintf("%d slots: %d start, %d rerun, %d keep", n, counts["start"], counts["rerun"], counts["keep"])
	if dryRun {
		s += "; dry run, nothing started"
	}
	return s
}
