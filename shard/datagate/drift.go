package datagate

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// Drift metrics, as ColumnDriftResult.metric names them.
const (
	MetricPSI = "psi"
	MetricJS  = "js"
)

// Drift compares every column of cur with the same column of ref: those
// present in both with the same kind, numeric or categorical, that the
// policy does not ignore. policy is one jobspec.NormalizeDrift returned
// (nil: the defaults; a zero threshold takes its default here too); a
// disabled policy compares nothing.
//
//   - Numeric columns: the population stability index
//     Σ (c − r)·ln(c / r) over ref's jobspec.PSIBins quantile bins
//     (profile.CompareBins) plus one missing bin (nulls, NaN and
//     infinities), each proportion floored at jobspec.PSIFloor so an empty
//     bin keeps it finite.
//   - Categorical columns: the Jensen–Shannon distance (base 2, the square
//     root of the divergence, in [0, 1]) over the values of both
//     summaries, an "other" bin (the rows outside a summary) and a missing
//     bin (nulls).
//
// linf is the largest difference of a bin's proportions (unfloored). A
// column's severity is FAIL at or above its fail threshold, WARN at or
// above warn, else OK; a per-column entry of the policy replaces both.
// driftedShare is the share of the compared columns at WARN or beyond (0
// when none was compared). The results are sorted worst first: by
// severity, then value (descending), then column name.
func Drift(ref, cur *pb.DatasetProfile, policy *pb.DriftPolicy) (results []*pb.ColumnDriftResult, driftedShare float64) {
	pol := thresholds(policy)
	if pol.GetDisabled() || ref == nil || cur == nil {
		return nil, 0
	}
	overrides := make(map[string]*pb.ColumnDrift, len(pol.GetColumns()))
	for _, o := range pol.GetColumns() {
		overrides[o.GetName()] = o
	}
	curCols := make(map[string]*pb.ColumnProfile, len(cur.GetColumns()))
	for _, col := range cur.GetColumns() {
		curCols[col.GetName()] = col
	}
	done := map[string]bool{}
	for _, r := range ref.GetColumns() {
		c, ok := curCols[r.GetName()]
		if !ok || done[r.GetName()] || c.GetKind() != r.GetKind() || overrides[r.GetName()].GetIgnore() {
			continue
		}
		done[r.GetName()] = true
		res := &pb.ColumnDriftResult{Column: r.GetName(), Kind: r.GetKind()}
		var p, q []float64
		switch r.GetKind() {
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			p, q = numericBins(r, c)
			res.Metric, res.Warn, res.Fail = MetricPSI, pol.GetPsiWarn(), pol.GetPsiFail()
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			p, q = categoricalBins(r, c)
			res.Metric, res.Warn, res.Fail = MetricJS, pol.GetJsWarn(), pol.GetJsFail()
		default:
			continue
		}
		if p == nil {
			continue // an empty side: nothing to compare
		}
		if res.Metric == MetricPSI {
			res.Value = psi(p, q)
		} else {
			res.Value = jsDistance(p, q)
		}
		res.Linf = linf(p, q)
		if o := overrides[r.GetName()]; o != nil && o.GetWarn() > 0 && o.GetFail() > 0 {
			res.Warn, res.Fail = o.GetWarn(), o.GetFail()
		}
		res.Severity = severity(res.Value, res.Warn, res.Fail)
		results = append(results, res)
	}
	drifted := 0
	for _, res := range results {
		if res.Severity >= pb.Severity_SEVERITY_WARN {
			drifted++
		}
	}
	if len(results) > 0 {
		driftedShare = float64(drifted) / float64(len(results))
	}
	slices.SortStableFunc(results, func(a, b *pb.ColumnDriftResult) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Value, a.Value), strings.Compare(a.Column, b.Column))
	})
	return results, driftedShare
}

// thresholds is the policy with its zero thresholds filled by the
// defaults (nil: the defaults).
func thresholds(p *pb.DriftPolicy) *pb.DriftPolicy {
	out, _ := jobspec.NormalizeDrift(p) // a bad value stays as it is; the spec's check tells it
	return out
}

func severity(v, warn, fail float64) pb.Severity {
	switch {
	case v >= fail:
		return pb.Severity_SEVERITY_FAIL
	case v >= warn:
		return pb.Severity_SEVERITY_WARN
	}
	return pb.Severity_SEVERITY_OK
}

// numericBins are the proportions of ref's and cur's values in ref's
// quantile bins plus the missing bin; nil when either side has no row.
func numericBins(ref, cur *pb.ColumnProfile) (p, q []float64) {
	rc, cc := profile.CompareBins(ref.GetNumeric().GetHistogram(), cur.GetNumeric().GetHistogram(), jobspec.PSIBins)
	rc = append(rc, missing(ref))
	cc = append(cc, missing(cur))
	return proportions(rc), proportions(cc)
}

// missing counts a numeric column's rows outside its histogram: null, NaN
// or infinite.
func missing(col *pb.ColumnProfile) int64 {
	n := col.GetNumeric()
	return col.GetNulls() + n.GetNan() + n.GetPosInf() + n.GetNegInf()
}

// categoricalBins are the proportions of ref's and cur's rows over the
// values of both summaries (ref's order, then cur's new ones), the other
// bin and the missing bin; nil when either side has no row.
func categoricalBins(ref, cur *pb.ColumnProfile) (p, q []float64) {
	index := map[string]int{}
	for _, col := range []*pb.ColumnProfile{ref, cur} {
		for _, t := range col.GetCategorical().GetTop() {
			if _, ok := index[t.GetValue()]; !ok {
				index[t.GetValue()] = len(index)
			}
		}
	}
	counts := func(col *pb.ColumnProfile) []int64 {
		out := make([]int64, len(index)+2)
		for _, t := range col.GetCategorical().GetTop() {
			out[index[t.GetValue()]] += max(t.GetCount(), 0)
		}
		out[len(index)] = col.GetCategorical().GetOther()
		out[len(index)+1] = col.GetNulls()
		return out
	}
	return proportions(counts(ref)), proportions(counts(cur))
}

// proportions divides counts by their total; nil when it is not positive.
func proportions(counts []int64) []float64 {
	var total float64
	for _, c := range counts {
		total += float64(max(c, 0))
	}
	if total <= 0 {
		return nil
	}
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = float64(max(c, 0)) / total
	}
	return out
}

// psi is the population stability index of q (current) against p
// (reference), proportions floored at jobspec.PSIFloor.
func psi(p, q []float64) float64 {
	if p == nil || q == nil {
		return 0
	}
	var s float64
	for i := range p {
		a, b := max(p[i], jobspec.PSIFloor), max(q[i], jobspec.PSIFloor)
		s += (b - a) * math.Log(b/a)
	}
	return max(s, 0)
}

// jsDistance is the Jensen–Shannon distance of p and q, base 2: the
// square root of the divergence, in [0, 1].
func jsDistance(p, q []float64) float64 {
	if p == nil || q == nil {
		return 0
	}
	var d float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			d += p[i] * math.Log2(p[i]/m)
		}
		if q[i] > 0 {
			d += q[i] * math.Log2(q[i]/m)
		}
	}
	return math.Sqrt(min(max(d/2, 0), 1))
}

// linf is the largest |p_i − q_i|.
func linf(p, q []float64) float64 {
	var m float64
	for i := range p {
		m = max(m, math.Abs(p[i]-q[i]))
	}
	return m
}
