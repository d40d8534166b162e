package coordinator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Promotion: the registry's decision on a challenger (docs/architecture.md
// §8, §12). The training job compared the challenger with the production
// version pinned at plan on the same holdout rows, through the same
// scoring code (pb.Evaluation); the FSM decides on that comparison, in
// the log entry that registers the version, so every replica decides
// alike.

// marginSlack absorbs float rounding in "beats by at least margin":
// 0.3105 - 0.3095 is 0.000999… in float64.
const marginSlack = 1e-12

// decide applies a promotion policy to a challenger already in m; its
// Evaluation is the same-data comparison (nil when the job made none).
func decide(m *pb.RegisteredModel, ch *pb.ModelVersion, p *pb.PromotionPolicy) (bool, string) {
	name := fmt.Sprintf("v%d", ch.Version)
	stays := func(format string, args ...any) (bool, string) {
		return false, name + " stays candidate: " + fmt.Sprintf(format, args...)
	}
	if p.GetManual() {
		return stays("the promotion policy is manual (nightshift models promote %s %d)", m.Name, ch.Version)
	}
	champ := findVersion(m, productionOf(m))
	if champ == nil {
		return true, fmt.Sprintf("%s promoted to production: %s had no production version", name, m.Name)
	}
	if p == nil {
		return stays("the job has no promotion policy (set promotion.margin to promote automatically, or nightshift models promote %s %d)", m.Name, ch.Version)
	}
	ev := ch.GetEvaluation()
	switch {
	case ev == nil || ev.ChampionVersion == 0:
		return stays("no comparison with production v%d on the same rows (it became production while the job ran, or the job has no holdout)", champ.Version)
	case ev.ChampionVersion != champ.Version:
		return stays("the job compared it with v%d, but production moved to v%d while it ran (nightshift models promote %s %d after checking)", ev.ChampionVersion, champ.Version, m.Name, ch.Version)
	case ev.ChampionError != "":
		return stays("production v%d could not be evaluated on these rows: %s", champ.Version, ev.ChampionError)
	}
	metric := ev.Metric
	if _, known := jobspec.HigherIsBetter(metric); !known {
		return stays("unknown promotion metric %q (want %s)", metric, strings.Join(jobspec.Metrics, ", "))
	}
	cv, cok := finite(ev.Challenger, metric)
	pv, pok := finite(ev.Champion, metric)
	if !cok || !pok {
		return stays("the evaluation on %d rows has no %s for %s and v%d to compare", ev.Rows, metric, name, champ.Version)
	}
	gain := jobspec.Gain(metric, cv, pv)
	margin := p.GetMargin()
	if !(margin > 0) || math.IsInf(margin, 0) {
		margin = 0 // negative, NaN or infinite margins are refused at submit; be total here
	}
	cs, ps := metricPair(cv, pv)
	on := fmt.Sprintf("on the same %d rows", ev.Rows)
	if !(gain > 0 && gain >= margin-marginSlack) {
		return stays("%s %s does not beat v%d's %s %s by margin %g", metric, cs, champ.Version, ps, on, margin)
	}
	interval := ""
	if p.GetConfidence() > 0 {
		if ev.Bootstrap == 0 {
			return stays("the policy asks for a %g%% interval, but the evaluation made no bootstrap", 100*p.GetConfidence())
		}
		interval = fmt.Sprintf(", %g%% interval [%s, %s]", 100*ev.Confidence, fmtGain(ev.GainLow), fmtGain(ev.GainHigh))
		if !(ev.GainLow > 0 && ev.GainLow >= margin-marginSlack) {
			return stays("%s %s beats v%d's %s %s by %s, but not with %g%% confidence: the interval [%s, %s] reaches below margin %g",
				metric, cs, champ.Version, ps, on, fmtGain(gain), 100*ev.Confidence, fmtGain(ev.GainLow), fmtGain(ev.GainHigh), margin)
		}
	}
	if worst := worstSlice(ev, metric, p.GetSliceGate()); worst != "" {
		return stays("%s %s beats v%d's %s %s overall, but %s", metric, cs, champ.Version, ps, on, worst)
	}
	return true, fmt.Sprintf("%s promoted to production: %s %s beats v%d's %s %s by %s (margin %g%s)",
		name, metric, cs, champ.Version, ps, on, fmtGain(gain), margin, interval)
}

// worstSlice applies the slice gate: of the slices of at least min_rows
// rows where the challenger is worse than the champion by more than
// max_regression, it names the worst ("" when none is).
func worstSlice(ev *pb.Evaluation, metric string, g *pb.SliceGate) string {
	if g == nil {
		return ""
	}
	var worst *pb.SliceMetrics
	worstLoss := 0.0
	for _, sl := range ev.Slices {
		cv, cok := finite(sl.Challenger, metric)
		pv, pok := finite(sl.Champion, metric)
		if sl.Rows < g.MinRows || !cok || !pok {
			continue
		}
		if loss := -jobspec.Gain(metric, cv, pv); loss > g.MaxRegression+marginSlack && loss > worstLoss {
			worst, worstLoss = sl, loss
		}
	}
	if worst == nil {
		return ""
	}
	cs, ps := metricPair(worst.Challenger[metric], worst.Champion[metric])
	return fmt.Sprintf("slice %s=%s (%d rows) gets worse: %s %s against %s, by %s > max_regression %g",
		worst.Column, worst.Value, worst.Rows, metric, cs, ps, fmtGain(worstLoss), g.MaxRegression)
}

// checkDecay applies the decay gate to a newly registered version's
// evaluation: production's metric on the new rows against the median of
// production's metric in the model's previous evaluations (the last
// window of them, whichever version was production then). It marks the
// evaluation and returns the event to record ("" when the gate does not
// apply or holds).
func checkDecay(m *pb.RegisteredModel, ch *pb.ModelVersion, p *pb.PromotionPolicy) string {
	d, ev := p.GetDecay(), ch.GetEvaluation()
	if d == nil || ev == nil || ev.ChampionVersion == 0 {
		return ""
	}
	now, ok := finite(ev.Champion, ev.Metric)
	if !ok {
		return ""
	}
	var past []float64
	for _, v := range m.Versions {
		e := v.GetEvaluation()
		if v.Version == ch.Version || e == nil || e.Metric != ev.Metric || e.ChampionVersion == 0 {
			continue
		}
		if x, ok := finite(e.Champion, e.Metric); ok {
			past = append(past, x)
		}
	}
	window := int(max(d.Window, jobspec.MinDecayHistory))
	if len(past) > window {
		past = past[len(past)-window:]
	}
	if len(past) < jobspec.MinDecayHistory {
		return ""
	}
	med := median(past)
	ev.DecayMedian = med
	drop := jobspec.Gain(ev.Metric, med, now) // how much worse production is now
	if drop <= d.MaxDrop+marginSlack {
		return ""
	}
	ev.Decayed = true
	return fmt.Sprintf("production v%d is decaying: its %s on the rows of v%d's job is %s, worse than its trailing median %s (of %d evaluations) by %s > max_drop %g",
		ev.ChampionVersion, ev.Metric, ch.Version, formatMetric(now), formatMetric(med), len(past), fmtGain(drop), d.MaxDrop)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// finite returns a metric of a map; NaN and ±Inf count as missing.
func finite(metrics map[string]float64, metric string) (float64, bool) {
	x, ok := metrics[metric]
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

func formatMetric(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }

func fmtGain(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// metricPair formats two metric values with 4 decimals, or as many more
// (up to 10) as it takes to tell them apart.
func metricPair(a, b float64) (string, string) {
	for prec := 4; prec <= 10; prec++ {
		x, y := strconv.FormatFloat(a, 'f', prec, 64), strconv.FormatFloat(b, 'f', prec, 64)
		if x != y {
			return x, y
		}
	}
	return formatMetric(a), formatMetric(b)
}
