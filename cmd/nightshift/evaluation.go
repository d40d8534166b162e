package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// writeEvaluation prints a same-data comparison (pb.Evaluation): both
// models' metrics on the holdout rows, the gain with its interval, and
// the slices. challenger names the evaluated version ("v4").
func writeEvaluation(w io.Writer, challenger string, ev *nsv1.Evaluation) error {
	champ := "-"
	if ev.GetChampionVersion() > 0 {
		champ = fmt.Sprintf("v%d", ev.GetChampionVersion())
	}
	fmt.Fprintf(w, "\nEVALUATION (%s on the same %d holdout rows)\n", ev.GetMetric(), ev.GetRows())
	names := metricNames(ev.GetChallenger(), ev.GetChampion())
	head := []string{"MODEL"}
	for _, k := range names {
		head = append(head, strings.ToUpper(k))
	}
	rows := [][]string{metricRow(challenger+" (challenger)", names, ev.GetChallenger())}
	if ev.GetChampionVersion() > 0 {
		rows = append(rows, metricRow(champ+" (production)", names, ev.GetChampion()))
	}
	if err := writeTable(w, head, rows); err != nil {
		return err
	}
	var kv [][2]string
	if e := ev.GetChampionError(); e != "" {
		kv = append(kv, [2]string{"production", e})
	}
	_, chOK := ev.GetChallenger()[ev.GetMetric()]
	_, prodOK := ev.GetChampion()[ev.GetMetric()]
	if ev.GetChampionVersion() > 0 && ev.GetChampionError() == "" && chOK && prodOK {
		gain := signed(ev.GetGain())
		if ev.GetBootstrap() > 0 {
			gain += fmt.Sprintf(" (%g%% interval [%s, %s], %d paired resamples)", 100*ev.GetConfidence(), signed(ev.GetGainLow()), signed(ev.GetGainHigh()), ev.GetBootstrap())
		}
		kv = append(kv, [2]string{"gain", gain + " (positive: the challenger is better)"})
	}
	// The registry sets the median only when the decay gate compared.
	if ev.GetDecayMedian() != 0 || ev.GetDecayed() {
		state := "holds"
		if ev.GetDecayed() {
			state = "DECAYED"
		}
		kv = append(kv, [2]string{"decay", fmt.Sprintf("%s: production's %s %s against its trailing median %s", state, ev.GetMetric(),
			metricText(ev.GetMetric(), ev.GetChampion()[ev.GetMetric()]), metricText(ev.GetMetric(), ev.GetDecayMedian()))})
	}
	if len(kv) > 0 {
		if err := writeKV(w, kv); err != nil {
			return err
		}
	}
	if len(ev.GetSlices()) == 0 {
		return nil
	}
	m := ev.GetMetric()
	fmt.Fprintf(w, "\nSLICES (%s)\n", m)
	srows := make([][]string, len(ev.GetSlices()))
	for i, sl := range ev.GetSlices() {
		row := []string{sl.GetColumn() + "=" + sl.GetValue(), fmt.Sprint(sl.GetRows()), metricCell(m, sl.GetChallenger()), metricCell(m, sl.GetChampion()), "-"}
		cv, cok := sl.GetChallenger()[m]
		pv, pok := sl.GetChampion()[m]
		if cok && pok {
			row[4] = signed(jobspec.Gain(m, cv, pv))
		}
		srows[i] = row
	}
	return writeTable(w, []string{"SLICE", "ROWS", challenger, champ, "GAIN"}, srows)
}

func metricRow(label string, names []string, m map[string]float64) []string {
	row := []string{label}
	for _, k := range names {
		row = append(row, metricCell(k, m))
	}
	return row
}

func metricCell(name string, m map[string]float64) string {
	if v, ok := m[name]; ok {
		return metricText(name, v)
	}
	return "-"
}

// signed is a gain with its sign, as metrics are printed ("+0.00360").
func signed(x float64) string { return fmt.Sprintf("%+.5f", x) }
