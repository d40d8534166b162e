package profile_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// mergedOf profiles rows [cuts[i], cuts[i+1]) of tb as shards and merges
// them in order.
func mergedOf(t *testing.T, tb *table, cuts []int) *pb.DatasetProfile {
	t.Helper()
	var out *pb.DatasetProfile
	for i := 0; i+1 < len(cuts); i++ {
		recs := tb.records(cuts[i], cuts[i+1], 5000)
		part := partialOf(t, tb.schema, recs)
		release(recs)
		if out == nil {
			out = part
		} else if err := profile.Merge(out, part); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestMergeMatchesBruteForce(t *testing.T) {
	tb := genTable(mixedRows, 4, mixedColumns())
	splits := map[string][]int{
		"one":     {0, mixedRows},
		"four":    {0, 30_000, 60_000, 90_000, mixedRows},
		"uneven":  {0, 1, 10_000, 10_000, 70_000, mixedRows},
		"seventh": {0, 17_000, 34_000, 51_000, 68_000, 85_000, 102_000, mixedRows},
	}
	profiles := map[string]*pb.DatasetProfile{}
	for name, cuts := range splits {
		p := mergedOf(t, tb, cuts)
		if err := profile.Check(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Shards != int32(len(cuts)-1) || p.Rows != mixedRows {
			t.Fatalf("%s: %d shards %d rows", name, p.Shards, p.Rows)
		}
		finished := proto.Clone(p).(*pb.DatasetProfile)
		profile.Finish(finished)
		if err := profile.Check(finished); err != nil {
			t.Fatalf("%s finished: %v", name, err)
		}
		for i, c := range p.Columns {
			switch c.Kind {
			case pb.ColumnKind_COLUMN_KIND_NUMERIC:
				checkNumeric(t, c.Numeric, finished.Columns[i].Numeric, tb.cols[i])
			case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
				checkCategorical(t, c.Categorical, tb.cols[i])
			}
		}
		profiles[name] = p
	}
	// The exact parts do not depend on the split at all.
	want := profiles["one"]
	for name, p := range profiles {
		for i, c := range p.Columns {
			w := want.Columns[i]
			if c.Count != w.Count || c.Nulls != w.Nulls {
				t.Errorf("%s %s: count %d nulls %d, one shard %d %d", name, c.Name, c.Count, c.Nulls, w.Count, w.Nulls)
			}
			if n, wn := c.Numeric, w.Numeric; n != nil {
				if n.Nan != wn.Nan || n.PosInf != wn.PosInf || n.NegInf != wn.NegInf || n.Finite != wn.Finite || n.Min != wn.Min || n.Max != wn.Max || !proto.Equal(n.Histogram, wn.Histogram) {
					t.Errorf("%s %s: counts, min, max or histogram differ from one shard's", name, c.Name)
				}
			}
			if s, ws := c.Categorical, w.Categorical; s != nil && ws.Exact {
				if !proto.Equal(s, ws) {
					t.Errorf("%s %s: exact summary differs from one shard's", name, c.Name)
				}
			}
		}
	}
}

func TestMergeDeterministic(t *testing.T) {
	tb := genTable(40_000, 5, mixedColumns())
	cuts := []int{0, 9000, 21_000, 33_000, 40_000}
	var first []byte
	for range 2 {
		p := mergedOf(t, tb, cuts)
		profile.Finish(p)
		b, err := profile.MarshalPartial(p)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if string(b) != string(first) {
			t.Fatal("the same partials merged in the same order give different bytes")
		}
	}
}

// Two exact summaries whose union is too large become a Misra–Gries
// summary with registers built from both sides' values.
func TestMergeLosesExactness(t *testing.T) {
	cols := []genColumn{{arrow.Field{Name: "s", Type: arrow.BinaryTypes.String}, func(r *rand.Rand, row int) any {
		if row < 20_000 {
			return fmt.Sprintf("a%d", r.IntN(800))
		}
		if r.IntN(4) == 0 {
			return "heavy"
		}
		return fmt.Sprintf("b%d", r.IntN(900))
	}}}
	tb := genTable(40_000, 6, cols)
	a, b := mergedOf(t, tb, []int{0, 20_000}), mergedOf(t, tb, []int{20_000, 40_000})
	if !a.Columns[0].Categorical.Exact || !b.Columns[0].Categorical.Exact {
		t.Fatal("the shards are not exact")
	}
	if err := profile.Merge(a, b); err != nil {
		t.Fatal(err)
	}
	if err := profile.Check(a); err != nil {
		t.Fatal(err)
	}
	c := a.Columns[0].Categorical
	if c.Exact || len(c.Hll) != profile.HLLSize {
		t.Fatalf("exact %v with %d bytes of registers", c.Exact, len(c.Hll))
	}
	checkCategorical(t, c, tb.cols[0])
	// An exact side merged into an inexact one contributes its values to
	// the registers.
	tb2 := genTable(3000, 7, []genColumn{{arrow.Field{Name: "s", Type: arrow.BinaryTypes.String}, func(_ *rand.Rand, row int) any {
		return fmt.Sprintf("c%d", row%500)
	}}})
	before := c.Distinct
	if err := profile.Merge(a, mergedOf(t, tb2, []int{0, 3000})); err != nil {
		t.Fatal(err)
	}
	if got := a.Columns[0].Categorical.Distinct; got < before+450 || got > before+550 {
		t.Errorf("distinct %d after adding 500 new values to %d", got, before)
	}
}

func TestMergeErrors(t *testing.T) {
	tb := genTable(2000, 8, mixedColumns())
	base := mergedOf(t, tb, []int{0, 2000})
	for _, tc := range []struct {
		name, want string
		edit       func(p *pb.DatasetProfile)
	}{
		{"columns", "columns", func(p *pb.DatasetProfile) { p.Columns = p.Columns[:3] }},
		{"name", `"i32"`, func(p *pb.DatasetProfile) { p.Columns[1].Name = "other" }},
		{"type", `"f64"`, func(p *pb.DatasetProfile) { p.Columns[4].Type = "float32" }},
		{"kind", `"ts"`, func(p *pb.DatasetProfile) { p.Columns[12].Kind = pb.ColumnKind_COLUMN_KIND_NUMERIC }},
		{"stats", `"u8"`, func(p *pb.DatasetProfile) { p.Columns[2].Numeric = nil }},
		{"version", "format_version", func(p *pb.DatasetProfile) { p.FormatVersion = 2 }},
	} {
		dst := proto.Clone(base).(*pb.DatasetProfile)
		src := proto.Clone(base).(*pb.DatasetProfile)
		tc.edit(src)
		err := profile.Merge(dst, src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
		if !proto.Equal(dst, base) {
			t.Errorf("%s: a failed merge changed dst", tc.name)
		}
	}
}
