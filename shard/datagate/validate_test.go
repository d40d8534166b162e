package datagate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

const (
	ok   = pb.Severity_SEVERITY_OK
	warn = pb.Severity_SEVERITY_WARN
	fail = pb.Severity_SEVERITY_FAIL
)

func TestIdenticalProfilesAreOK(t *testing.T) {
	ref := reference()
	rep := Validate(ref, reference(), nil, nil, false)
	if rep.Verdict != ok || len(rep.Violations) != 0 || rep.DriftedShare != 0 {
		t.Fatalf("identical profiles: %v", rep)
	}
	if len(rep.Drift) != 3 {
		t.Fatalf("want 3 columns compared, got %v", rep.Drift)
	}
	for _, d := range rep.Drift {
		if d.Value != 0 || d.Linf != 0 || d.Severity != ok {
			t.Errorf("%s: %v", d.Column, d)
		}
		wantMetric, wantWarn, wantFail := MetricJS, jobspec.DefaultJSWarn, jobspec.DefaultJSFail
		if d.Column == "amount" {
			wantMetric, wantWarn, wantFail = MetricPSI, jobspec.DefaultPSIWarn, jobspec.DefaultPSIFail
		}
		if d.Metric != wantMetric || d.Warn != wantWarn || d.Fail != wantFail {
			t.Errorf("%s: metric %s %g/%g", d.Column, d.Metric, d.Warn, d.Fail)
		}
	}
	if rep.Dataset != "file:///ds/test" || rep.Fingerprint != "f00d" {
		t.Errorf("report names %q %q", rep.Dataset, rep.Fingerprint)
	}
	if !strings.HasPrefix(rep.Summary, "OK: contract holds; no drift in 3 columns (closest: ") {
		t.Errorf("summary %q", rep.Summary)
	}
}

func TestShiftedNumericColumnFails(t *testing.T) {
	cur := replace(reference(), numCol("amount", normals(2, 10000, 130, 15), 0)) // +2σ
	rep := Validate(reference(), cur, nil, nil, false)
	d := driftOf(rep, "amount")
	if d == nil || d.Severity != fail || d.Value <= jobspec.DefaultPSIFail || d.Linf < 0.3 {
		t.Fatalf("amount: %v", d)
	}
	if rep.Verdict != fail || rep.Drift[0].Column != "amount" {
		t.Fatalf("verdict %v, worst %v", rep.Verdict, rep.Drift[0])
	}
	if !strings.HasPrefix(rep.Summary, "FAIL: drift amount psi ") || !strings.Contains(rep.Summary, " ≥ 0.25") {
		t.Errorf("summary %q", rep.Summary)
	}
	// Two σ is inside the inferred range (the reference's, widened by its
	// width), and one column of three is below the drifted share.
	if len(rep.Violations) != 0 || rep.DriftedShare != 1.0/3 {
		t.Errorf("violations %v", rep.Violations)
	}
}

func TestRenamedCategoryFails(t *testing.T) {
	cur := replace(reference(), catCol("region", map[string]int64{"EU": 5000, "us": 3000, "asia": 2000}, 0))
	rep := Validate(reference(), cur, nil, nil, false)
	d := driftOf(rep, "region")
	if d == nil || d.Severity != fail || d.Value < 0.7 || d.Value > 0.71 || d.Linf != 0.5 { // sqrt(0.5)
		t.Fatalf("region: %v", d)
	}
	v := violation(rep.Violations, "region", RuleAllowed)
	if v == nil || v.Observed != "50.0% unseen (EU=5,000)" || v.Allowed != "≤ 1.0%" || v.Severity != fail {
		t.Fatalf("allowed violation: %v", v)
	}
	if rep.Verdict != fail || !strings.Contains(rep.Summary, "region js 0.707 ≥ 0.2") || !strings.Contains(rep.Summary, "contract region allowed 50.0% unseen > 1.0%") {
		t.Errorf("summary %q", rep.Summary)
	}
}

func TestInjectedNullsFail(t *testing.T) {
	values := normals(3, 8000, 100, 15)
	cur := replace(reference(), numCol("amount", values, 2000))
	rep := Validate(reference(), cur, nil, nil, false)
	v := violation(rep.Violations, "amount", RuleMaxNullFraction)
	if v == nil || v.Observed != "20.0% null" || v.Allowed != "≤ 1.0%" {
		t.Fatalf("null violation: %v", rep.Violations)
	}
	d := driftOf(rep, "amount")
	if d == nil || d.Severity != fail || d.Value < 1 || d.Linf < 0.19 { // the missing bin: 0.2·ln(0.2/1e-4) ≈ 1.5
		t.Fatalf("drift through the missing bin: %v", d)
	}
	// Nulls of a categorical column go to its missing bin too.
	cur = replace(reference(), catCol("plan", map[string]int64{"basic": 4800, "pro": 2400, "team": 800}, 2000))
	rep = Validate(reference(), cur, nil, nil, false)
	if d := driftOf(rep, "plan"); d == nil || d.Severity != fail || violation(rep.Violations, "plan", RuleMaxNullFraction) == nil {
		t.Errorf("categorical nulls: %v %v", d, rep.Violations)
	}
}

func TestHalfTheRowsFails(t *testing.T) {
	cur := dataset(
		numCol("amount", normals(4, 4000, 100, 15), 0),
		catCol("plan", map[string]int64{"basic": 2400, "pro": 1200, "team": 400}, 0),
		catCol("region", map[string]int64{"eu": 2000, "us": 1200, "asia": 800}, 0),
	)
	rep := Validate(reference(), cur, nil, nil, false)
	if len(rep.Violations) != 1 {
		t.Fatalf("violations %v", rep.Violations)
	}
	v := rep.Violations[0]
	if v.Column != "" || v.Rule != RuleMinRows || v.Observed != "4,000 rows" || v.Allowed != "≥ 5,000 (0.5 × 10,000)" {
		t.Fatalf("min_rows: %v", v)
	}
	if rep.Verdict != fail || rep.Summary != "FAIL: contract min_rows 4,000 rows < 5,000" {
		t.Errorf("%v %q (drift %v)", rep.Verdict, rep.Summary, rep.Drift)
	}
}

func TestSamplingNoiseIsOK(t *testing.T) {
	values, weights := []string{"basic", "pro", "team", "enterprise"}, []float64{0.6, 0.25, 0.14, 0.01}
	mk := func(seed uint64) *pb.DatasetProfile {
		return dataset(
			numCol("amount", normals(seed, 50000, 100, 15), 0),
			numCol("score", normals(seed+100, 50000, 0, 1), 0),
			catCol("plan", draws(seed, 50000, values, weights), 0),
		)
	}
	rep := Validate(mk(10), mk(20), nil, nil, false)
	if rep.Verdict != ok || len(rep.Violations) != 0 {
		t.Fatalf("resampled data: %v", rep)
	}
	for _, d := range rep.Drift {
		if d.Value > 0.01 {
			t.Errorf("%s: %s %g is more than noise", d.Column, d.Metric, d.Value)
		}
	}
}

func TestPerColumnOverrideAndIgnore(t *testing.T) {
	cur := replace(reference(), numCol("amount", normals(2, 10000, 130, 15), 0))
	// Loose thresholds for amount: it passes.
	pol, err := jobspec.NormalizeDrift(&pb.DriftPolicy{Columns: []*pb.ColumnDrift{{Name: "amount", Warn: 50, Fail: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	rep := Validate(reference(), cur, nil, pol, false)
	if d := driftOf(rep, "amount"); d.Severity != ok || d.Warn != 50 || d.Fail != 100 || rep.Verdict != ok {
		t.Fatalf("override: %v %v", d, rep.Verdict)
	}
	// Ignored: not compared at all.
	pol, _ = jobspec.NormalizeDrift(&pb.DriftPolicy{Columns: []*pb.ColumnDrift{{Name: "amount", Ignore: true}}})
	rep = Validate(reference(), cur, nil, pol, false)
	if driftOf(rep, "amount") != nil || len(rep.Drift) != 2 || rep.Verdict != ok {
		t.Fatalf("ignore: %v", rep)
	}
	// Tight thresholds for plan: a small change warns.
	cur = replace(reference(), catCol("plan", map[string]int64{"basic": 5800, "pro": 3200, "team": 1000}, 0))
	pol, _ = jobspec.NormalizeDrift(&pb.DriftPolicy{Columns: []*pb.ColumnDrift{{Name: "plan", Warn: 0.01, Fail: 0.5}}})
	rep = Validate(reference(), cur, nil, pol, false)
	if d := driftOf(rep, "plan"); d.Severity != warn || d.Warn != 0.01 || rep.Verdict != warn {
		t.Fatalf("tight override: %v %v", d, rep.Verdict)
	}
	// A disabled policy compares nothing; the contract still holds.
	rep = Validate(reference(), cur, nil, &pb.DriftPolicy{Disabled: true}, false)
	if len(rep.Drift) != 0 || rep.Verdict != ok || !strings.Contains(rep.Summary, "drift not checked") {
		t.Errorf("disabled: %v", rep)
	}
}

// mildly shifts a numeric column by 0.4σ: a PSI between warn and fail.
func mildly(name string, seed uint64) (ref, cur *pb.ColumnProfile) {
	return numCol(name, normals(seed, 20000, 0, 1), 0), numCol(name, normals(seed+1000, 20000, 0.4, 1), 0)
}

func TestDriftedShareRule(t *testing.T) {
	var refCols, curCols []*pb.ColumnProfile
	for i := range 4 {
		r, c := mildly(fmt.Sprintf("c%d", i), uint64(i))
		refCols, curCols = append(refCols, r), append(curCols, c)
	}
	for i := range 4 {
		r := numCol(fmt.Sprintf("s%d", i), normals(uint64(50+i), 20000, 0, 1), 0)
		refCols, curCols = append(refCols, r), append(curCols, r)
	}
	// Half the columns warn: the dataset fails.
	rep := Validate(dataset(refCols...), dataset(curCols...), nil, nil, false)
	for _, d := range rep.Drift[:4] {
		if d.Severity != warn {
			t.Fatalf("%s: %v (want a mild shift)", d.Column, d)
		}
	}
	if rep.DriftedShare != 0.5 || rep.Verdict != fail {
		t.Fatalf("share %g, verdict %v", rep.DriftedShare, rep.Verdict)
	}
	v := violation(rep.Violations, "", RuleDriftedShare)
	if v == nil || !strings.HasPrefix(v.Observed, "50.0% of 8 columns drifted (c") || !strings.HasSuffix(v.Observed, ", …)") || v.Allowed != "< 50.0%" {
		t.Fatalf("share violation: %v", v)
	}
	if !strings.Contains(rep.Summary, "drifted_share 50.0% of 8 columns drifted ≥ 50.0%") {
		t.Errorf("summary %q", rep.Summary)
	}
	// A quarter: WARN only, unless warnings fail.
	cur := append(append([]*pb.ColumnProfile{}, curCols[:2]...), refCols[2:]...)
	rep = Validate(dataset(refCols...), dataset(cur...), nil, nil, false)
	if rep.DriftedShare != 0.25 || rep.Verdict != warn || len(rep.Violations) != 0 || !strings.HasPrefix(rep.Summary, "WARN: drift c") {
		t.Fatalf("a quarter drifted: %v %g %q", rep.Verdict, rep.DriftedShare, rep.Summary)
	}
	rep = Validate(dataset(refCols...), dataset(cur...), nil, nil, true)
	if rep.Verdict != fail || !strings.HasPrefix(rep.Summary, "FAIL (warnings fail): drift c") {
		t.Fatalf("fail on warn: %v %q", rep.Verdict, rep.Summary)
	}
	// A policy's share.
	pol, _ := jobspec.NormalizeDrift(&pb.DriftPolicy{DriftedShareFail: 0.2})
	if rep = Validate(dataset(refCols...), dataset(cur...), nil, pol, false); rep.Verdict != fail {
		t.Errorf("share 0.2: %v", rep.Verdict)
	}
}

func TestDriftSortedWorstFirst(t *testing.T) {
	ref := dataset(
		numCol("ok", normals(1, 5000, 0, 1), 0),
		numCol("b", normals(2, 5000, 0, 1), 0),
		numCol("a", normals(2, 5000, 0, 1), 0),
		numCol("mild", normals(3, 5000, 0, 1), 0),
		numCol("big", normals(4, 5000, 0, 1), 0),
		catCol("cat", map[string]int64{"x": 5000}, 0),
	)
	cur := dataset(
		numCol("ok", normals(1, 5000, 0, 1), 0),
		numCol("b", normals(12, 5000, 1, 1), 0),
		numCol("a", normals(12, 5000, 1, 1), 0), // b's twin: ties break by name
		numCol("mild", normals(13, 5000, 0.4, 1), 0),
		numCol("big", normals(14, 5000, 5, 1), 0),
		catCol("cat", map[string]int64{"y": 5000}, 0),
	)
	results, share := Drift(ref, cur, nil)
	var got []string
	for _, r := range results {
		got = append(got, r.Column)
	}
	// big's PSI (≈ 9+) is above cat's JS (1): FAILs by value.
	if strings.Join(got, " ") != "big cat a b mild ok" {
		t.Fatalf("order %v (%v)", got, results)
	}
	if results[0].Severity != fail || results[3].Severity != fail || results[4].Severity != warn || results[5].Severity != ok {
		t.Errorf("severities %v", results)
	}
	if results[1].Value != 1 || results[1].Linf != 1 {
		t.Errorf("disjoint categories: %v", results[1])
	}
	if share != 5.0/6 {
		t.Errorf("share %g", share)
	}
	// Columns missing on one side or of another kind are not compared.
	cur.Columns[0] = catCol("ok", map[string]int64{"1": 5000}, 0)
	cur.Columns = cur.Columns[:5]
	results, _ = Drift(ref, cur, nil)
	if len(results) != 4 {
		t.Errorf("compared %v", results)
	}
}

func TestValidateWithoutReference(t *testing.T) {
	cur := reference()
	rep := Validate(nil, cur, nil, nil, false)
	if rep.Verdict != ok || len(rep.Violations) != 0 || len(rep.Drift) != 0 || rep.Summary != "OK: no contract; drift not checked" {
		t.Fatalf("no reference: %v", rep)
	}
	// An explicit contract is checked without a reference; its row ratios
	// need reference rows.
	ct := &pb.DataContract{MinRowsRatio: 0.5, AllowExtraColumns: true, Columns: []*pb.ColumnContract{
		{Name: "amount", Required: true, MaxNullFraction: -1, HasMax: true, Max: 50},
		{Name: "zip", Required: true, MaxNullFraction: -1},
	}}
	rep = Validate(nil, cur, ct, nil, false)
	if len(rep.Violations) != 2 || rep.Verdict != fail ||
		!strings.HasPrefix(rep.Summary, "FAIL: contract amount max ") || !strings.HasSuffix(rep.Summary, " > 50, zip missing") {
		t.Fatalf("explicit contract: %v %q", rep.Violations, rep.Summary)
	}
	// With a reference, the ratios apply to its rows.
	big := reference()
	big.Rows = 30000
	rep = Validate(big, cur, ct, nil, false)
	if v := violation(rep.Violations, "", RuleMinRows); v == nil || v.Allowed != "≥ 15,000 (0.5 × 30,000)" {
		t.Errorf("rows from the reference: %v", rep.Violations)
	}
	if ct.ReferenceRows != 0 {
		t.Error("Validate changed the contract")
	}
}

func TestSummaryIsBounded(t *testing.T) {
	var refCols, curCols []*pb.ColumnProfile
	for i := range 30 {
		name := fmt.Sprintf("a_rather_long_column_name_of_the_feature_store_%02d", i)
		refCols = append(refCols, numCol(name, normals(uint64(i), 2000, 0, 1), 0))
		curCols = append(curCols, numCol(name, normals(uint64(i+100), 1000, 50, 1), 1000))
	}
	rep := Validate(dataset(refCols...), dataset(curCols...), nil, nil, false)
	if len(rep.Summary) > maxSummaryLen+len("…") || !strings.Contains(rep.Summary, "and 27 more") {
		t.Errorf("summary (%d bytes): %q", len(rep.Summary), rep.Summary)
	}
}
