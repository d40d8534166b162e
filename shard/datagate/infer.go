package datagate

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// InferContract returns the contract a dataset must satisfy to be
// treated as the reference was: the contract a pipeline checks unless it
// writes its own, and the starting point of one (`nightshift datasets
// contract` prints it as YAML). nil for a nil reference. The rules, and
// why:
//
//   - Every reference column is required, with its kind: a column dropped
//     or retyped upstream breaks every model that reads it.
//   - A column's null (and NaN) fraction may be at most
//     jobspec.NullCeiling of the reference's, min(1, max(2f, f + 0.01)):
//     twice the usual nulls is a broken join or source, and the added
//     point keeps a column with few nulls from failing on a handful.
//   - A numeric column's finite values must lie within the reference's
//     range [min, max] widened by its width r = max − min on each side
//     (by |min|, or 1 for a constant 0, when the reference is constant):
//     wide enough for ordinary new extremes, narrow enough to catch unit
//     mistakes (cents for euros) and sign flips; the shape of the
//     distribution is the drift check's. The bounds are rounded outward
//     to about a hundredth of r, to read well. No range when the reference had
//     no finite value. Infinities are allowed only if the reference had
//     some.
//   - A categorical column whose reference summary is exact and holds at
//     most jobspec.MaxInferredCategories values allows only those, with
//     jobspec.DefaultMaxUnseenFraction of the non-null rows tolerated
//     unseen: a renamed or re-cased category fails, a rare new one does
//     not. A column with more values (an identifier, free text) gets no
//     domain: new values are normal there, and drift watches it.
//   - The row count must lie within jobspec.DefaultMinRowsRatio and
//     DefaultMaxRowsRatio times the reference's: half is a partial export,
//     twice a duplicated one.
//   - Extra columns are allowed: adding a column upstream breaks nothing
//     that reads the others.
func InferContract(ref *pb.DatasetProfile) *pb.DataContract {
	if ref == nil {
		return nil
	}
	ct := &pb.DataContract{
		MinRowsRatio: jobspec.DefaultMinRowsRatio, MaxRowsRatio: jobspec.DefaultMaxRowsRatio,
		ReferenceRows: ref.GetRows(), AllowExtraColumns: true,
	}
	seen := map[string]bool{}
	for _, col := range ref.GetColumns() {
		if col.GetName() == "" || seen[col.GetName()] || !utf8.ValidString(col.GetName()) {
			continue // not a column a contract can name
		}
		seen[col.GetName()] = true
		if len(ct.Columns) == jobspec.MaxContractColumns {
			break
		}
		cc := &pb.ColumnContract{Name: col.GetName(), Required: true, Kind: col.GetKind(),
			MaxNullFraction: ceilFraction(jobspec.NullCeiling(nullFraction(col)))}
		if _, ok := pb.ColumnKind_name[int32(cc.Kind)]; !ok {
			cc.Kind = pb.ColumnKind_COLUMN_KIND_UNSPECIFIED
		}
		if n := col.GetNumeric(); n != nil && cc.Kind != pb.ColumnKind_COLUMN_KIND_CATEGORICAL && cc.Kind != pb.ColumnKind_COLUMN_KIND_OTHER {
			cc.AllowInf = n.GetPosInf()+n.GetNegInf() > 0
			if lo, hi, ok := widened(n); ok {
				cc.HasMin, cc.Min, cc.HasMax, cc.Max = true, lo, true, hi
			}
		}
		if c := col.GetCategorical(); c != nil && cc.Kind != pb.ColumnKind_COLUMN_KIND_NUMERIC && cc.Kind != pb.ColumnKind_COLUMN_KIND_OTHER {
			cc.Allowed = domain(c)
			if len(cc.Allowed) > 0 {
				cc.MaxUnseenFraction = jobspec.DefaultMaxUnseenFraction
			}
		}
		ct.Columns = append(ct.Columns, cc)
	}
	return ct
}

// nullFraction is the share of a column's rows that are null or NaN.
func nullFraction(col *pb.ColumnProfile) float64 {
	if col.GetCount() <= 0 {
		return 0
	}
	return min(1, float64(col.GetNulls()+col.GetNumeric().GetNan())/float64(col.GetCount()))
}

// ceilFraction rounds a fraction up to 4 decimals, so the contract reads
// well as YAML ("0.0234", not "0.023456790123456").
func ceilFraction(f float64) float64 {
	return min(1, math.Ceil(f*1e4-1e-9)/1e4)
}

// widened is the inferred range of a numeric column: [min − r, max + r],
// r = max − min (|min|, or 1, for a constant column), within the finite
// floats; ok is false when the column had no finite value.
func widened(n *pb.NumericStats) (lo, hi float64, ok bool) {
	lo, hi = n.GetMin(), n.GetMax()
	refMin, refMax := lo, hi
	if n.GetFinite() <= 0 || math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
		return 0, 0, false
	}
	r := hi - lo
	if r == 0 {
		r = math.Abs(lo)
		if r == 0 {
			r = 1
		}
	}
	r = min(r, math.MaxFloat64)
	lo, hi = max(lo-r, -math.MaxFloat64), min(hi+r, math.MaxFloat64)
	// Rounded outward to a step of about a hundredth of r, so the
	// contract reads well ("min: -60", not "min: -59.72889095575284").
	// The reference always satisfies its own contract.
	if step := math.Pow(10, math.Floor(math.Log10(r))-2); step > 0 && !math.IsInf(step, 0) {
		if x := tidy(math.Floor(lo/step) * step); x <= refMin && x >= -math.MaxFloat64 {
			lo = x
		}
		if x := tidy(math.Ceil(hi/step) * step); x >= refMax && x <= math.MaxFloat64 {
			hi = x
		}
	}
	return lo, hi, true
}

// tidy drops the binary noise of a rounded decimal (0.30000000000000004).
func tidy(x float64) float64 {
	y, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
	if err != nil {
		return x
	}
	return y
}

// domain is the allowed values inferred from a categorical column, sorted:
// all of them when the summary is exact and holds at most
// MaxInferredCategories; none otherwise.
func domain(c *pb.CategoricalStats) []string {
	top := c.GetTop()
	if !c.GetExact() || c.GetOther() > 0 || len(top) == 0 || len(top) > jobspec.MaxInferredCategories {
		return nil
	}
	out := make([]string, 0, len(top))
	for _, t := range top {
		if !utf8.ValidString(t.GetValue()) {
			return nil
		}
		out = append(out, t.GetValue())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
