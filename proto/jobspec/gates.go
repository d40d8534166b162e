package jobspec

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The data gates' defaults (docs/architecture.md §12). Package
// shard/datagate applies them; this is their one home, so the CLI's help,
// the coordinator and the checks agree.
//
// Drift thresholds. The peers differ: TFDV sets no default (its docs'
// example is 0.01), Evidently uses 0.1 for both the PSI and the
// Jensen–Shannon distance and calls a dataset drifted when half its
// columns drift.
const (
	// DefaultPSIWarn and DefaultPSIFail follow the credit-scoring rule of
	// thumb for the population stability index (Siddiqi 2006): below 0.1
	// the population is stable, 0.1 to 0.25 a moderate shift worth a look,
	// above 0.25 a significant shift that invalidates a model's inputs.
	DefaultPSIWarn = 0.1
	DefaultPSIFail = 0.25
	// DefaultJSWarn is Evidently's threshold of the Jensen–Shannon
	// distance (base 2, in [0, 1]); DefaultJSFail doubles it. Moving a
	// share m of the rows to values the reference never had scores
	// sqrt(m): warn when 1% of the rows changed that way, fail at 4% (a
	// renamed or re-cased category of 4% of the rows), a change a model
	// of the column does not survive unnoticed.
	DefaultJSWarn = 0.1
	DefaultJSFail = 0.2
	// DefaultDriftedShare fails a dataset when at least half of the
	// compared columns drifted to warn or beyond (Evidently's dataset
	// drift rule): many mild shifts together are a changed population even
	// when no single column fails.
	DefaultDriftedShare = 0.5
	// PSIBins is the reference's quantile bins of the PSI: deciles, the
	// usual choice, fine enough to see a shift of a tail and coarse enough
	// that sampling noise stays far below DefaultPSIWarn (its expectation
	// is about (PSIBins−1)·(1/n_ref + 1/n_cur): 4e-4 for 50,000 rows each).
	PSIBins = 10
	// PSIFloor is the smallest proportion of a bin in the PSI: a bin empty
	// on one side would make ln(p/q) infinite. 1e-4 bounds one bin's term
	// near ln(1e4) ≈ 9.2 times its other proportion.
	PSIFloor = 1e-4
)

// Contract inference (datagate.InferContract) and the bounds of a
// contract.
const (
	// DefaultMinRowsRatio and DefaultMaxRowsRatio bound the row count to
	// half and twice the reference's: a nightly dataset of half the usual
	// size is a partial export, one of twice the size a duplicated one;
	// ordinary growth stays well inside.
	DefaultMinRowsRatio = 0.5
	DefaultMaxRowsRatio = 2.0
	// DefaultMaxUnseenFraction is the share of a categorical column's
	// non-null rows that may hold values the reference did not: 1% lets a
	// new product code in and stops a renamed or re-cased category.
	DefaultMaxUnseenFraction = 0.01
	// MaxInferredCategories is the most values an inferred contract lists
	// for a categorical column: beyond it the column is an identifier or
	// free text, whose new values are normal, and drift watches it instead.
	MaxInferredCategories = 100
	// NullSlackFactor and NullSlackPoints widen the reference's null (and
	// NaN) fraction f into the inferred ceiling min(1, max(2f, f + 0.01)):
	// twice the usual nulls is a broken join or source; the additive point
	// keeps a column with few or no nulls from failing on a handful.
	NullSlackFactor = 2.0
	NullSlackPoints = 0.01
	// MaxContractColumns bounds the columns of a contract and the
	// per-column entries of a drift policy: both travel in every pipeline
	// spec (and the Raft log).
	MaxContractColumns = 1000
	// MaxAllowedValues bounds a contract column's allowed values, for the
	// same reason.
	MaxAllowedValues = 10000
)

// UncheckedNullFraction is the max_null_fraction of a contract column
// whose nulls are not checked (any negative value is; a contract document
// leaves the field out).
const UncheckedNullFraction = -1.0

// Kind words of a contract column, as the contract document writes them.
var ColumnKinds = []string{"numeric", "categorical", "other"}

// NullCeiling is the inferred ceiling of a column's null fraction whose
// reference fraction is f: min(1, max(NullSlackFactor·f, f +
// NullSlackPoints)).
func NullCeiling(f float64) float64 {
	return min(1, max(NullSlackFactor*f, f+NullSlackPoints))
}

// NormalizeDrift checks a drift policy and returns a copy with its zero
// thresholds filled by the defaults (nil: the defaults). The error is an
// Errors with paths under "drift." ("drift.psi_fail",
// "drift.columns[2].warn"): thresholds must be finite and ≥ 0, a JS
// distance at most 1, each warn at most its fail, the drifted share in
// (0, 1]. A per-column entry names a column once and either ignores it or
// sets both warn and fail (> 0, warn ≤ fail); they replace the policy's
// thresholds of whichever metric the column gets (PSI for a numeric
// column, JS for a categorical one), so a value above 1 on a categorical
// column never fires.
func NormalizeDrift(d *pb.DriftPolicy) (*pb.DriftPolicy, error) {
	c := newChecker()
	out := normalizeDrift(c.at("drift"), d)
	return out, c.errs.err()
}

func normalizeDrift(c checker, d *pb.DriftPolicy) *pb.DriftPolicy {
	out := &pb.DriftPolicy{}
	if d != nil {
		out = proto.Clone(d).(*pb.DriftPolicy)
	}
	fill := func(field string, v *float64, def, most float64) bool {
		switch {
		case math.IsNaN(*v) || math.IsInf(*v, 0):
			c.bad(field, "%v: want a finite number", *v)
		case *v < 0:
			c.bad(field, "must be ≥ 0 (0: the default %g), got %g", def, *v)
		case *v > most:
			c.bad(field, "at most %g, got %g", most, *v)
		default:
			if *v == 0 {
				*v = def
			}
			return true
		}
		return false
	}
	pair := func(metric string, warn, fail *float64, defWarn, defFail, most float64) {
		okWarn := fill(metric+"_warn", warn, defWarn, most)
		okFail := fill(metric+"_fail", fail, defFail, most)
		if okWarn && okFail && *warn > *fail {
			c.bad(metric+"_warn", "%g is above the fail threshold (%g)", *warn, *fail)
		}
	}
	pair("psi", &out.PsiWarn, &out.PsiFail, DefaultPSIWarn, DefaultPSIFail, math.MaxFloat64)
	pair("js", &out.JsWarn, &out.JsFail, DefaultJSWarn, DefaultJSFail, 1)
	fill("drifted_share_fail", &out.DriftedShareFail, DefaultDriftedShare, 1)
	if len(out.Columns) > MaxContractColumns {
		c.bad("columns", "at most %d entries, got %d", MaxContractColumns, len(out.Columns))
		return out
	}
	seen := map[string]bool{}
	for i, col := range out.Columns {
		cc := c.at(index("columns", i)) // a clone: no nil entry
		checkColumnName(cc, col.Name, seen)
		finite := true
		for _, t := range []struct {
			field string
			v     float64
		}{{"warn", col.Warn}, {"fail", col.Fail}} {
			switch {
			case math.IsNaN(t.v) || math.IsInf(t.v, 0):
				cc.bad(t.field, "%v: want a finite number", t.v)
				finite = false
			case t.v < 0:
				cc.bad(t.field, "must be > 0, got %g", t.v)
				finite = false
			}
		}
		switch {
		case !finite:
		case col.Ignore && (col.Warn != 0 || col.Fail != 0):
			cc.bad("ignore", "an ignored column has no thresholds: drop warn and fail, or ignore")
		case col.Ignore:
		case col.Warn == 0 && col.Fail == 0:
			cc.bad("", "sets nothing: want warn and fail, or ignore")
		case col.Warn == 0:
			cc.bad("warn", "must be > 0 when fail is set (the column's thresholds replace the policy's)")
		case col.Fail == 0:
			cc.bad("fail", "must be > 0 when warn is set (the column's thresholds replace the policy's)")
		case col.Warn > col.Fail:
			cc.bad("warn", "%g is above the fail threshold (%g)", col.Warn, col.Fail)
		}
	}
	return out
}

// checkColumnName records an empty, non-UTF-8 or repeated column name.
func checkColumnName(c checker, name string, seen map[string]bool) {
	switch {
	case strings.TrimSpace(name) == "":
		c.bad("name", "empty column name")
	case !utf8.ValidString(name):
		c.bad("name", "%q is not valid UTF-8", name)
	case seen[name]:
		c.bad("name", "column %q is listed twice", name)
	}
	seen[name] = true
}

// CheckContract checks a data contract by itself (whether its columns
// exist is ContractColumns'). The error is an Errors with paths under
// "contract." ("contract.columns[1].max_null_fraction"): column names are
// non-empty and unique, at most MaxContractColumns of them; numbers are
// finite; fractions are at most 1 (a negative max_null_fraction means
// unchecked), max_unseen_fraction at least 0; min ≤ max when both are
// checked; the row ratios are ≥ 0 and min ≤ max when max is set; allowed
// values are unique, at most MaxAllowedValues; min and max go with a
// numeric (or unspecified) kind, allowed with a categorical (or
// unspecified) one.
func CheckContract(ct *pb.DataContract) error {
	c := newChecker()
	if ct == nil {
		c.bad("contract", "no contract")
		return c.errs.err()
	}
	checkContract(c.at("contract"), ct)
	return c.errs.err()
}

func checkContract(c checker, ct *pb.DataContract) {
	finite := func(field string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			c.bad(field, "%v: want a finite number", v)
			return false
		}
		return true
	}
	minOK := finite("min_rows_ratio", ct.MinRowsRatio)
	maxOK := finite("max_rows_ratio", ct.MaxRowsRatio)
	switch {
	case minOK && ct.MinRowsRatio < 0:
		c.bad("min_rows_ratio", "must be ≥ 0 (0: no lower bound), got %g", ct.MinRowsRatio)
	case maxOK && ct.MaxRowsRatio < 0:
		c.bad("max_rows_ratio", "must be ≥ 0 (0: no upper bound), got %g", ct.MaxRowsRatio)
	case minOK && maxOK && ct.MaxRowsRatio > 0 && ct.MinRowsRatio > ct.MaxRowsRatio:
		c.bad("min_rows_ratio", "%g is above the maximum ratio (%g)", ct.MinRowsRatio, ct.MaxRowsRatio)
	}
	if ct.ReferenceRows < 0 {
		c.bad("reference_rows", "must be ≥ 0 (0: the reference's), got %d", ct.ReferenceRows)
	}
	if len(ct.Columns) > MaxContractColumns {
		c.bad("columns", "at most %d columns, got %d", MaxContractColumns, len(ct.Columns))
		return
	}
	seen := map[string]bool{}
	for i, col := range ct.Columns {
		cc := c.at(index("columns", i))
		if col == nil {
			cc.bad("", "empty entry")
			continue
		}
		checkColumnName(cc, col.Name, seen)
		checkColumnContract(cc, col)
	}
}

func checkColumnContract(c checker, col *pb.ColumnContract) {
	kind := col.Kind
	if _, ok := pb.ColumnKind_name[int32(kind)]; !ok {
		c.bad("kind", "%d: want %s", kind, orList(ColumnKinds))
		kind = pb.ColumnKind_COLUMN_KIND_UNSPECIFIED
	}
	switch f := col.MaxNullFraction; {
	case math.IsNaN(f) || math.IsInf(f, 0):
		c.bad("max_null_fraction", "%v: want a fraction in [0, 1] (negative: unchecked)", f)
	case f > 1:
		c.bad("max_null_fraction", "at most 1 (a fraction of the rows), got %g", f)
	}
	switch f := col.MaxUnseenFraction; {
	case math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1:
		c.bad("max_unseen_fraction", "%v: want a fraction in [0, 1]", f)
	}
	numeric := kind == pb.ColumnKind_COLUMN_KIND_NUMERIC || kind == pb.ColumnKind_COLUMN_KIND_UNSPECIFIED
	categorical := kind == pb.ColumnKind_COLUMN_KIND_CATEGORICAL || kind == pb.ColumnKind_COLUMN_KIND_UNSPECIFIED
	bounds := true
	for _, b := range []struct {
		field string
		has   bool
		v     float64
	}{{"min", col.HasMin, col.Min}, {"max", col.HasMax, col.Max}} {
		switch {
		case !b.has:
		case !numeric:
			c.bad(b.field, "a range needs a numeric column, not %s", KindWord(kind))
			bounds = false
		case math.IsNaN(b.v) || math.IsInf(b.v, 0):
			c.bad(b.field, "%v: want a finite number", b.v)
			bounds = false
		}
	}
	if bounds && col.HasMin && col.HasMax && col.Min > col.Max {
		c.bad("min", "%g is above max (%g)", col.Min, col.Max)
	}
	if len(col.Allowed) == 0 {
		return
	}
	if !categorical {
		c.bad("allowed", "allowed values need a categorical column, not %s", KindWord(kind))
		return
	}
	if len(col.Allowed) > MaxAllowedValues {
		c.bad("allowed", "at most %d values, got %d", MaxAllowedValues, len(col.Allowed))
		return
	}
	seen := make(map[string]bool, len(col.Allowed))
	for j, v := range col.Allowed {
		switch {
		case !utf8.ValidString(v):
			c.bad(index("allowed", j), "%q is not valid UTF-8", v)
		case seen[v]:
			c.bad(index("allowed", j), "value %q is listed twice", v)
		}
		seen[v] = true
	}
}

// KindWord is a column kind as a contract document writes it
// ("numeric"), "unspecified" for none.
func KindWord(k pb.ColumnKind) string {
	switch k {
	case pb.ColumnKind_COLUMN_KIND_NUMERIC:
		return "numeric"
	case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
		return "categorical"
	case pb.ColumnKind_COLUMN_KIND_OTHER:
		return "other"
	case pb.ColumnKind_COLUMN_KIND_UNSPECIFIED:
		return "unspecified"
	}
	return fmt.Sprintf("kind %d", k)
}

// maxListedColumns is how many of the dataset's columns an error lists.
const maxListedColumns = 20

// ContractColumns checks that every column a contract names is one of
// have, the columns of the reference (or of the dataset) it applies to:
// a contract naming a column the data never had is a typo, told at submit
// rather than as a missing column every night. The error is an Errors
// naming each such column ("contract.columns[2].name"), with the closest
// column name when one is near.
func ContractColumns(ct *pb.DataContract, have []string) error {
	c := newChecker()
	contractColumns(c.at("contract"), ct, have)
	return c.errs.err()
}

func contractColumns(c checker, ct *pb.DataContract, have []string) {
	set := make(map[string]bool, len(have))
	for _, h := range have {
		set[h] = true
	}
	list := strings.Join(have[:min(len(have), maxListedColumns)], ", ")
	if len(have) > maxListedColumns {
		list += fmt.Sprintf(" and %d more", len(have)-maxListedColumns)
	}
	if len(have) == 0 {
		list = "none"
	}
	for i, col := range ct.GetColumns() {
		if col == nil || set[col.Name] {
			continue
		}
		hint := ""
		if near := nearest(col.Name, have); near != "" {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		c.bad(index("columns", i)+".name", "column %q is not in the reference dataset (columns: %s)%s", col.Name, list, hint)
	}
}

// nearest is the name of have closest to name: equal but for case, or at
// most two edits away (and fewer than half its length); "" when none is.
func nearest(name string, have []string) string {
	best, bestD := "", 3
	for _, h := range have {
		if strings.EqualFold(h, name) {
			return h
		}
		if d := editDistance(name, h, bestD); d < bestD && 2*d < len([]rune(name)) {
			best, bestD = h, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it
// is at least limit (long names are not compared in full).
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit || len(ra) > 256 || len(rb) > 256 {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}
