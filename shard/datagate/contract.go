package datagate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Contract rules, as Violation.rule names them.
const (
	RuleRequired        = "required"
	RuleKind            = "kind"
	RuleMaxNullFraction = "max_null_fraction"
	RuleMin             = "min"
	RuleMax             = "max"
	RuleAllowed         = "allowed"
	RuleAllowInf        = "allow_inf"
	RuleMinRows         = "min_rows"
	RuleMaxRows         = "max_rows"
	RuleExtraColumn     = "extra_column"
	// RuleDriftedShare is Validate's dataset-level drift rule.
	RuleDriftedShare = "drifted_share"
)

// maxUnseenListed is how many unseen values an "allowed" violation names.
const maxUnseenListed = 5

// CheckContract lists the rules of contract c that the dataset profiled
// by cur breaks, each a FAIL naming the column ("" for the dataset's row
// count), the rule, and the observed and allowed values written for a
// person ("3.2% null" against "≤ 1.0%"). The row ratios apply when the
// contract has its reference_rows. Violations come in the contract's
// order: the row count, then each column, then the columns it does not
// name (when allow_extra_columns is false). nil c: none.
//
// A categorical column's unseen mass counts the values of the dataset's
// summary outside the allowed set and the rows its summary did not keep
// ("other"): a summary that drops values keeps the most frequent ones, and
// an allowed domain is far smaller than it.
func CheckContract(c *pb.DataContract, cur *pb.DatasetProfile) []*pb.Violation {
	if c == nil {
		return nil
	}
	var out []*pb.Violation
	add := func(column, rule, observed, allowed string) {
		out = append(out, &pb.Violation{Column: column, Rule: rule, Observed: observed, Allowed: allowed, Severity: pb.Severity_SEVERITY_FAIL})
	}
	rows := cur.GetRows()
	if ref := c.GetReferenceRows(); ref > 0 {
		if r := c.GetMinRowsRatio(); r > 0 {
			if least := int64(math.Ceil(r * float64(ref))); rows < least {
				add("", RuleMinRows, count(rows)+" rows", fmt.Sprintf("≥ %s (%g × %s)", count(least), r, count(ref)))
			}
		}
		if r := c.GetMaxRowsRatio(); r > 0 {
			if most := math.Floor(r * float64(ref)); float64(rows) > most {
				add("", RuleMaxRows, count(rows)+" rows", fmt.Sprintf("≤ %s (%g × %s)", count(int64(most)), r, count(ref)))
			}
		}
	}
	cols := make(map[string]*pb.ColumnProfile, len(cur.GetColumns()))
	for _, col := range cur.GetColumns() {
		cols[col.GetName()] = col
	}
	named := make(map[string]bool, len(c.GetColumns()))
	for _, cc := range c.GetColumns() {
		named[cc.GetName()] = true
		col, ok := cols[cc.GetName()]
		if !ok {
			if cc.GetRequired() {
				add(cc.GetName(), RuleRequired, "missing", "required")
			}
			continue
		}
		kindOK := true
		if want := cc.GetKind(); want != pb.ColumnKind_COLUMN_KIND_UNSPECIFIED && col.GetKind() != want {
			add(cc.GetName(), RuleKind, describeKind(col), jobspec.KindWord(want))
			kindOK = false
		}
		if ceiling := cc.GetMaxNullFraction(); ceiling >= 0 && col.GetCount() > 0 {
			if f := nullFraction(col); f > ceiling {
				add(cc.GetName(), RuleMaxNullFraction, pctVersus(f, ceiling)+" null", "≤ "+pct(ceiling))
			}
		}
		if !kindOK {
			continue // the kind's rules do not apply to another kind's statistics
		}
		if n := col.GetNumeric(); n != nil {
			if n.GetFinite() > 0 && cc.GetHasMin() && n.GetMin() < cc.GetMin() {
				add(cc.GetName(), RuleMin, numVersus(n.GetMin(), cc.GetMin()), "≥ "+num(cc.GetMin()))
			}
			if n.GetFinite() > 0 && cc.GetHasMax() && n.GetMax() > cc.GetMax() {
				add(cc.GetName(), RuleMax, numVersus(n.GetMax(), cc.GetMax()), "≤ "+num(cc.GetMax()))
			}
			if inf := n.GetPosInf() + n.GetNegInf(); inf > 0 && !cc.GetAllowInf() {
				add(cc.GetName(), RuleAllowInf, fmt.Sprintf("%s infinite (+Inf %s, -Inf %s)", count(inf), count(n.GetPosInf()), count(n.GetNegInf())), "none")
			}
		}
		if cat := col.GetCategorical(); cat != nil && len(cc.GetAllowed()) > 0 {
			if obs, broken := unseen(cc, col, cat); broken {
				add(cc.GetName(), RuleAllowed, obs, "≤ "+pct(cc.GetMaxUnseenFraction()))
			}
		}
	}
	if !c.GetAllowExtraColumns() {
		for _, col := range cur.GetColumns() {
			if !named[col.GetName()] {
				add(col.GetName(), RuleExtraColumn, "present ("+describeKind(col)+")", "not in the contract (allow_extra_columns: false)")
			}
		}
	}
	return out
}

// unseen is the allowed rule's observation, "12.5% unseen (EU=1,250,
// Us=3, …)"; broken is false when the unseen mass is within the
// contract's.
func unseen(cc *pb.ColumnContract, col *pb.ColumnProfile, cat *pb.CategoricalStats) (observed string, broken bool) {
	nonNull := col.GetCount() - col.GetNulls()
	if nonNull <= 0 {
		return "", false
	}
	allowed := make(map[string]bool, len(cc.GetAllowed()))
	for _, v := range cc.GetAllowed() {
		allowed[v] = true
	}
	var mass int64
	var values []*pb.CategoryCount
	for _, t := range cat.GetTop() {
		if !allowed[t.GetValue()] {
			mass += t.GetCount()
			values = append(values, t)
		}
	}
	mass += cat.GetOther()
	f := min(1, float64(mass)/float64(nonNull))
	if f <= cc.GetMaxUnseenFraction() {
		return "", false
	}
	slices.SortStableFunc(values, func(a, b *pb.CategoryCount) int {
		return cmp.Or(cmp.Compare(b.GetCount(), a.GetCount()), strings.Compare(a.GetValue(), b.GetValue()))
	})
	parts := make([]string, 0, maxUnseenListed+1)
	for i, v := range values {
		if i == maxUnseenListed {
			break
		}
		parts = append(parts, value(v.GetValue())+"="+count(v.GetCount()))
	}
	if len(values) > maxUnseenListed || cat.GetOther() > 0 {
		parts = append(parts, "…")
	}
	obs := pctVersus(f, cc.GetMaxUnseenFraction()) + " unseen"
	if len(parts) > 0 {
		obs += " (" + strings.Join(parts, ", ") + ")"
	}
	return obs, true
}

// describeKind writes a column's kind and type: "categorical (utf8)".
func describeKind(col *pb.ColumnProfile) string {
	if col.GetType() == "" {
		return jobspec.KindWord(col.GetKind())
	}
	return jobspec.KindWord(col.GetKind()) + " (" + col.GetType() + ")"
}
