package profile

import (
	"errors"
	"fmt"
	"math"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Check reports the first broken invariant of p, naming the column and
// the field. The decoders run it, so a profile read back is one that
// Merge, Finish and the data gates can trust; the encoders run it, so one
// that would not read back is never written.
func Check(p *pb.DatasetProfile) error {
	if p == nil {
		return errors.New("no profile")
	}
	if p.FormatVersion != FormatVersion {
		return fmt.Errorf("format_version %d is not supported (want %d)", p.FormatVersion, FormatVersion)
	}
	if p.Rows < 0 {
		return fmt.Errorf("rows %d is negative", p.Rows)
	}
	if p.Shards < 1 {
		return fmt.Errorf("shards %d is not positive", p.Shards)
	}
	for i, c := range p.Columns {
		if c == nil {
			return fmt.Errorf("column %d is missing", i)
		}
		if err := checkColumn(c, p.Rows); err != nil {
			return fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return nil
}

func checkColumn(c *pb.ColumnProfile, rows int64) error {
	switch {
	case c.Count != rows:
		return fmt.Errorf("count %d is not the profile's %d rows", c.Count, rows)
	case c.Nulls < 0:
		return fmt.Errorf("nulls %d is negative", c.Nulls)
	case c.Nulls > c.Count:
		return fmt.Errorf("nulls %d exceeds count %d", c.Nulls, c.Count)
	}
	if err := statsFor(c); err != nil {
		return err
	}
	nonNull := c.Count - c.Nulls
	if c.Numeric != nil {
		if err := checkNumeric(c.Numeric, nonNull); err != nil {
			return fmt.Errorf("numeric.%w", err)
		}
	}
	if c.Categorical != nil {
		if err := checkCategorical(c.Categorical, nonNull); err != nil {
			return fmt.Errorf("categorical.%w", err)
		}
	}
	return nil
}

// checkNumeric's errors start with the field name, after "numeric.".
func checkNumeric(n *pb.NumericStats, nonNull int64) error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"nan", n.Nan}, {"pos_inf", n.PosInf}, {"neg_inf", n.NegInf}, {"finite", n.Finite}} {
		if f.v < 0 || f.v > nonNull {
			return fmt.Errorf("%s: %d is outside [0, %d non-null rows]", f.name, f.v, nonNull)
		}
	}
	// Each term is within [0, nonNull], so the sum cannot overflow.
	if sum := n.Nan + n.PosInf + n.NegInf + n.Finite; sum != nonNull {
		return fmt.Errorf("finite: nan+pos_inf+neg_inf+finite is %d, count-nulls is %d", sum, nonNull)
	}
	if n.Histogram == nil {
		return errors.New("histogram: missing")
	}
	if err := CheckHistogram(n.Histogram); err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if t := total(n.Histogram); t != n.Finite {
		return fmt.Errorf("histogram: holds %d values, finite is %d", t, n.Finite)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"min", n.Min}, {"max", n.Max}, {"mean", n.Mean}, {"std", n.Std}} {
		switch {
		case math.IsNaN(f.v):
			return fmt.Errorf("%s: NaN", f.name)
		case n.Finite == 0 && f.v != 0:
			return fmt.Errorf("%s: %g with no finite values (want 0)", f.name, f.v)
		case f.name != "std" && math.IsInf(f.v, 0):
			return fmt.Errorf("%s: infinite", f.name)
		}
	}
	if n.Min > n.Max {
		return fmt.Errorf("min: %g exceeds max %g", n.Min, n.Max)
	}
	if n.Std < 0 {
		return fmt.Errorf("std: %g is negative", n.Std)
	}
	switch len(n.Quantiles) {
	case 0:
	case len(Levels):
		if n.Finite == 0 {
			return errors.New("quantiles: set with no finite values")
		}
		for i, q := range n.Quantiles {
			if math.IsNaN(q) || math.IsInf(q, 0) {
				return fmt.Errorf("quantiles: %d is %g", i, q)
			}
			if i > 0 && q < n.Quantiles[i-1] {
				return fmt.Errorf("quantiles: %d (%g) is below %d (%g)", i, q, i-1, n.Quantiles[i-1])
			}
		}
	default:
		return fmt.Errorf("quantiles: %d values, want 0 or %d", len(n.Quantiles), len(Levels))
	}
	return nil
}

// checkCategorical's errors start with the field name, after
// "categorical.".
func checkCategorical(s *pb.CategoricalStats, nonNull int64) error {
	if len(s.Top) > TopCapacity {
		return fmt.Errorf("top: %d values, more than %d", len(s.Top), TopCapacity)
	}
	seen := make(map[string]bool, len(s.Top))
	var sum int64
	for i, t := range s.Top {
		switch {
		case t == nil:
			return fmt.Errorf("top: %d is missing", i)
		case t.Count <= 0:
			return fmt.Errorf("top: %q has count %d, not positive", t.Value, t.Count)
		case t.Count > nonNull-sum:
			return fmt.Errorf("top: the counts exceed the %d non-null rows", nonNull)
		case seen[t.Value]:
			return fmt.Errorf("top: %q is listed twice", t.Value)
		case i > 0 && compareTop(s.Top[i-1], t) > 0:
			return fmt.Errorf("top: %q does not follow %q (want count descending, then value ascending)", t.Value, s.Top[i-1].Value)
		}
		seen[t.Value] = true
		sum += t.Count
	}
	switch {
	case s.Other < 0:
		return fmt.Errorf("other: %d is negative", s.Other)
	case s.Other != nonNull-sum:
		return fmt.Errorf("other: sum(top) %d + other %d is not count-nulls %d", sum, s.Other, nonNull)
	case s.Distinct < 0:
		return fmt.Errorf("distinct: %d is negative", s.Distinct)
	case s.ErrorBound < 0:
		return fmt.Errorf("error_bound: %d is negative", s.ErrorBound)
	}
	if s.Exact {
		switch {
		case s.Distinct != int64(len(s.Top)):
			return fmt.Errorf("distinct: %d in an exact summary of %d values", s.Distinct, len(s.Top))
		case s.Other != 0:
			return fmt.Errorf("other: %d in an exact summary", s.Other)
		case s.ErrorBound != 0:
			return fmt.Errorf("error_bound: %d in an exact summary", s.ErrorBound)
		case len(s.Hll) != 0:
			return errors.New("hll: set in an exact summary")
		}
		return nil
	}
	if len(s.Hll) != HLLSize {
		return fmt.Errorf("hll: %d bytes, want %d in an inexact summary", len(s.Hll), HLLSize)
	}
	for i, r := range s.Hll {
		if r > MaxRegister {
			return fmt.Errorf("hll: register %d is %d, above %d", i, r, MaxRegister)
		}
	}
	return nil
}
