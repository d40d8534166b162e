package profile

import (
	"errors"
	"fmt"
	"math"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Merge adds src into dst: the profile of both shards' rows. The columns
// must agree in number, name, type and kind; on an error dst is unchanged.
// The inputs are assumed to satisfy Check (UnmarshalPartial checks what it
// decodes); Merge itself only guards what would make it panic or overflow.
//
// Counts add exactly and histograms merge exactly, in any order. Means and
// standard deviations combine by Chan et al.'s formula, whose rounding
// depends on the order: callers merge in shard order, and the same inputs
// in the same order give the same bytes. A merge clears quantiles (Finish
// recomputes them) and keeps dst's dataset and fingerprint.
func Merge(dst, src *pb.DatasetProfile) error {
	if err := mergeable(dst, src); err != nil {
		return err
	}
	dst.Rows += src.Rows
	dst.Shards += src.Shards
	for i, d := range dst.Columns {
		s := src.Columns[i]
		nonNull := d.Count - d.Nulls + s.Count - s.Nulls
		d.Count += s.Count
		d.Nulls += s.Nulls
		switch d.Kind {
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			mergeNumeric(d.Numeric, s.Numeric)
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			mergeCategorical(d.Categorical, s.Categorical, nonNull)
		}
	}
	return nil
}

// mergeable reports why src cannot merge into dst, before anything
// changes.
func mergeable(dst, src *pb.DatasetProfile) error {
	if dst == nil || src == nil {
		return errors.New("merge: nil profile")
	}
	if dst.FormatVersion != FormatVersion || src.FormatVersion != FormatVersion {
		return fmt.Errorf("merge: format_version %d and %d (want %d)", dst.FormatVersion, src.FormatVersion, FormatVersion)
	}
	if len(dst.Columns) != len(src.Columns) {
		return fmt.Errorf("merge: %d columns and %d", len(dst.Columns), len(src.Columns))
	}
	if dst.Rows+src.Rows < dst.Rows || src.Rows < 0 || dst.Shards+src.Shards < dst.Shards || src.Shards < 0 {
		return errors.New("merge: rows or shards overflow")
	}
	for i, d := range dst.Columns {
		s := src.Columns[i]
		switch {
		case d.Name != s.Name:
			return fmt.Errorf("merge: column %d is %q in one profile and %q in the other", i, d.Name, s.Name)
		case d.Type != s.Type:
			return fmt.Errorf("merge: column %q has type %s and %s", d.Name, d.Type, s.Type)
		case d.Kind != s.Kind:
			return fmt.Errorf("merge: column %q has kind %s and %s", d.Name, d.Kind, s.Kind)
		case s.Count < 0 || d.Count+s.Count < d.Count:
			return fmt.Errorf("merge: column %q: count overflows", d.Name)
		}
		if err := statsFor(d); err != nil {
			return fmt.Errorf("merge: column %q: %w", d.Name, err)
		}
		if err := statsFor(s); err != nil {
			return fmt.Errorf("merge: column %q: %w", s.Name, err)
		}
	}
	return nil
}

// statsFor reports a column whose statistics do not match its kind, or
// whose HyperLogLog registers have the wrong size.
func statsFor(c *pb.ColumnProfile) error {
	num, cat := c.Numeric != nil, c.Categorical != nil
	switch c.Kind {
	case pb.ColumnKind_COLUMN_KIND_NUMERIC:
		if !num || cat {
			return errors.New("kind NUMERIC needs numeric statistics and no categorical ones")
		}
	case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
		if !cat || num {
			return errors.New("kind CATEGORICAL needs categorical statistics and no numeric ones")
		}
		if n := len(c.Categorical.Hll); n != 0 && n != HLLSize {
			return fmt.Errorf("categorical.hll: %d bytes (want 0 or %d)", n, HLLSize)
		}
	case pb.ColumnKind_COLUMN_KIND_OTHER:
		if num || cat {
			return errors.New("kind OTHER has no statistics")
		}
	default:
		return fmt.Errorf("kind %s is not a column kind", c.Kind)
	}
	return nil
}

func mergeNumeric(d, s *pb.NumericStats) {
	d.Nan += s.Nan
	d.PosInf += s.PosInf
	d.NegInf += s.NegInf
	switch {
	case s.Finite == 0:
	case d.Finite == 0:
		d.Min, d.Max, d.Mean, d.Std = s.Min, s.Max, s.Mean, s.Std
	default:
		d.Min, d.Max = min(d.Min, s.Min), max(d.Max, s.Max)
		// Chan et al. on the sums of squared deviations (std² · n).
		m2a := d.Std * d.Std * float64(d.Finite)
		m2b := s.Std * s.Std * float64(s.Finite)
		mean, m2 := combineMoments(d.Finite, d.Mean, m2a, s.Finite, s.Mean, m2b)
		d.Mean = min(max(mean, d.Min), d.Max) // rounding may not leave the values' range
		d.Std = math.Sqrt(m2 / (float64(d.Finite) + float64(s.Finite)))
	}
	d.Finite += s.Finite
	d.Histogram = MergeHistograms(d.Histogram, s.Histogram)
	d.Quantiles = nil
}

// mergeCategorical adds s into d, for nonNull non-null rows in all: the
// counters add; the sum stays exact while both sides are and it holds at
// most TopCapacity values, else it is reduced to TopCapacity counters
// (truncateTop) and its distinct count is read off the register-wise max
// of both sides' HyperLogLogs, an exact side's registers built from its
// values (which are all of its values).
func mergeCategorical(d, s *pb.CategoricalStats, nonNull int64) {
	sum := make(map[string]int64, len(d.Top)+len(s.Top))
	for _, t := range d.Top {
		sum[t.Value] += t.Count
	}
	for _, t := range s.Top {
		sum[t.Value] += t.Count
	}
	top := make([]*pb.CategoryCount, 0, len(sum))
	for v, n := range sum {
		top = append(top, &pb.CategoryCount{Value: v, Count: n})
	}
	if d.Exact && s.Exact && len(top) <= TopCapacity {
		sortTop(top)
		d.Top, d.Other, d.Distinct, d.Exact, d.ErrorBound, d.Hll = top, 0, int64(len(top)), true, 0, nil
		return
	}
	regs := registers(d)
	regs.merge(registers(s))
	top, cut := truncateTop(top, TopCapacity)
	d.Top, d.Other, d.Distinct, d.Exact = top, nonNull-sumTop(top), regs.estimate(), false
	d.ErrorBound += s.ErrorBound + cut
	d.Hll = regs
}

// registers returns a copy of c's HyperLogLog registers, built from its
// values when it is exact (or has none).
func registers(c *pb.CategoricalStats) hll {
	h := newHLL()
	if len(c.Hll) == HLLSize {
		copy(h, c.Hll)
		return h
	}
	for _, t := range c.Top {
		h.add(hashValue(t.Value))
	}
	return h
}
