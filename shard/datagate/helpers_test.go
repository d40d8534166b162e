package datagate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// Profiles are built by hand here (the statistics package shard/profile
// computes from records are not needed to test the gates): numCol and
// catCol compute a column's statistics from its values, as a profile of
// the whole dataset holds them.

// numCol profiles a numeric column; NaN and infinities in values count
// as such, nulls are extra rows.
func numCol(name string, values []float64, nulls int64) *pb.ColumnProfile {
	h := profile.NewHist()
	n := &pb.NumericStats{}
	var sum, sumSq float64
	for _, v := range values {
		switch {
		case math.IsNaN(v):
			n.Nan++
		case math.IsInf(v, 1):
			n.PosInf++
		case math.IsInf(v, -1):
			n.NegInf++
		default:
			if n.Finite == 0 || v < n.Min {
				n.Min = v
			}
			if n.Finite == 0 || v > n.Max {
				n.Max = v
			}
			n.Finite++
			sum += v
			sumSq += v * v
			h.Add(v)
		}
	}
	if n.Finite > 0 {
		n.Mean = sum / float64(n.Finite)
		n.Std = math.Sqrt(max(sumSq/float64(n.Finite)-n.Mean*n.Mean, 0))
	}
	n.Histogram = h.Proto()
	return &pb.ColumnProfile{Name: name, Type: "float64", Kind: pb.ColumnKind_COLUMN_KIND_NUMERIC,
		Count: int64(len(values)) + nulls, Nulls: nulls, Numeric: n}
}

// catCol profiles a categorical column exactly from its value counts.
func catCol(name string, counts map[string]int64, nulls int64) *pb.ColumnProfile {
	c := &pb.CategoricalStats{Exact: true, Distinct: int64(len(counts))}
	var total int64
	for v, n := range counts {
		c.Top = append(c.Top, &pb.CategoryCount{Value: v, Count: n})
		total += n
	}
	slices.SortFunc(c.Top, func(a, b *pb.CategoryCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return &pb.ColumnProfile{Name: name, Type: "utf8", Kind: pb.ColumnKind_COLUMN_KIND_CATEGORICAL,
		Count: total + nulls, Nulls: nulls, Categorical: c}
}

// dataset is a profile of the columns; its rows are the first column's.
func dataset(cols ...*pb.ColumnProfile) *pb.DatasetProfile {
	p := &pb.DatasetProfile{FormatVersion: 1, Dataset: "file:///ds/test", Fingerprint: "f00d", Shards: 1, Columns: cols}
	if len(cols) > 0 {
		p.Rows = cols[0].Count
	}
	return p
}

// normals draws n values of N(mean, sd²) from a seeded generator.
func normals(seed uint64, n int, mean, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*r.NormFloat64()
	}
	return out
}

// draws counts n draws of the values with the given weights.
func draws(seed uint64, n int, values []string, weights []float64) map[string]int64 {
	r := rand.New(rand.NewPCG(seed, 2))
	var total float64
	for _, w := range weights {
		total += w
	}
	out := map[string]int64{}
	for range n {
		x := r.Float64() * total
		for i, w := range weights {
			if x < w || i == len(weights)-1 {
				out[values[i]]++
				break
			}
			x -= w
		}
	}
	return out
}

// reference is the reference dataset of most tests: 10,000 rows of an
// amount N(100, 15²), a plan and a region.
func reference() *pb.DatasetProfile {
	return dataset(
		numCol("amount", normals(1, 10000, 100, 15), 0),
		catCol("plan", map[string]int64{"basic": 6000, "pro": 3000, "team": 1000}, 0),
		catCol("region", map[string]int64{"eu": 5000, "us": 3000, "asia": 2000}, 0),
	)
}

// replace returns p with the named column replaced by col.
func replace(p *pb.DatasetProfile, col *pb.ColumnProfile) *pb.DatasetProfile {
	for i, c := range p.Columns {
		if c.Name == col.Name {
			p.Columns[i] = col
		}
	}
	return p
}

// driftOf returns the drift result of the named column, nil if none.
func driftOf(rep *pb.ValidationReport, name string) *pb.ColumnDriftResult {
	for _, d := range rep.Drift {
		if d.Column == name {
			return d
		}
	}
	return nil
}

// violation returns the violation of a column and rule, nil if none.
func violation(vs []*pb.Violation, col, rule string) *pb.Violation {
	for _, v := range vs {
		if v.Column == col && v.Rule == rule {
			return v
		}
	}
	return nil
}
