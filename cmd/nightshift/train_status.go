package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// How a training job's replicated status (TrainStatus) is shown: its rows
// in jobDetail, the per-epoch metrics table, the membership history, its
// line in `jobs list` and its progress bar.

// holdoutMetrics are the holdout metrics in the order they are shown;
// others a job reports follow in name order.
var holdoutMetrics = []string{"logloss", "auc", "accuracy", "rmse"}

// trainDetail is a training job's part of jobDetail.
func trainDetail(j *nsv1.Job) [][2]string {
	sp, ts := j.GetSpec().GetTrain(), j.GetTrain()
	rows := [][2]string{
		{"model", sp.GetModelName() + " (" + modelText(sp.GetModel()) + ")"},
		{"input", sp.GetDataset()},
		{"label", sp.GetLabel()},
		{"generation", fmt.Sprint(ts.GetGeneration())},
		{"members", membersText(ts.GetMembers(), sp)},
		{"step", stepText(ts)},
		{"epoch", epochText(ts, sp)},
	}
	if l := lossText(ts); l != "" {
		rows = append(rows, [2]string{"loss", l})
	}
	samples := fmt.Sprint(ts.GetSamples())
	if el := jobElapsed(j); ts.GetSamples() > 0 && el > 0 {
		samples += " (" + rate(float64(ts.GetSamples()), el, "samples") + ")"
	}
	rows = append(rows, [2]string{"samples", samples})
	if ts.GetTrainRows() > 0 {
		rows = append(rows, [2]string{"rows", fmt.Sprintf("%d train, %d holdout", ts.GetTrainRows(), ts.GetHoldoutRows())})
	}
	if p := ts.GetDataPath(); p != "" {
		budget := sp.GetMemoryBudgetMb()
		rows = append(rows, [2]string{"data", fmt.Sprintf("%s, %.1f MiB held per member of a %d MiB budget", p, float64(ts.GetInMemoryBytes())/(1<<20), budget)})
	}
	maxRestarts := sp.GetMaxRestarts()
	if maxRestarts == 0 {
		maxRestarts = 3
	}
	rows = append(rows, [2]string{"restarts", fmt.Sprintf("%d of at most %d", ts.GetRestarts(), maxRestarts)})
	if ts.GetCheckpointUri() != "" {
		rows = append(rows, [2]string{"checkpoint", fmt.Sprintf("step %d: %s", ts.GetCheckpointStep(), ts.GetCheckpointUri())})
	}
	if ts.GetArtifactUri() != "" {
		rows = append(rows, [2]string{"artifact", ts.GetArtifactUri()})
	}
	if len(ts.GetMetrics()) > 0 {
		rows = append(rows, [2]string{"metrics", metricsText(ts.GetMetrics())})
	}
	if v := ts.GetRegistered(); v != nil {
		rows = append(rows, [2]string{"registered", fmt.Sprintf("%s v%d", v.GetName(), v.GetVersion())})
	}
	if ts.GetRegistered() != nil || ts.GetPromotionReason() != "" {
		decision := "no"
		if ts.GetPromoted() {
			decision = "yes"
		}
		if r := ts.GetPromotionReason(); r != "" {
			decision += " (" + r + ")"
		}
		rows = append(rows, [2]string{"promoted", decision})
	}
	return rows
}

// lossText is the group's last reported loss; before the first step
// nothing, and where the final report carried none, the last epoch's mean.
func lossText(ts *nsv1.TrainStatus) string {
	switch eps := ts.GetEpochs(); {
	case ts.GetLoss() != 0:
		return fmt.Sprintf("%.6f", ts.GetLoss())
	case len(eps) > 0:
		e := eps[len(eps)-1]
		return fmt.Sprintf("%.6f (mean of epoch %d)", e.GetTrainLoss(), e.GetEpoch()+1)
	case ts.GetStep() > 0:
		return fmt.Sprintf("%.6f", ts.GetLoss())
	}
	return ""
}

// metricText formats one metric: the known ones with 5 decimals, others
// (counts such as rows) as short as they go.
func metricText(name string, v float64) string {
	for _, k := range holdoutMetrics {
		if k == name {
			return fmt.Sprintf("%.5f", v)
		}
	}
	return fmt.Sprintf("%g", v)
}

// modelText is a model config in a few words: "logistic, l2 0.0001",
// "mlp [256 256] binary".
func modelText(m *nsv1.ModelConfig) string {
	s := dash(m.GetFamily())
	if m.GetFamily() == "mlp" {
		s += fmt.Sprintf(" %v %s", m.GetHidden(), m.GetObjective())
	}
	if len(m.GetClasses()) > 0 {
		s += ", classes " + strings.Join(m.GetClasses(), ",")
	}
	if m.GetL2() != 0 {
		s += fmt.Sprintf(", l2 %g", m.GetL2())
	}
	return s
}

// membersText lists a generation's members by rank: "0: w1, 1: w2 (min 2,
// max 3)".
func membersText(ms []*nsv1.GroupMember, sp *nsv1.TrainSpec) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%d: %s", i, m.GetWorkerId())
	}
	s := strings.Join(parts, ", ")
	if s == "" {
		s = "none yet"
	}
	return fmt.Sprintf("%s (min %d, max %d)", s, sp.GetMinMembers(), sp.GetMaxMembers())
}

func stepText(ts *nsv1.TrainStatus) string {
	if ts.GetTotalSteps() > 0 {
		return fmt.Sprintf("%d/%d", ts.GetStep(), ts.GetTotalSteps())
	}
	return fmt.Sprint(ts.GetStep())
}

// epochText is the epoch being trained, counted from 1 as in the job's
// events (TrainStatus counts from 0): "2/3".
func epochText(ts *nsv1.TrainStatus, sp *nsv1.TrainSpec) string {
	if ts.GetStep() == 0 && len(ts.GetEpochs()) == 0 {
		return fmt.Sprintf("-/%d", sp.GetEpochs())
	}
	e := ts.GetEpoch() + 1
	if n := sp.GetEpochs(); n > 0 && e > n {
		e = n
	}
	return fmt.Sprintf("%d/%d", e, sp.GetEpochs())
}

// metricsText prints metrics in the fixed order: "logloss 0.41230  auc 0.85120".
func metricsText(m map[string]float64) string {
	var parts []string
	for _, k := range metricNames(m) {
		parts = append(parts, k+" "+metricText(k, m[k]))
	}
	return strings.Join(parts, "  ")
}

// metricNames are the keys of some metric maps: the known ones in their
// order, then any others sorted.
func metricNames(ms ...map[string]float64) []string {
	seen := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			seen[k] = true
		}
	}
	var names, rest []string
	for _, k := range holdoutMetrics {
		if seen[k] {
			names = append(names, k)
			delete(seen, k)
		}
	}
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// writeEpochs prints the per-epoch table: EPOCH, STEP, TRAIN LOSS and the
// holdout metrics the epochs have.
func writeEpochs(w io.Writer, ts *nsv1.TrainStatus) error {
	eps := ts.GetEpochs()
	if len(eps) == 0 {
		return nil
	}
	maps := make([]map[string]float64, len(eps))
	for i, e := range eps {
		maps[i] = e.GetHoldout()
	}
	names := metricNames(maps...)
	header := []string{"EPOCH", "STEP", "TRAIN LOSS"}
	for _, n := range names {
		header = append(header, strings.ToUpper(n))
	}
	rows := make([][]string, 0, len(eps))
	for _, e := range eps {
		r := []string{fmt.Sprint(e.GetEpoch() + 1), fmt.Sprint(e.GetStep()), fmt.Sprintf("%.5f", e.GetTrainLoss())}
		for _, n := range names {
			v, ok := e.GetHoldout()[n]
			if !ok {
				r = append(r, "-")
				continue
			}
			r = append(r, metricText(n, v))
		}
		rows = append(rows, r)
	}
	fmt.Fprintln(w)
	return writeTable(w, header, rows)
}

// writeGenerations prints the membership history: each committed
// generation, its members by rank and whether it was a restart.
func writeGenerations(w io.Writer, ts *nsv1.TrainStatus) error {
	hist := ts.GetHistory()
	if len(hist) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(hist))
	for _, h := range hist {
		note := "-"
		if h.GetRestart() {
			note = "restart from checkpoint"
		}
		rows = append(rows, []string{fmt.Sprint(h.GetGeneration()), unixMs(h.GetUnixMs()).Format("15:04:05.000"),
			strings.Join(h.GetWorkerIds(), ", "), note})
	}
	fmt.Fprintln(w)
	return writeTable(w, []string{"GENERATION", "AT", "MEMBERS (BY RANK)", "NOTE"}, rows)
}

// trainProgressText is the progress of a training job in `jobs list`.
func trainProgressText(j *nsv1.Job) string {
	return "step " + stepText(j.GetTrain())
}

// trainProgressDetail is the text after the counts on a training job's
// progress bar: epoch, loss, sample rate, group size.
func trainProgressDetail(j *nsv1.Job, el time.Duration) string {
	sp, ts := j.GetSpec().GetTrain(), j.GetTrain()
	loss := "--"
	switch eps := ts.GetEpochs(); {
	case ts.GetLoss() != 0:
		loss = fmt.Sprintf("%.4f", ts.GetLoss())
	case len(eps) > 0: // no step loss reported: the last epoch's mean
		loss = fmt.Sprintf("%.4f", eps[len(eps)-1].GetTrainLoss())
	}
	return fmt.Sprintf("steps  epoch %s  loss %s  %s  %d members  %s", epochText(ts, sp), loss,
		rate(float64(ts.GetSamples()), el, "samples"), len(ts.GetMembers()), jobState(j.GetState()))
}
