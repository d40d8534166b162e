package jobspec

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// wantErrors checks that err is an Errors of exactly len(want) errors,
// the i-th of which contains want[i].
func wantErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	var es Errors
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.As(err, &es) {
		t.Fatalf("want Errors %q, got %v", want, err)
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors (%v), want %d: %q", len(es), err, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(es[i].Error(), w) {
			t.Errorf("error %d %q does not say %q", i, es[i].Error(), w)
		}
	}
}

func TestNullCeiling(t *testing.T) {
	for _, tc := range []struct{ f, want float64 }{
		{0, 0.01}, {0.004, 0.014}, {0.01, 0.02}, {0.2, 0.4}, {0.5, 1}, {0.7, 1}, {1, 1},
	} {
		if got := NullCeiling(tc.f); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("NullCeiling(%g) = %g, want %g", tc.f, got, tc.want)
		}
	}
}

func TestNormalizeDriftDefaults(t *testing.T) {
	want := &pb.DriftPolicy{PsiWarn: DefaultPSIWarn, PsiFail: DefaultPSIFail, JsWarn: DefaultJSWarn, JsFail: DefaultJSFail,
		DriftedShareFail: DefaultDriftedShare}
	got, err := NormalizeDrift(nil)
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("nil policy: %v %v", got, err)
	}
	in := &pb.DriftPolicy{PsiFail: 0.5, JsWarn: 0.05, Columns: []*pb.ColumnDrift{{Name: "amount", Warn: 0.3, Fail: 2}, {Name: "id", Ignore: true}}}
	before := proto.Clone(in)
	got, err = NormalizeDrift(in)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, before) {
		t.Error("NormalizeDrift changed its argument")
	}
	want = &pb.DriftPolicy{PsiWarn: DefaultPSIWarn, PsiFail: 0.5, JsWarn: 0.05, JsFail: DefaultJSFail, DriftedShareFail: DefaultDriftedShare,
		Columns: in.Columns}
	if !proto.Equal(got, want) {
		t.Errorf("filled policy\n got %v\nwant %v", got, want)
	}
	again, err := NormalizeDrift(got)
	if err != nil || !proto.Equal(again, got) {
		t.Errorf("not idempotent: %v %v", again, err)
	}
	// Thresholds at their bounds are accepted.
	if _, err := NormalizeDrift(&pb.DriftPolicy{JsWarn: 1, JsFail: 1, DriftedShareFail: 1, PsiWarn: 3, PsiFail: 30}); err != nil {
		t.Errorf("bounds: %v", err)
	}
}

func TestNormalizeDriftErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name string
		p    *pb.DriftPolicy
		want []string
	}{
		{"negative", &pb.DriftPolicy{PsiWarn: -0.1}, []string{"drift.psi_warn: must be ≥ 0 (0: the default 0.1), got -0.1"}},
		{"nan and inf", &pb.DriftPolicy{JsFail: nan, PsiFail: inf}, []string{"drift.psi_fail: +Inf: want a finite number", "drift.js_fail: NaN: want a finite number"}},
		{"js above 1", &pb.DriftPolicy{JsWarn: 1.5, JsFail: 2}, []string{"drift.js_warn: at most 1, got 1.5", "drift.js_fail: at most 1, got 2"}},
		{"warn above the default fail", &pb.DriftPolicy{PsiWarn: 0.3}, []string{"drift.psi_warn: 0.3 is above the fail threshold (0.25)"}},
		{"warn above fail", &pb.DriftPolicy{JsWarn: 0.5, JsFail: 0.4}, []string{"drift.js_warn: 0.5 is above the fail threshold (0.4)"}},
		{"share", &pb.DriftPolicy{DriftedShareFail: 1.5}, []string{"drift.drifted_share_fail: at most 1, got 1.5"}},
		{"share negative", &pb.DriftPolicy{DriftedShareFail: -0.5}, []string{"drift.drifted_share_fail: must be ≥ 0"}},
		{"columns", &pb.DriftPolicy{Columns: []*pb.ColumnDrift{
			{Name: " ", Warn: 1, Fail: 2},
			{Name: "a", Warn: 1, Fail: 2},
			{Name: "a", Ignore: true},
			{Name: "b", Warn: 0.5, Fail: 0.2},
			{Name: "c", Warn: 0.5},
			{Name: "d", Fail: 0.5},
			{Name: "e"},
			{Name: "f", Ignore: true, Fail: 1},
			{Name: "g", Warn: -1, Fail: nan},
			nil,
		}}, []string{
			"drift.columns[0].name: empty column name",
			`drift.columns[2].name: column "a" is listed twice`,
			"drift.columns[3].warn: 0.5 is above the fail threshold (0.2)",
			"drift.columns[4].fail: must be > 0 when warn is set",
			"drift.columns[5].warn: must be > 0 when fail is set",
			"drift.columns[6]: sets nothing: want warn and fail, or ignore",
			"drift.columns[7].ignore: an ignored column has no thresholds",
			"drift.columns[8].warn: must be > 0, got -1",
			"drift.columns[8].fail: NaN: want a finite number",
			"drift.columns[9].name: empty column name", // a nil entry is an empty one
			"drift.columns[9]: sets nothing",
		}},
		{"too many columns", &pb.DriftPolicy{Columns: make([]*pb.ColumnDrift, MaxContractColumns+1)}, []string{"drift.columns: at most 1000 entries"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NormalizeDrift(tc.p)
			wantErrors(t, err, tc.want...)
		})
	}
}

// goodContract is a contract with every rule.
func goodContract() *pb.DataContract {
	return &pb.DataContract{MinRowsRatio: 0.5, MaxRowsRatio: 2, ReferenceRows: 100000, AllowExtraColumns: true,
		Columns: []*pb.ColumnContract{
			{Name: "amount", Required: true, Kind: pb.ColumnKind_COLUMN_KIND_NUMERIC, MaxNullFraction: 0.02, HasMin: true, Min: 0, HasMax: true, Max: 10000},
			{Name: "region", Required: true, Kind: pb.ColumnKind_COLUMN_KIND_CATEGORICAL, MaxNullFraction: 0,
				Allowed: []string{"eu", "us"}, MaxUnseenFraction: 0.01},
			{Name: "ratio", MaxNullFraction: UncheckedNullFraction, HasMax: true, Max: 1, AllowInf: true},
			{Name: "ts", Kind: pb.ColumnKind_COLUMN_KIND_OTHER, MaxNullFraction: 1},
		}}
}

func TestCheckContract(t *testing.T) {
	if err := CheckContract(goodContract()); err != nil {
		t.Fatal(err)
	}
	if err := CheckContract(&pb.DataContract{}); err != nil {
		t.Errorf("empty contract: %v", err)
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		edit func(*pb.DataContract)
		want []string
	}{
		{"nil", nil, []string{"contract: no contract"}},
		{"names", func(c *pb.DataContract) { c.Columns[1].Name, c.Columns[2].Name = "amount", "" },
			[]string{`contract.columns[1].name: column "amount" is listed twice`, "contract.columns[2].name: empty column name"}},
		{"bad utf-8 name", func(c *pb.DataContract) { c.Columns[0].Name = "a\xff" }, []string{"contract.columns[0].name: \"a\\xff\" is not valid UTF-8"}},
		{"fractions", func(c *pb.DataContract) {
			c.Columns[0].MaxNullFraction, c.Columns[1].MaxUnseenFraction, c.Columns[3].MaxNullFraction = 1.5, -0.1, nan
		}, []string{"contract.columns[0].max_null_fraction: at most 1", "contract.columns[1].max_unseen_fraction: -0.1: want a fraction in [0, 1]",
			"contract.columns[3].max_null_fraction: NaN"}},
		{"range", func(c *pb.DataContract) { c.Columns[0].Min = 20000 }, []string{"contract.columns[0].min: 20000 is above max (10000)"}},
		{"unchecked bounds are not compared", func(c *pb.DataContract) { c.Columns[0].HasMax, c.Columns[0].Min = false, 20000 }, nil},
		{"infinite bound", func(c *pb.DataContract) { c.Columns[0].Max = math.Inf(1) }, []string{"contract.columns[0].max: +Inf: want a finite number"}},
		{"range of a categorical column", func(c *pb.DataContract) { c.Columns[1].HasMin = true },
			[]string{"contract.columns[1].min: a range needs a numeric column, not categorical"}},
		{"allowed of a numeric column", func(c *pb.DataContract) { c.Columns[0].Allowed = []string{"1"} },
			[]string{"contract.columns[0].allowed: allowed values need a categorical column, not numeric"}},
		{"allowed twice", func(c *pb.DataContract) { c.Columns[1].Allowed = []string{"eu", "us", "eu"} },
			[]string{`contract.columns[1].allowed[2]: value "eu" is listed twice`}},
		{"too many allowed", func(c *pb.DataContract) {
			c.Columns[1].Allowed = make([]string, MaxAllowedValues+1)
			for i := range c.Columns[1].Allowed {
				c.Columns[1].Allowed[i] = fmt.Sprint(i)
			}
		}, []string{"contract.columns[1].allowed: at most 10000 values"}},
		{"unknown kind", func(c *pb.DataContract) { c.Columns[3].Kind = 9 }, []string{"contract.columns[3].kind: 9: want numeric, categorical or other"}},
		{"ratios", func(c *pb.DataContract) { c.MinRowsRatio = 3 }, []string{"contract.min_rows_ratio: 3 is above the maximum ratio (2)"}},
		{"min ratio without max", func(c *pb.DataContract) { c.MinRowsRatio, c.MaxRowsRatio = 3, 0 }, nil},
		{"negative ratio", func(c *pb.DataContract) { c.MaxRowsRatio = -1 }, []string{"contract.max_rows_ratio: must be ≥ 0"}},
		{"nan ratio", func(c *pb.DataContract) { c.MinRowsRatio = nan }, []string{"contract.min_rows_ratio: NaN: want a finite number"}},
		{"reference rows", func(c *pb.DataContract) { c.ReferenceRows = -5 }, []string{"contract.reference_rows: must be ≥ 0"}},
		{"too many columns", func(c *pb.DataContract) { c.Columns = make([]*pb.ColumnContract, MaxContractColumns+1) },
			[]string{"contract.columns: at most 1000 columns"}},
		{"nil column", func(c *pb.DataContract) { c.Columns[2] = nil }, []string{"contract.columns[2]: empty entry"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *pb.DataContract
			if tc.edit != nil {
				c = goodContract()
				tc.edit(c)
			}
			wantErrors(t, CheckContract(c), tc.want...)
		})
	}
}

func TestContractColumns(t *testing.T) {
	have := []string{"amount", "region", "ratio", "ts", "Label"}
	if err := ContractColumns(goodContract(), have); err != nil {
		t.Fatal(err)
	}
	c := goodContract()
	c.Columns[1].Name, c.Columns[3].Name = "regoin", "label"
	c.Columns = append(c.Columns, &pb.ColumnContract{Name: "zzzzzz"})
	wantErrors(t, ContractColumns(c, have),
		`contract.columns[1].name: column "regoin" is not in the reference dataset (columns: amount, region, ratio, ts, Label); did you mean "region"?`,
		`contract.columns[3].name: column "label" is not in the reference dataset (columns: amount, region, ratio, ts, Label); did you mean "Label"?`,
		`contract.columns[4].name: column "zzzzzz" is not in the reference dataset (columns: amount, region, ratio, ts, Label)`)
	if err := ContractColumns(c, nil); err == nil || !strings.Contains(err.Error(), "(columns: none)") {
		t.Errorf("no columns: %v", err)
	}
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("c%02d", i)
	}
	if err := ContractColumns(goodContract(), many); err == nil || !strings.Contains(err.Error(), "c19 and 10 more)") {
		t.Errorf("long column list: %v", err)
	}
}
