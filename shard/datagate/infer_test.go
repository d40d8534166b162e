package datagate

import (
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestInferContract(t *testing.T) {
	many := map[string]int64{}
	for i := range jobspec.MaxInferredCategories + 1 {
		many[fmt.Sprintf("v%03d", i)] = 10
	}
	inexact := catCol("tag", map[string]int64{"a": 900}, 0)
	inexact.Categorical.Exact, inexact.Categorical.Other, inexact.Count = false, 100, 1000
	ts := &pb.ColumnProfile{Name: "ts", Type: "timestamp[ms]", Kind: pb.ColumnKind_COLUMN_KIND_OTHER, Count: 1000, Nulls: 30}
	ref := dataset(
		numCol("amount", append([]float64{-10, 90, math.NaN()}, make([]float64, 96)...), 1), // 2 of 100 null or NaN
		numCol("flag", []float64{0, 0, 0}, 0),
		numCol("const", []float64{-5, -5}, 0),
		numCol("ratio", []float64{0.5, math.Inf(1)}, 0),
		numCol("empty", nil, 7),
		numCol("huge", []float64{-math.MaxFloat64, math.MaxFloat64}, 0),
		catCol("region", map[string]int64{"us": 30, "eu": 70}, 25),
		catCol("id", many, 0),
		inexact,
		ts,
	)
	ct := InferContract(ref)
	if err := jobspec.CheckContract(ct); err != nil {
		t.Fatalf("the inferred contract is not valid: %v", err)
	}
	if ct.MinRowsRatio != 0.5 || ct.MaxRowsRatio != 2 || ct.ReferenceRows != 100 || !ct.AllowExtraColumns || len(ct.Columns) != 10 {
		t.Fatalf("contract %v", ct)
	}
	num, cat := pb.ColumnKind_COLUMN_KIND_NUMERIC, pb.ColumnKind_COLUMN_KIND_CATEGORICAL
	want := []*pb.ColumnContract{
		// null fraction 2%: ceiling 4%; range [-10, 90] widened by 100.
		{Name: "amount", Required: true, Kind: num, MaxNullFraction: 0.04, HasMin: true, Min: -110, HasMax: true, Max: 190},
		// constant 0: widened by 1; no nulls: ceiling 1%.
		{Name: "flag", Required: true, Kind: num, MaxNullFraction: 0.01, HasMin: true, Min: -1, HasMax: true, Max: 1},
		// constant -5: widened by 5.
		{Name: "const", Required: true, Kind: num, MaxNullFraction: 0.01, HasMin: true, Min: -10, HasMax: true, Max: 0},
		// constant 0.5 (the infinity is no finite value): widened by 0.5; infinities allowed.
		{Name: "ratio", Required: true, Kind: num, MaxNullFraction: 0.01, HasMin: true, Min: 0, HasMax: true, Max: 1, AllowInf: true},
		// no finite value: no range; all null: ceiling 100%.
		{Name: "empty", Required: true, Kind: num, MaxNullFraction: 1},
		// the widened range stays finite.
		{Name: "huge", Required: true, Kind: num, MaxNullFraction: 0.01, HasMin: true, Min: -math.MaxFloat64, HasMax: true, Max: math.MaxFloat64},
		// 20% null: ceiling 40%; the values, sorted.
		{Name: "region", Required: true, Kind: cat, MaxNullFraction: 0.4, Allowed: []string{"eu", "us"}, MaxUnseenFraction: 0.01},
		// too many values, or an inexact summary: no domain.
		{Name: "id", Required: true, Kind: cat, MaxNullFraction: 0.01},
		{Name: "tag", Required: true, Kind: cat, MaxNullFraction: 0.01},
		{Name: "ts", Required: true, Kind: pb.ColumnKind_COLUMN_KIND_OTHER, MaxNullFraction: 0.06},
	}
	for i, w := range want {
		if !proto.Equal(ct.Columns[i], w) {
			t.Errorf("column %d\n got %v\nwant %v", i, ct.Columns[i], w)
		}
	}
	// The reference satisfies its own contract, and the contract is a
	// document that reads back as itself.
	if vs := CheckContract(ct, ref); len(vs) != 0 {
		t.Errorf("the reference breaks its own contract: %v", vs)
	}
	b, err := jobspec.ContractYAML(ct)
	if err != nil {
		t.Fatal(err)
	}
	back, err := jobspec.ParseContractYAML(b)
	if err != nil || !proto.Equal(back, ct) {
		t.Errorf("YAML round trip: %v\n%s", err, b)
	}
	if InferContract(nil) != nil {
		t.Error("a contract from no reference")
	}
}

func TestInferredRangeIsRoundedOutward(t *testing.T) {
	for _, tc := range []struct{ min, max, lo, hi float64 }{
		{0, 1, -1, 2},
		{12.3456, 98.7654, -74.1, 185.2}, // r = 86.4198: [-74.0742, 185.1852] to a step of 0.1
		{0.1, 0.3, -0.1, 0.5},
		{-3e-7, 1e-7, -7e-7, 5e-7},
		{1e15, 1e15 + 4, 1e15 - 4, 1e15 + 10}, // 15 digits: the step is coarser, still outward
	} {
		lo, hi, ok := widened(&pb.NumericStats{Finite: 2, Min: tc.min, Max: tc.max})
		if !ok || lo != tc.lo || hi != tc.hi {
			t.Errorf("[%g, %g]: got [%v, %v], want [%v, %v]", tc.min, tc.max, lo, hi, tc.lo, tc.hi)
		}
	}
	if _, _, ok := widened(&pb.NumericStats{Finite: 0}); ok {
		t.Error("a range without finite values")
	}
}
