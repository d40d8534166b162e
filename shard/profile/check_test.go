package profile_test

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// validProfile is a finished profile of every kind of column, with both
// exact and inexact categorical summaries.
func validProfile(t testing.TB) *pb.DatasetProfile {
	t.Helper()
	tb := genTable(3000, 10, mixedColumns())
	recs := tb.records(0, tb.rows(), 1000)
	defer release(recs)
	acc := profile.NewAccumulator(tb.schema)
	for _, r := range recs {
		if err := acc.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	p := acc.Partial()
	p.Dataset, p.Fingerprint = "file:///data/ds", "sha256:"+strings.Repeat("ab", 32)
	profile.Finish(p)
	return p
}

func column(p *pb.DatasetProfile, name string) *pb.ColumnProfile {
	for _, c := range p.Columns {
		if c.Name == name {
			return c
		}
	}
	panic(name)
}

func TestCheck(t *testing.T) {
	base := validProfile(t)
	if err := profile.Check(base); err != nil {
		t.Fatal(err)
	}
	if column(base, "s_ids").Categorical.Exact || !column(base, "s_low").Categorical.Exact {
		t.Fatal("the profile lacks an exact or an inexact summary")
	}
	num := func(p *pb.DatasetProfile) *pb.NumericStats { return column(p, "f64").Numeric }
	low := func(p *pb.DatasetProfile) *pb.CategoricalStats { return column(p, "s_low").Categorical }
	ids := func(p *pb.DatasetProfile) *pb.CategoricalStats { return column(p, "s_ids").Categorical }
	for _, tc := range []struct {
		name string
		want []string // substrings of the error
		edit func(p *pb.DatasetProfile)
	}{
		{"format version", []string{"format_version"}, func(p *pb.DatasetProfile) { p.FormatVersion = 2 }},
		{"negative rows", []string{"rows"}, func(p *pb.DatasetProfile) { p.Rows = -1 }},
		{"no shards", []string{"shards"}, func(p *pb.DatasetProfile) { p.Shards = 0 }},
		{"count", []string{`"i64"`, "count"}, func(p *pb.DatasetProfile) { column(p, "i64").Count++ }},
		{"negative nulls", []string{`"i64"`, "nulls"}, func(p *pb.DatasetProfile) { column(p, "i64").Nulls = -1 }},
		{"nulls above count", []string{`"ts"`, "nulls"}, func(p *pb.DatasetProfile) { column(p, "ts").Nulls = p.Rows + 1 }},
		{"kind unspecified", []string{`"ts"`, "kind"}, func(p *pb.DatasetProfile) { column(p, "ts").Kind = 0 }},
		{"numeric kind without numeric", []string{`"ts"`, "NUMERIC"}, func(p *pb.DatasetProfile) { column(p, "ts").Kind = pb.ColumnKind_COLUMN_KIND_NUMERIC }},
		{"both stats", []string{`"f64"`, "categorical"}, func(p *pb.DatasetProfile) { column(p, "f64").Categorical = low(p) }},
		{"other with stats", []string{`"ts"`, "OTHER"}, func(p *pb.DatasetProfile) { column(p, "ts").Numeric = num(p) }},
		{"negative nan", []string{`"f64"`, "numeric.nan"}, func(p *pb.DatasetProfile) { num(p).Nan = -1 }},
		{"counts do not add up", []string{`"f64"`, "numeric.finite"}, func(p *pb.DatasetProfile) { num(p).PosInf++ }},
		{"finite above rows", []string{`"f64"`, "numeric.finite"}, func(p *pb.DatasetProfile) { num(p).Finite = math.MaxInt64 }},
		{"histogram missing", []string{`"f64"`, "numeric.histogram"}, func(p *pb.DatasetProfile) { num(p).Histogram = nil }},
		{"histogram total", []string{`"f64"`, "numeric.histogram"}, func(p *pb.DatasetProfile) { num(p).Histogram.Counts[0]++ }},
		{"histogram order", []string{`"f64"`, "numeric.histogram"}, func(p *pb.DatasetProfile) {
			h := num(p).Histogram
			h.Keys[0], h.Keys[1] = h.Keys[1], h.Keys[0]
		}},
		{"histogram precision", []string{`"f64"`, "numeric.histogram", "precision_bits"}, func(p *pb.DatasetProfile) { num(p).Histogram.PrecisionBits = 60 }},
		{"min above max", []string{`"f64"`, "numeric.min"}, func(p *pb.DatasetProfile) { num(p).Min = num(p).Max + 1 }},
		{"NaN mean", []string{`"f64"`, "numeric.mean"}, func(p *pb.DatasetProfile) { num(p).Mean = math.NaN() }},
		{"NaN std", []string{`"f64"`, "numeric.std"}, func(p *pb.DatasetProfile) { num(p).Std = math.NaN() }},
		{"infinite min", []string{`"f64"`, "numeric.min"}, func(p *pb.DatasetProfile) { num(p).Min = math.Inf(-1) }},
		{"negative std", []string{`"f64"`, "numeric.std"}, func(p *pb.DatasetProfile) { num(p).Std = -1 }},
		{"quantiles length", []string{`"f64"`, "numeric.quantiles"}, func(p *pb.DatasetProfile) { num(p).Quantiles = num(p).Quantiles[:3] }},
		{"quantiles order", []string{`"f64"`, "numeric.quantiles"}, func(p *pb.DatasetProfile) { num(p).Quantiles[0] = num(p).Quantiles[8] + 1 }},
		{"stats without finite values", []string{`"f64"`, "numeric.mean"}, func(p *pb.DatasetProfile) {
			n := num(p)
			n.Nan += n.Finite
			n.Finite, n.Histogram, n.Quantiles, n.Min, n.Max, n.Std = 0, &pb.Histogram{PrecisionBits: profile.Precision}, nil, 0, 0, 0
		}},
		{"top unsorted", []string{`"s_low"`, "categorical.top", "does not follow"}, func(p *pb.DatasetProfile) {
			top := low(p).Top
			top[0], top[1] = top[1], top[0]
		}},
		{"top duplicate", []string{`"s_low"`, "categorical.top", "twice"}, func(p *pb.DatasetProfile) {
			top := low(p).Top
			top[len(top)-1].Value = top[0].Value
		}},
		{"top count not positive", []string{`"s_ids"`, "categorical.top"}, func(p *pb.DatasetProfile) {
			s := ids(p)
			s.Other += s.Top[len(s.Top)-1].Count
			s.Top[len(s.Top)-1].Count = 0
		}},
		{"top too long", []string{`"s_ids"`, "categorical.top"}, func(p *pb.DatasetProfile) {
			s := ids(p)
			for len(s.Top) <= profile.TopCapacity {
				s.Top = append(s.Top, &pb.CategoryCount{Value: "~" + strings.Repeat("z", len(s.Top)), Count: 1})
				s.Other--
			}
		}},
		{"sum with other", []string{`"s_ids"`, "categorical.other"}, func(p *pb.DatasetProfile) { ids(p).Other++ }},
		{"negative other", []string{`"s_ids"`, "categorical."}, func(p *pb.DatasetProfile) { ids(p).Other = -1 }},
		{"exact distinct", []string{`"s_low"`, "categorical.distinct"}, func(p *pb.DatasetProfile) { low(p).Distinct++ }},
		{"exact error bound", []string{`"s_low"`, "categorical.error_bound"}, func(p *pb.DatasetProfile) { low(p).ErrorBound = 3 }},
		{"exact other", []string{`"s_low"`, "categorical.other"}, func(p *pb.DatasetProfile) {
			s := low(p)
			s.Top[len(s.Top)-1].Count-- // the smallest: the order holds
			s.Other++
		}},
		{"exact with registers", []string{`"s_low"`, "categorical.hll"}, func(p *pb.DatasetProfile) { low(p).Hll = make([]byte, profile.HLLSize) }},
		{"negative error bound", []string{`"s_ids"`, "categorical.error_bound"}, func(p *pb.DatasetProfile) { ids(p).ErrorBound = -1 }},
		{"registers size", []string{`"s_ids"`, "categorical.hll"}, func(p *pb.DatasetProfile) { ids(p).Hll = ids(p).Hll[:100] }},
		{"inexact without registers", []string{`"s_ids"`, "categorical.hll"}, func(p *pb.DatasetProfile) { ids(p).Hll = nil }},
		{"register too large", []string{`"s_ids"`, "categorical.hll", "register"}, func(p *pb.DatasetProfile) { ids(p).Hll[7] = profile.MaxRegister + 1 }},
		{"negative distinct", []string{`"s_ids"`, "categorical.distinct"}, func(p *pb.DatasetProfile) { ids(p).Distinct = -5 }},
	} {
		p := proto.Clone(base).(*pb.DatasetProfile)
		tc.edit(p)
		err := profile.Check(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not name %s", tc.name, err, w)
			}
		}
	}
	if profile.Check(nil) == nil {
		t.Error("nil profile passes")
	}
}
