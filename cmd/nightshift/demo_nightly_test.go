package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/shard/sample"
)

// TestDemoNightly runs the whole demo on tiny data: its nightly step
// backfills 4 nights, prints their runs and a line per night (the noisy
// night's model is not promoted, the shifted night stops at validate
// naming its columns), and leaves the schedule file and the command that
// keeps the schedule running.
func TestDemoNightly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and runs 4 pipeline runs")
	}
	dir := t.TempDir()
	t0 := time.Now()
	out, err := run(t, "demo", "--data", dir, "--files", "2", "--rows", "2000", "--night-rows", "2000")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	t.Logf("demo in %s", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(out, "== 6/6 a nightly pipeline") {
		t.Fatalf("no nightly step:\n%s", out)
	}
	_, history, ok := strings.Cut(out, "RUN  ")
	if !ok {
		t.Fatalf("no run history table:\n%s", out)
	}
	runs := regexp.MustCompile(`(?m)^churn-nightly@\S+\s+backfill\s+succeeded\s`).FindAllString(history, -1)
	if len(runs) != 3 {
		t.Fatalf("the history names %d succeeded backfill runs, want 3:\n%s", len(runs), history)
	}
	if failed := regexp.MustCompile(`(?m)^churn-nightly@\S+\s+backfill\s+failed\s.*validate✗ train·`).FindAllString(history, -1); len(failed) != 1 {
		t.Fatalf("the history names %d runs failed at validate, want 1:\n%s", len(failed), history)
	}
	nights := regexp.MustCompile(`(?m)^  (\d{4}-\d\d-\d\d)  (promoted|not promoted)\s+churn@v\d+.*: v\d+ (promoted to production|stays candidate)`).FindAllStringSubmatch(history, -1)
	if len(nights) != 3 {
		t.Fatalf("%d trained night lines, want 3:\n%s", len(nights), history)
	}
	if nights[1][2] != "not promoted" || !strings.Contains(nights[1][0], "labels flipped") {
		t.Errorf("the noisy night: %q", nights[1][0])
	}
	shifted := regexp.MustCompile(`(?m)^  \d{4}-\d\d-\d\d  failed\s+validate failed.*FAIL.*\(shifted: .*\)$`).FindString(history)
	if shifted == "" {
		t.Fatalf("no shifted night stopped at validate:\n%s", history)
	}
	for _, col := range sample.DefaultShift.Columns() {
		if !strings.Contains(shifted, col+" ") {
			t.Errorf("the shifted night's reason does not name %s: %q", col, shifted)
		}
	}
	if n := strings.Count(history, " scored "); n != 3 {
		t.Errorf("%d scored lines, want 3:\n%s", n, history)
	}
	for _, want := range []string{"nightshift dev --data " + filepath.Join(dir, "cluster") + " --file-root " + dir, "nightshift runs list --schedule churn-nightly"} {
		if !strings.Contains(history, want) {
			t.Errorf("the output does not say %q:\n%s", want, history)
		}
	}
	spec, err := loadScheduleFile(filepath.Join(dir, "nightly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.GetName() != demoSchedule || spec.GetTimeZone() != demoScheduleZone || spec.GetCron() != demoScheduleCron {
		t.Errorf("schedule file: %v", spec)
	}
	for _, n := range nights {
		if _, err := os.Stat(filepath.Join(dir, "scored", "nightly", n[1])); err != nil {
			t.Errorf("night %s: %v", n[1], err)
		}
	}
}

// TestDemoScheduleFileIsTheDemoTrainJob: the schedule file's train step is
// the demo's training job (family, columns, model name, policy) but for
// its dataset and epochs.
func TestDemoScheduleFileIsTheDemoTrainJob(t *testing.T) {
	spec := sample.Spec{Files: 8, RowsPerFile: 25000, Features: 8, Seed: 42}
	base := "file:///data/it's here"
	d := &demoNightly{root: "/data/it's here", base: base, spec: spec, members: 2, rows: 20000}
	sp, err := parseScheduleFile("nightly.yaml", []byte(d.scheduleYAML()))
	if err != nil {
		t.Fatal(err)
	}
	got, want := sp.GetPipeline().GetTrain(), demoTrainSpec(spec, "", base+"/models", 2)
	if got.GetModelName() != want.GetModelName() || got.GetLabel() != want.GetLabel() || got.GetOutput() != want.GetOutput() ||
		got.GetModel().GetFamily() != want.GetModel().GetFamily() || got.GetModel().GetL2() != want.GetModel().GetL2() ||
		got.GetOptimizer().GetName() != want.GetOptimizer().GetName() || got.GetOptimizer().GetLr() != want.GetOptimizer().GetLr() ||
		got.GetMinMembers() != 2 || got.GetMaxMembers() != 2 || got.GetSeed() != want.GetSeed() || got.GetHoldout() != want.GetHoldout() ||
		got.GetPromotion().GetMetric() != want.GetPromotion().GetMetric() || got.GetPromotion().GetMargin() != want.GetPromotion().GetMargin() {
		t.Errorf("train step %v\nwant (but for dataset and epochs) %v", got, want)
	}
	if got.GetEpochs() != 30 {
		t.Errorf("epochs %d, want 30 (a tenth of the rows)", got.GetEpochs())
	}
	if len(got.GetFeatures()) != len(want.GetFeatures()) {
		t.Fatalf("features %v, want %v", got.GetFeatures(), want.GetFeatures())
	}
	for i, f := range want.GetFeatures() {
		if g := got.GetFeatures()[i]; g.GetColumn() != f.GetColumn() || g.GetKind() != f.GetKind() || g.GetBuckets() != f.GetBuckets() {
			t.Errorf("feature %d: %v, want %v", i, g, f)
		}
	}
	day := `{{ .Slot.Format "2006-01-02" }}`
	p := sp.GetPipeline()
	if strings.TrimSuffix(p.GetIngest().GetSources()[0], "/") != base+"/lake/events/"+day || p.GetScore().GetOutput() != base+"/scored/nightly/"+day {
		t.Errorf("ingest %v, score %v", p.GetIngest(), p.GetScore())
	}
}

func TestDemoNights(t *testing.T) {
	dates := func(ts []time.Time) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Format("2006-01-02 15:04 MST"))
		}
		return strings.Join(s, ", ")
	}
	for _, tc := range []struct{ now, want string }{
		// After 02:01 Berlin time the night of today is over.
		{"2026-12-04T18:00:00Z", "2026-12-02 02:00 CET, 2026-12-03 02:00 CET, 2026-12-04 02:00 CET"},
		// Before it, the last night is yesterday's.
		{"2026-12-04T00:30:00Z", "2026-12-01 02:00 CET, 2026-12-02 02:00 CET, 2026-12-03 02:00 CET"},
		{"2026-12-04T01:00:30Z", "2026-12-01 02:00 CET, 2026-12-02 02:00 CET, 2026-12-03 02:00 CET"},
		// Across the fall-back change: one calendar day apart, 02:00 each
		// (in the repeated hour, the first 02:00, as the cron runs it).
		{"2026-10-26T12:00:00Z", "2026-10-24 02:00 CEST, 2026-10-25 02:00 CEST, 2026-10-26 02:00 CET"},
		// Across the spring-forward gap: right after the gap.
		{"2026-03-30T12:00:00Z", "2026-03-28 02:00 CET, 2026-03-29 03:00 CEST, 2026-03-30 02:00 CEST"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		got, err := demoNights(now, 3)
		if err != nil {
			t.Fatal(err)
		}
		if dates(got) != tc.want {
			t.Errorf("now %s: %s, want %s", tc.now, dates(got), tc.want)
		}
		if last := got[len(got)-1]; last.After(now) {
			t.Errorf("now %s: the last night %s is in the future", tc.now, last)
		}
	}
}

func TestDemoFlipLabels(t *testing.T) {
	var buf bytes.Buffer
	spec := sample.Spec{Files: 1, RowsPerFile: 2000, Features: 2, Seed: 1}
	if err := sample.Encode(context.Background(), &buf, spec, 0); err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(buf.Bytes())
	n := flipLabels(buf.Bytes(), 0.3, rand.New(rand.NewPCG(1, 2)))
	if n < 500 || n > 700 {
		t.Errorf("flipped %d of 2000 labels, want about 600", n)
	}
	a, b := strings.Split(string(orig), "\n"), strings.Split(buf.String(), "\n")
	if len(a) != len(b) || a[0] != b[0] {
		t.Fatal("the header or the line count changed")
	}
	diff := 0
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		diff++
		if a[i][:len(a[i])-1] != b[i][:len(b[i])-1] || a[i][len(a[i])-1]+b[i][len(b[i])-1] != '0'+'1' {
			t.Fatalf("line %d: %q became %q; only the label may flip", i, a[i], b[i])
		}
	}
	if diff != n {
		t.Errorf("%d lines changed, flipLabels says %d", diff, n)
	}
}
