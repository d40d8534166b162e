package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/proto/cron"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

// The demo's last step: a nightly pipeline over simulated nights. The demo
// writes a dated partition of raw events per night into its lake, stores
// the schedule churn-nightly (from a schedule file, as users do), backfills
// the nights and prints what each did. The schedule stays in the cluster's
// state, which `nightshift dev` can go on running.

const (
	demoSchedule     = "churn-nightly"
	demoScheduleZone = "Europe/Berlin"
	demoScheduleCron = "0 2 * * *"
	// demoNoisyNight (0-based) is the night whose labels are partly
	// flipped, a broken upstream join: its model must not reach production.
	demoNoisyNight = 1
	demoLabelNoise = 0.3
	// demoShiftedNight (0-based) is the night whose data is shifted
	// (sample.DefaultShift: a column moved, a region renamed, nulls): the
	// validate step must stop it before anything trains on it.
	demoShiftedNight = 2
	// demoNightlyTimeout bounds the wait for the backfilled runs.
	demoNightlyTimeout = 10 * time.Minute
	// demoRunPollEvery is how often the demo asks for the runs.
	demoRunPollEvery = 250 * time.Millisecond
	// demoScheduleInterval is how often the demo's leader moves pipeline
	// runs on (coordinator.Config.ScheduleInterval; 1 s by default).
	demoScheduleInterval = 200 * time.Millisecond
)

// nightlySummary is the nightly part of the demo's -o json output.
type nightlySummary struct {
	Schedule string         `json:"schedule"`
	File     string         `json:"file"`
	Nights   []nightSummary `json:"nights"`
	Seconds  float64        `json:"seconds"`
	NextSlot string         `json:"next_slot,omitempty"`
	// Continue is the command that keeps running the schedule on the
	// demo's cluster state and store.
	Continue string `json:"continue"`
}

// nightSummary is one simulated night: its partition and its run.
type nightSummary struct {
	Date       string  `json:"date"`
	Partition  string  `json:"partition"`
	Rows       int64   `json:"rows"`
	LabelNoise float64 `json:"label_noise,omitempty"`
	Shift      string  `json:"shift,omitempty"`
	Run        string  `json:"run"`
	State      string  `json:"state"`
	Reason     string  `json:"reason,omitempty"`
	Model      string  `json:"model,omitempty"`
	Promoted   bool    `json:"promoted"`
	Promotion  string  `json:"promotion,omitempty"`
	Scored     string  `json:"scored,omitempty"`
	Output     string  `json:"output,omitempty"`
}

// demoNightly is what the nightly part needs from the rest of the demo.
type demoNightly struct {
	root, base string
	st         storage.Config
	client     *apiClient
	spec       sample.Spec // the demo's dataset
	members    int32
	nights     int
	rows       int // per night
	now        time.Time
	progress   io.Writer // nil: quiet (-o json)
}

// rowsPerNight is the rows of each simulated night: --night-rows, or a tenth
// of the demo's dataset (20,000 for the default demo), at least 1,000 so
// that a night's holdout can tell models apart.
func (f *demoFlags) rowsPerNight() int {
	if f.nightRows > 0 {
		return f.nightRows
	}
	return max(1000, f.files*f.rows/10)
}

// demoNights are the last n slots of the schedule's cron (02:00 Berlin
// time) at least a minute before now: a backfill takes only past slots.
// They are the slots cron gives, so that a slot moved by a DST change
// is the one the backfill claims.
func demoNights(now time.Time, n int) ([]time.Time, error) {
	cs, err := cron.Parse(demoScheduleCron, demoScheduleZone)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for t := range cs.Slots(now.AddDate(0, 0, -n-2), now.Add(-time.Minute)) {
		out = append(out, t.In(cs.Location()))
	}
	if len(out) < n {
		return nil, fmt.Errorf("nightly: %q in %s has %d slots in the %d days before %s, want %d", demoScheduleCron, demoScheduleZone, len(out), n+2, now, n)
	}
	return out[len(out)-n:], nil
}

// run writes the partitions, stores the schedule, backfills the nights and
// waits for their runs.
func (d *demoNightly) run(ctx context.Context) (*nightlySummary, error) {
	t0 := time.Now()
	loc, err := cron.LoadZone(demoScheduleZone)
	if err != nil {
		return nil, err
	}
	nights, err := demoNights(d.now, d.nights)
	if err != nil {
		return nil, err
	}
	sum := &nightlySummary{Schedule: demoSchedule, File: filepath.Join(d.root, "nightly.yaml")}
	for i, night := range nights {
		n, err := d.writePartition(ctx, i, night)
		if err != nil {
			return nil, fmt.Errorf("nightly: writing the partition of %s: %w", night.Format(time.DateOnly), err)
		}
		sum.Nights = append(sum.Nights, n)
		noise := ""
		if n.LabelNoise > 0 {
			noise = fmt.Sprintf(", %.0f%% of its labels flipped (a broken upstream join)", 100*n.LabelNoise)
		}
		if n.Shift != "" {
			noise = ", shifted: " + n.Shift
		}
		d.say("   night %s: %d rows -> %s%s\n", n.Date, n.Rows, n.Partition, noise)
	}

	// The schedule goes through the file format users write, and the
	// file stays for them: nightshift schedules add -f FILE.
	if err := os.WriteFile(sum.File, []byte(d.scheduleYAML()), 0o644); err != nil {
		return nil, err
	}
	spec, err := loadScheduleFile(sum.File)
	if err != nil {
		return nil, fmt.Errorf("nightly: the demo's schedule file: %w", err)
	}
	sc := nsv1.NewScheduleServiceClient(d.client.conn)
	cctx, cancel := d.client.call(ctx)
	_, err = sc.PutSchedule(cctx, &nsv1.PutScheduleRequest{Spec: spec, RequestId: randomID("req-")})
	cancel()
	if err != nil {
		return nil, d.client.apiError(err, scheduleWhat(spec.GetName()))
	}
	d.say("   schedule %s (%s, %q in %s) stored from %s\n", spec.GetName(), pipelineSteps(spec.GetPipeline()), spec.GetCron(), spec.GetTimeZone(), sum.File)

	first, last := nights[0], nights[len(nights)-1]
	from := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc)
	to := last.Add(30 * time.Second)
	cctx, cancel = d.client.call(ctx)
	bf, err := sc.Backfill(cctx, &nsv1.BackfillRequest{Name: spec.GetName(), FromUnixMs: from.UnixMilli(), ToUnixMs: to.UnixMilli(), RequestId: randomID("req-")})
	cancel()
	if err != nil {
		return nil, d.client.apiError(err, scheduleWhat(spec.GetName()))
	}
	if len(bf.GetSlots()) != len(nights) {
		return nil, fmt.Errorf("nightly: the backfill from %s to %s planned %d slots, want %d", from, to, len(bf.GetSlots()), len(nights))
	}
	d.say("   backfill %s --from %s --to %s: %s\n\n", spec.GetName(), from.Format(time.RFC3339), to.Format(time.RFC3339),
		backfillSummary(len(bf.GetSlots()), backfillCounts(bf.GetSlots()), false))

	runs, err := d.waitRuns(ctx, spec.GetName(), len(nights))
	if err != nil {
		return nil, err
	}
	for i, r := range runs {
		sum.Nights[i].fill(r)
	}
	sum.Seconds = time.Since(t0).Seconds()
	sum.Continue = demoDevCommand(d.root)
	cctx, cancel = d.client.call(ctx)
	if got, err := sc.GetSchedule(cctx, &nsv1.GetScheduleRequest{Name: spec.GetName()}); err == nil && len(got.GetNextUnixMs()) > 0 {
		sum.NextSlot = slotText(got.GetNextUnixMs()[0], loc)
	}
	cancel()
	if d.progress != nil {
		fmt.Fprintln(d.progress)
		if err := writeRunList(d.progress, runs, ""); err != nil {
			return nil, err
		}
		fmt.Fprintln(d.progress)
		writeNightLines(d.progress, sum.Nights)
	}
	return sum, nil
}

func (d *demoNightly) say(format string, args ...any) {
	if d.progress != nil {
		fmt.Fprintf(d.progress, format, args...)
	}
}

// writePartition writes night i's raw events, CSV files like the demo's
// sample, under lake/events/DATE/: rows of the same generating model (the
// same seed) that follow the demo's dataset and each other's, so no row
// repeats. The noisy night flips a share of its labels.
func (d *demoNightly) writePartition(ctx context.Context, i int, night time.Time) (nightSummary, error) {
	const files = 2
	date := night.Format(time.DateOnly) // night is in the schedule's zone
	n := nightSummary{Date: date, Partition: d.base + "/lake/events/" + date + "/"}
	spec := d.spec
	spec.Files, spec.RowsPerFile, spec.Format = files, max(1, d.rows/files), "csv"
	// File f of spec holds rows [f*RowsPerFile, (f+1)*RowsPerFile).
	firstFile := (d.spec.Files*d.spec.RowsPerFile+spec.RowsPerFile-1)/spec.RowsPerFile + i*files
	if i == demoNoisyNight {
		n.LabelNoise = demoLabelNoise
	}
	if i == demoShiftedNight {
		n.Shift = sample.DefaultShift.String()
	}
	b, key, err := storage.Open(ctx, n.Partition, d.st)
	if err != nil {
		return n, err
	}
	for f := range files {
		var buf bytes.Buffer
		if err := sample.Encode(ctx, &buf, spec, firstFile+f); err != nil {
			return n, err
		}
		data := buf.Bytes()
		if n.LabelNoise > 0 {
			flipLabels(data, n.LabelNoise, rand.New(rand.NewPCG(d.spec.Seed, uint64(firstFile+f))))
		}
		if n.Shift != "" {
			if data, err = sample.DefaultShift.ApplyCSV(data, rand.New(rand.NewPCG(d.spec.Seed, uint64(firstFile+f)))); err != nil {
				return n, err
			}
		}
		w := storage.NewWriter(ctx, b, storage.JoinKey(key, fmt.Sprintf("part-%04d.csv", f)), storage.PutOptions{ContentType: "text/csv"})
		w.Write(data)
		if _, err := w.Close(); err != nil {
			return n, err
		}
		n.Rows += int64(spec.RowsPerFile)
	}
	return n, nil
}

// flipLabels flips the 0/1 label, the last column of the sample's CSV
// lines, of a share of the rows (the header is left alone), in place.
func flipLabels(csv []byte, share float64, r *rand.Rand) int {
	flipped := 0
	for i, line := range bytes.SplitAfter(csv, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if i == 0 || len(line) < 2 || line[len(line)-2] != ',' || r.Float64() >= share {
			continue
		}
		switch line[len(line)-1] {
		case '0':
			line[len(line)-1] = '1'
		case '1':
			line[len(line)-1] = '0'
		default:
			continue
		}
		flipped++
	}
	return flipped
}

// scheduleYAML is the demo's schedule file: every night at 02:00 Berlin
// time, ingest that night's partition, validate it, train the demo's
// model on it (demoTrainSpec: the same family, columns, registry name and
// promotion policy, so each night's version is compared with the
// production version the demo registered), promote it if it beats
// production, and score the night with whichever version is then
// production.
func (d *demoNightly) scheduleYAML() string {
	const day = `{{ .Slot.Format "2006-01-02" }}`
	tr := demoTrainSpec(d.spec, "", d.base+"/models", d.members)
	// A night holds a fraction of the demo's rows: as many epochs more
	// (up to 30) keep the optimizer's steps near the demo's.
	epochs := min(30, max(tr.GetEpochs(), tr.GetEpochs()*int32(d.spec.Files*d.spec.RowsPerFile/max(1, d.rows))))
	var b strings.Builder
	fmt.Fprintf(&b, `# The nightly pipeline of nightshift demo (written by the demo; every
# field is explained in deploy/examples/nightly.yaml). At 02:00 Berlin
# time: ingest that night's partition of the lake, check it, train the
# demo's %[1]s model on it, promote the new version if its holdout %[2]s
# beats production's by %[3]g, and score the night with whichever version
# is then in production.
#
#   nightshift schedules add -f nightly.yaml     # on another cluster over this store
#   nightshift schedules backfill %[4]s --from DATE --to DATE
name: %[4]s
cron: %[5]q
time_zone: %[6]s
description: the demo's nightly churn retraining
policy:
  catchup: latest        # after downtime, run the newest missed night only
  catchup_window: 24h
  overlap: skip
  pause_after_failures: 3
pipeline:
  step_tries: 2
  step_backoff: 10s
  ingest:
    sources:
      - %[7]s
    output: %[8]s
    options: {label: %[9]s, rows_per_shard: %[10]d}
  validate:              # contract and drift against %[1]s@production's training data
    min_rows: %[11]d
    required_columns: [id]
    ignore_columns: [id]  # new ids every night by design
    min_rows_ratio: 0.05  # a night holds a tenth of the rows production trained on
  train:                 # the demo's training job, on the night's dataset
    model_name: %[1]s
    output: %[12]s
    label: %[9]s
    features:
`, tr.GetModelName(), tr.GetPromotion().GetMetric(), tr.GetPromotion().GetMargin(), demoSchedule, demoScheduleCron, demoScheduleZone,
		yamlQuote(d.base+"/lake/events/"+day+"/"), yamlQuote(d.base+"/datasets/nightly/"+day),
		tr.GetLabel(), max(1, d.rows/2), min(1000, max(1, d.rows/2)), yamlQuote(tr.GetOutput()))
	for _, f := range tr.GetFeatures() {
		if f.GetBuckets() > 0 {
			fmt.Fprintf(&b, "      - {column: %s, kind: %s, buckets: %d}\n", f.GetColumn(), f.GetKind(), f.GetBuckets())
		} else {
			fmt.Fprintf(&b, "      - {column: %s, kind: %s}\n", f.GetColumn(), f.GetKind())
		}
	}
	fmt.Fprintf(&b, `    model: {family: %s, l2: %g}
    optimizer: {name: %s, lr: %g}
    epochs: %d
    batch_per_member: %d
    members: {min: %d, max: %d}
    seed: %d
    holdout: %g
    checkpoint: {every_steps: %d}
    promotion: {metric: %s, margin: %g}
    evaluation: {slices: [%s]}
  score:                 # model: %s@production after the promote step; input: the night's dataset
    output: %s
    passthrough: [id, %s]
`, tr.GetModel().GetFamily(), tr.GetModel().GetL2(), tr.GetOptimizer().GetName(), tr.GetOptimizer().GetLr(), epochs,
		tr.GetBatchPerMember(), tr.GetMinMembers(), tr.GetMaxMembers(), tr.GetSeed(), tr.GetHoldout(), tr.GetCheckpointEverySteps(),
		tr.GetPromotion().GetMetric(), tr.GetPromotion().GetMargin(), strings.Join(tr.GetEvaluation().GetSlices(), ", "),
		tr.GetModelName(), yamlQuote(d.base+"/scored/nightly/"+day), tr.GetLabel())
	return b.String()
}

// yamlQuote is s as a single-quoted YAML scalar.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// shellWord is s quoted for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pipelineSteps is "ingest → validate → train → promote → score".
func pipelineSteps(p *nsv1.PipelineSpec) string { return strings.Join(pipelineStepNames(p), " → ") }

func backfillCounts(slots []*nsv1.BackfillSlot) map[string]int {
	counts := map[string]int{}
	for _, s := range slots {
		counts[s.GetAction()]++
	}
	return counts
}

// waitRuns polls the schedule's runs until want of them exist and all are
// over, printing a line whenever one changes, and returns them by slot.
func (d *demoNightly) waitRuns(ctx context.Context, schedule string, want int) ([]*nsv1.PipelineRun, error) {
	ctx, cancel := context.WithTimeout(ctx, demoNightlyTimeout)
	defer cancel()
	sc := nsv1.NewScheduleServiceClient(d.client.conn)
	last := map[string]string{}
	for {
		cctx, ccancel := d.client.call(ctx)
		resp, err := sc.ListRuns(cctx, &nsv1.ListRunsRequest{Schedule: schedule, Limit: int32(max(50, want))})
		ccancel()
		if err != nil && (ctx.Err() != nil || !retryable(err)) {
			return nil, d.client.apiError(err, scheduleWhat(schedule))
		}
		runs := slices.Clone(resp.GetRuns())
		slices.SortFunc(runs, func(a, b *nsv1.PipelineRun) int { return compareInt(a.GetSlotUnixMs(), b.GetSlotUnixMs()) })
		over := len(runs) >= want
		for _, r := range runs {
			// A line when a step ends or the run's state changes, not
			// when a step starts: the table below has the rest.
			line := runProgressLine(r)
			if key := strings.ReplaceAll(line, stepGlyphs[nsv1.StepState_STEP_STATE_RUNNING], stepGlyphs[nsv1.StepState_STEP_STATE_PENDING]); key != last[r.GetId()] {
				d.say("%s  %s\n", time.Now().Format("15:04:05"), line)
				last[r.GetId()] = key
			}
			over = over && runIsOver(r.GetState())
		}
		if over {
			return runs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nightly: the runs of %s did not end within %s", schedule, demoNightlyTimeout)
		case <-time.After(demoRunPollEvery):
		}
	}
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fill records what the night's run did.
func (n *nightSummary) fill(r *nsv1.PipelineRun) {
	n.Run, n.State, n.Reason = r.GetId(), runStateWord(r.GetState()), firstLine(r.GetReason())
	if r.GetModelVersion() > 0 {
		n.Model = fmt.Sprintf("%s@v%d", r.GetModelName(), r.GetModelVersion())
	}
	n.Promoted, n.Promotion, n.Output = r.GetPromoted(), r.GetPromotionReason(), r.GetOutputUri()
	for _, st := range r.GetSteps() {
		if st.GetName() == "score" && (st.GetState() == nsv1.StepState_STEP_STATE_SUCCEEDED || st.GetState() == nsv1.StepState_STEP_STATE_REUSED) {
			n.Scored = st.GetDetail()
		}
	}
}

// writeNightLines prints a line per night: promoted or not and why, and
// what it scored with where.
func writeNightLines(w io.Writer, nights []nightSummary) {
	for _, n := range nights {
		noise := ""
		if n.LabelNoise > 0 {
			noise = fmt.Sprintf(" (%.0f%% of its labels flipped)", 100*n.LabelNoise)
		}
		if n.Shift != "" {
			noise = " (shifted: " + n.Shift + ")"
		}
		switch {
		case n.State != runStateWord(nsv1.RunState_RUN_STATE_SUCCEEDED) && n.Model == "":
			fmt.Fprintf(w, "  %s  %-12s  %s%s\n", n.Date, n.State, orText(n.Reason, "no reason recorded"), noise)
		case n.Promoted:
			fmt.Fprintf(w, "  %s  %-12s  %s%s: %s\n", n.Date, "promoted", n.Model, noise, n.Promotion)
		default:
			fmt.Fprintf(w, "  %s  %-12s  %s%s: %s\n", n.Date, "not promoted", n.Model, noise, orText(n.Promotion, n.Reason))
		}
		if n.Output != "" {
			fmt.Fprintf(w, "  %s  %-12s  %s -> %s\n", strings.Repeat(" ", len(n.Date)), "scored", orText(n.Scored, "-"), n.Output)
		} else if n.State != runStateWord(nsv1.RunState_RUN_STATE_SUCCEEDED) && n.Model != "" {
			fmt.Fprintf(w, "  %s  %-12s  run %s: %s\n", strings.Repeat(" ", len(n.Date)), n.State, n.Run, orText(n.Reason, "-"))
		}
	}
}
