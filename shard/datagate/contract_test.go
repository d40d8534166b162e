package datagate

import (
	"fmt"
	"math"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestCheckContractRules(t *testing.T) {
	num, cat := pb.ColumnKind_COLUMN_KIND_NUMERIC, pb.ColumnKind_COLUMN_KIND_CATEGORICAL
	ct := &pb.DataContract{MinRowsRatio: 0.5, MaxRowsRatio: 1.5, ReferenceRows: 60,
		Columns: []*pb.ColumnContract{
			{Name: "amount", Required: true, Kind: num, MaxNullFraction: 0.01, HasMin: true, Min: 0, HasMax: true, Max: 100},
			{Name: "region", Required: true, Kind: cat, MaxNullFraction: -1, Allowed: []string{"eu", "us"}, MaxUnseenFraction: 0.05},
			{Name: "plan", Required: true, Kind: num, MaxNullFraction: -1, HasMax: true, Max: 1},
			{Name: "gone", Required: true, MaxNullFraction: -1},
			{Name: "optional", MaxNullFraction: -1},
			{Name: "ratio", MaxNullFraction: 0.5},
		}}
	regions := map[string]int64{"eu": 40, "us": 30, "EU": 12, "Us": 5, "a b": 3, "x=1": 2, "z": 1, "y": 1}
	cur := dataset(
		numCol("amount", []float64{-5, 50, 100.5, math.Inf(1), math.Inf(-1), math.Inf(1), math.NaN()}, 93), // 100 rows
		catCol("region", regions, 6),
		catCol("plan", map[string]int64{"basic": 100}, 0),
		numCol("ratio", []float64{1, 2}, 2),
		numCol("extra", []float64{1}, 0),
	)
	vs := CheckContract(ct, cur)
	want := []string{
		` max_rows: "100 rows" allowed "≤ 90 (1.5 × 60)"`,
		`amount max_null_fraction: "94.0% null" allowed "≤ 1.0%"`,
		`amount min: "-5" allowed "≥ 0"`,
		`amount max: "100.5" allowed "≤ 100"`,
		`amount allow_inf: "3 infinite (+Inf 2, -Inf 1)" allowed "none"`,
		`region allowed: "25.5% unseen (EU=12, Us=5, \"a b\"=3, \"x=1\"=2, y=1, …)" allowed "≤ 5.0%"`,
		`plan kind: "categorical (utf8)" allowed "numeric"`,
		`gone required: "missing" allowed "required"`,
		`extra extra_column: "present (numeric (float64))" allowed "not in the contract (allow_extra_columns: false)"`,
	}
	if len(vs) != len(want) {
		t.Fatalf("got %d violations, want %d: %v", len(vs), len(want), vs)
	}
	for i, v := range vs {
		if got := fmt.Sprintf("%s %s: %q allowed %q", v.Column, v.Rule, v.Observed, v.Allowed); got != want[i] {
			t.Errorf("violation %d\n got %s\nwant %s", i, got, want[i])
		}
		if v.Severity != pb.Severity_SEVERITY_FAIL {
			t.Errorf("violation %d: severity %v", i, v.Severity)
		}
	}
	// Extra columns allowed, fewer rows, a tolerated unseen mass.
	ct.AllowExtraColumns, ct.ReferenceRows, ct.Columns[1].MaxUnseenFraction = true, 200, 0.3
	vs = CheckContract(ct, cur)
	if violation(vs, "extra", RuleExtraColumn) != nil || violation(vs, "region", RuleAllowed) != nil || violation(vs, "", RuleMinRows) != nil {
		t.Errorf("100 rows of 0.5 × 200, extra columns allowed, 25.5%% unseen of 30%%: %v", vs)
	}
	ct.ReferenceRows = 201
	if v := violation(CheckContract(ct, cur), "", RuleMinRows); v == nil || v.Observed != "100 rows" || v.Allowed != "≥ 101 (0.5 × 201)" {
		t.Errorf("min_rows: %v", v)
	}
	if CheckContract(nil, cur) != nil {
		t.Error("violations of no contract")
	}
}

func TestObservedReadsApartFromTheLimit(t *testing.T) {
	ct := &pb.DataContract{Columns: []*pb.ColumnContract{
		{Name: "a", MaxNullFraction: 0.01, HasMax: true, Max: 100},
	}}
	// 1.04% null against 1.0%; a max of 100.0000001 against 100.
	cur := dataset(numCol("a", append(make([]float64, 9895), 100.0000001), 104))
	vs := CheckContract(ct, cur)
	if len(vs) != 2 || vs[0].Observed != "1.04% null" || vs[1].Observed != "100.0000001" {
		t.Errorf("%v", vs)
	}
}

func TestMetrics(t *testing.T) {
	p, q := []float64{0.5, 0.5, 0}, []float64{0.25, 0.25, 0.5}
	// PSI with the empty bin floored at 1e-4.
	wantPSI := 2*(0.25-0.5)*math.Log(0.25/0.5) + (0.5-1e-4)*math.Log(0.5/1e-4)
	if got := psi(p, q); math.Abs(got-wantPSI) > 1e-12 {
		t.Errorf("psi %g, want %g", got, wantPSI)
	}
	if got := psi(p, p); got != 0 {
		t.Errorf("psi of equal bins %g", got)
	}
	// JS distance: 0 for equal, 1 for disjoint, sqrt(m) for a mass m moved to a new value.
	for _, tc := range []struct {
		p, q []float64
		want float64
	}{
		{p, p, 0},
		{[]float64{1, 0}, []float64{0, 1}, 1},
		{[]float64{0.9, 0.1, 0}, []float64{0.9, 0, 0.1}, math.Sqrt(0.1)},
	} {
		if got := jsDistance(tc.p, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("js(%v, %v) = %g, want %g", tc.p, tc.q, got, tc.want)
		}
	}
	if got := linf(p, q); got != 0.5 {
		t.Errorf("linf %g", got)
	}
	if proportions([]int64{0, 0}) != nil {
		t.Error("proportions of nothing")
	}
}
