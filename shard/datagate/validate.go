package datagate

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Validate runs the data gates of the dataset profiled by cur against the
// reference ref (nil: none yet) and returns the report; its reference
// field is the caller's to fill.
//
//   - The contract is contract, else InferContract(ref); with neither no
//     contract is checked. An explicit contract without reference_rows
//     takes ref's row count for its row ratios.
//   - Drift is checked against ref under policy (as Drift), unless ref is
//     nil or the policy disabled; when at least the policy's
//     drifted_share_fail of the compared columns drifted to WARN or beyond,
//     a dataset-level violation (rule "drifted_share") fails the dataset.
//   - The verdict is the worst severity found (OK when nothing is);
//     failOnWarn makes a WARN verdict FAIL.
//   - The summary is one line naming the worst findings, drift first,
//     e.g. "FAIL: drift amount psi 0.83 ≥ 0.25, plan js 0.41 ≥ 0.2;
//     contract region allowed 12.5% unseen > 1.0%", at most a few of each
//     and "and N more".
func Validate(ref, cur *pb.DatasetProfile, contract *pb.DataContract, policy *pb.DriftPolicy, failOnWarn bool) *pb.ValidationReport {
	rep := &pb.ValidationReport{Dataset: cur.GetDataset(), Fingerprint: cur.GetFingerprint(), Verdict: pb.Severity_SEVERITY_OK}
	switch {
	case contract == nil:
		contract = InferContract(ref)
	case ref != nil && contract.GetReferenceRows() == 0:
		contract = proto.Clone(contract).(*pb.DataContract)
		contract.ReferenceRows = ref.GetRows()
	}
	rep.Violations = CheckContract(contract, cur)
	pol := thresholds(policy)
	driftChecked := ref != nil && !pol.GetDisabled()
	if driftChecked {
		rep.Drift, rep.DriftedShare = Drift(ref, cur, pol)
		if len(rep.Drift) > 0 && rep.DriftedShare >= pol.GetDriftedShareFail() {
			rep.Violations = append(rep.Violations, driftedShareViolation(rep, pol.GetDriftedShareFail()))
		}
	}
	for _, v := range rep.Violations {
		rep.Verdict = max(rep.Verdict, v.GetSeverity())
	}
	for _, d := range rep.Drift {
		rep.Verdict = max(rep.Verdict, d.GetSeverity())
	}
	escalated := false
	if failOnWarn && rep.Verdict == pb.Severity_SEVERITY_WARN {
		rep.Verdict, escalated = pb.Severity_SEVERITY_FAIL, true
	}
	rep.Summary = summary(rep, contract != nil, driftChecked, escalated)
	return rep
}

// driftedShareViolation is the dataset-level drift finding: "60% of 10
// columns (amount, plan, …)" against "< 50%".
func driftedShareViolation(rep *pb.ValidationReport, limit float64) *pb.Violation {
	var names []string
	for _, d := range rep.Drift {
		if d.GetSeverity() >= pb.Severity_SEVERITY_WARN {
			names = append(names, name(d.GetColumn()))
		}
	}
	if len(names) > maxSummaryItems {
		names = append(names[:maxSummaryItems], "…")
	}
	return &pb.Violation{Rule: RuleDriftedShare, Severity: pb.Severity_SEVERITY_FAIL,
		Observed: fmt.Sprintf("%s of %d columns drifted (%s)", pct(rep.GetDriftedShare()), len(rep.Drift), strings.Join(names, ", ")),
		Allowed:  "< " + pct(limit)}
}

// Bounds of the summary: findings named per part, and its length.
const (
	maxSummaryItems = 3
	maxSummaryLen   = 400
)

// summary is the report's one line.
func summary(rep *pb.ValidationReport, contractChecked, driftChecked, escalated bool) string {
	head := severityWord(rep.GetVerdict())
	if escalated {
		head += " (warnings fail)"
	}
	var drift, contract []string
	for _, d := range rep.GetDrift() {
		if d.GetSeverity() < pb.Severity_SEVERITY_WARN {
			continue
		}
		limit := d.GetWarn()
		if d.GetSeverity() == pb.Severity_SEVERITY_FAIL {
			limit = d.GetFail()
		}
		drift = append(drift, fmt.Sprintf("%s %s %s ≥ %s", name(d.GetColumn()), d.GetMetric(), stat(d.GetValue()), stat(limit)))
	}
	for _, v := range rep.GetViolations() {
		contract = append(contract, violationItem(v))
	}
	var parts []string
	if len(drift) > 0 {
		parts = append(parts, "drift "+items(drift))
	}
	if len(contract) > 0 {
		parts = append(parts, "contract "+items(contract))
	}
	if len(parts) == 0 {
		// Nothing found: say what was checked.
		switch {
		case contractChecked:
			parts = append(parts, "contract holds")
		default:
			parts = append(parts, "no contract")
		}
		switch {
		case !driftChecked:
			parts = append(parts, "drift not checked")
		case len(rep.GetDrift()) == 0:
			parts = append(parts, "no column to compare for drift")
		default:
			d := rep.GetDrift()
			worst := d[0]
			for _, x := range d[1:] {
				if closeness(x) > closeness(worst) {
					worst = x
				}
			}
			parts = append(parts, fmt.Sprintf("no drift in %d columns (closest: %s %s %s < %s)", len(d),
				name(worst.GetColumn()), worst.GetMetric(), stat(worst.GetValue()), stat(worst.GetWarn())))
		}
	}
	s := head + ": " + strings.Join(parts, "; ")
	if len(s) > maxSummaryLen {
		cut := maxSummaryLen
		for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// closeness is how near a column is to its warn threshold.
func closeness(d *pb.ColumnDriftResult) float64 {
	if d.GetWarn() <= 0 {
		return d.GetValue()
	}
	return d.GetValue() / d.GetWarn()
}

// items joins a part's findings, naming at most maxSummaryItems.
func items(list []string) string {
	if len(list) <= maxSummaryItems {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:maxSummaryItems], ", ") + fmt.Sprintf(" and %d more", len(list)-maxSummaryItems)
}

// violationItem is a violation in the summary: "region allowed 12.5%
// unseen > 1.0%", "amount missing", "min_rows 40,000 rows < 50,000".
func violationItem(v *pb.Violation) string {
	obs, _, _ := strings.Cut(v.GetObserved(), " (")
	who := name(v.GetColumn())
	switch v.GetRule() {
	case RuleRequired:
		return who + " missing"
	case RuleKind:
		return fmt.Sprintf("%s kind %s, want %s", who, obs, v.GetAllowed())
	case RuleExtraColumn:
		return who + " extra column"
	}
	if who == "" {
		who = v.GetRule()
	} else {
		who += " " + v.GetRule()
	}
	allowed, _, _ := strings.Cut(v.GetAllowed(), " (")
	for _, r := range []struct{ from, to string }{{"≤ ", "> "}, {"≥ ", "< "}, {"< ", "≥ "}} {
		if rest, ok := strings.CutPrefix(allowed, r.from); ok {
			return fmt.Sprintf("%s %s %s%s", who, obs, r.to, rest)
		}
	}
	return fmt.Sprintf("%s %s (allowed: %s)", who, obs, allowed)
}

func severityWord(s pb.Severity) string {
	switch s {
	case pb.Severity_SEVERITY_OK:
		return "OK"
	case pb.Severity_SEVERITY_WARN:
		return "WARN"
	case pb.Severity_SEVERITY_FAIL:
		return "FAIL"
	}
	return "UNKNOWN"
}
