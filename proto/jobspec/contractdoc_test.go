package jobspec

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

const goodContractYAML = `rows: {min_ratio: 0.5, max_ratio: 2, reference: 100000}
allow_extra_columns: true
columns:
  - name: amount
    type: numeric
    required: true
    max_null_fraction: 0.02
    min: 0
    max: 10000
  - name: region
    type: Categorical
    required: true
    max_null_fraction: 0
    allowed: [eu, us]
    max_unseen_fraction: 0.01
  - {name: ratio, max: 1, allow_inf: true}
  - name: ts
    type: other
    max_null_fraction: 1
`

func TestParseContractYAML(t *testing.T) {
	c, err := ParseContractYAML([]byte(goodContractYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(c, goodContract()) {
		t.Fatalf("parsed\n got %v\nwant %v", c, goodContract())
	}
	// Left out: nothing is checked, extra columns are not allowed.
	c, err = ParseContractYAML([]byte("columns: [{name: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.DataContract{Columns: []*pb.ColumnContract{{Name: "a", MaxNullFraction: UncheckedNullFraction}}}
	if !proto.Equal(c, want) {
		t.Errorf("defaults: %v", c)
	}
}

func TestContractYAMLRoundTrips(t *testing.T) {
	tricky := goodContract()
	tricky.Columns[1].Allowed = []string{"", "true", "null", "~", "1e3", "0x10", "a, b", "- x", "key: v", "#c", "'q'", `"d"`,
		"multi\nline", " pad ", "ünïcode", "NaN", ".inf", "&anchor", "*alias", "!tag", "[x]", "{y}", "%z", "@at", "`tick`", "a\tb"}
	tricky.Columns[0].Min, tricky.Columns[0].Max = -1.7976931348623157e308, 1e-300
	tricky.Columns = append(tricky.Columns, &pb.ColumnContract{Name: "123"}, &pb.ColumnContract{Name: "yes: no", MaxNullFraction: -0.5})
	for _, c := range []*pb.DataContract{goodContract(), tricky, {}, {MaxRowsRatio: 3}} {
		b, err := ContractYAML(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseContractYAML(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if !proto.Equal(back, c) {
			t.Errorf("round trip\n got %v\nwant %v\n%s", back, c, b)
		}
	}
	b, err := ContractYAML(goodContract())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"rows: {min_ratio: 0.5, max_ratio: 2, reference: 100000}\n", "  - name: amount\n    type: numeric\n    required: true\n",
		"    allowed: [eu, us]\n"} {
		if !strings.Contains(string(b), line) {
			t.Errorf("the document lacks %q:\n%s", line, b)
		}
	}
	if _, err := ContractYAML(&pb.DataContract{MinRowsRatio: math.NaN()}); err == nil {
		t.Error("a bad contract was written")
	}
}

func TestParseContractYAMLErrors(t *testing.T) {
	for _, tc := range []struct {
		old, new string // replace old by new in the good document
		want     []string
	}{
		{"    min: 0\n", "    minimum: 0\n", []string{`line 8: unknown field "minimum"`}},
		{"    min: 0\n", "    min: zero\n", []string{"line 8: cannot unmarshal !!str `zero` into float64"}},
		{"type: other", "type: date", []string{`columns[3].type: "date": want numeric, categorical or other`}},
		{"min_ratio: 0.5", "min_ratio: 3", []string{"rows.min_ratio: 3 is above the maximum ratio (2)"}},
		{"reference: 100000", "reference: -1", []string{"rows.reference: must be ≥ 0"}},
		{"max: 10000", "max: -1", []string{"columns[0].min: 0 is above max (-1)"}},
		{"type: Categorical", "type: numeric", []string{"columns[1].allowed: allowed values need a categorical column, not numeric"}},
		{"max_null_fraction: 0.02", "max_null_fraction: 2", []string{"columns[0].max_null_fraction: at most 1"}},
		{"name: ts", "name: amount", []string{`columns[3].name: column "amount" is listed twice`}},
		{"[eu, us]", "[eu, us, eu]", []string{`columns[1].allowed[2]: value "eu" is listed twice`}},
		{"max_unseen_fraction: 0.01", "max_unseen_fraction: .nan", []string{"columns[1].max_unseen_fraction: NaN"}},
		{"allow_extra_columns: true\n", "allow_extra_columns: true\n---\ncolumns: []\n", []string{"line 3: a contract holds one YAML document"}},
	} {
		if !strings.Contains(goodContractYAML, tc.old) {
			t.Fatalf("the good document has no %q", tc.old)
		}
		_, err := ParseContractYAML([]byte(strings.Replace(goodContractYAML, tc.old, tc.new, 1)))
		if err == nil {
			t.Errorf("%s: accepted", tc.new)
			continue
		}
		if es, ok := err.(Errors); ok {
			wantErrors(t, es, tc.want...)
		} else if len(tc.want) != 1 || !strings.HasPrefix(err.Error(), tc.want[0]) {
			t.Errorf("%s: got %v, want %q", tc.new, err, tc.want)
		}
	}
	for _, doc := range []string{"", "# only a comment\n"} {
		if _, err := ParseContractYAML([]byte(doc)); err == nil || err.Error() != "the contract is empty" {
			t.Errorf("%q: %v", doc, err)
		}
	}
	if _, err := ParseContractYAML([]byte("columns: [")); err == nil || !strings.HasPrefix(err.Error(), "line 1:") {
		t.Errorf("bad YAML: %v", err)
	}
}

const goodDriftYAML = `psi: {warn: 0.15, fail: 0.4}
js: {fail: 0.3}
drifted_share_fail: 0.6
columns:
  - {name: amount, warn: 0.2, fail: 0.5}
  - {name: session_id, ignore: true}
`

func TestParseDriftYAML(t *testing.T) {
	p, err := ParseDriftYAML([]byte(goodDriftYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.DriftPolicy{PsiWarn: 0.15, PsiFail: 0.4, JsFail: 0.3, DriftedShareFail: 0.6,
		Columns: []*pb.ColumnDrift{{Name: "amount", Warn: 0.2, Fail: 0.5}, {Name: "session_id", Ignore: true}}}
	if !proto.Equal(p, want) {
		t.Fatalf("parsed %v", p)
	}
	for _, pol := range []*pb.DriftPolicy{want, {}, {Disabled: true}, {JsWarn: 0.05}} {
		b, err := DriftYAML(pol)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDriftYAML(b)
		if err != nil || !proto.Equal(back, pol) {
			t.Errorf("round trip of %v: %v %v\n%s", pol, back, err, b)
		}
	}
	for _, tc := range []struct{ old, new, want string }{
		{"warn: 0.15", "warn: 0", "psi.warn: must be > 0 (leave it out for the default 0.1)"},
		{"warn: 0.15", "warn: 0.5", "psi.warn: 0.5 is above the fail threshold (0.4)"},
		{"fail: 0.3", "fail: 1.3", "js.fail: at most 1, got 1.3"},
		{"js: {fail: 0.3}", "js: {warn: 0.3}", "js.warn: 0.3 is above the fail threshold (0.2)"},
		{"drifted_share_fail: 0.6", "drifted_share_fail: 0", "drifted_share_fail: must be > 0"},
		{"warn: 0.2, fail: 0.5", "warn: 0.2", "columns[0].fail: must be > 0 when warn is set"},
		{"ignore: true", "ignored: true", `line 6: unknown field "ignored"`},
	} {
		_, err := ParseDriftYAML([]byte(strings.Replace(goodDriftYAML, tc.old, tc.new, 1)))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.new, err, tc.want)
		}
	}
}

// FuzzParseContractYAML feeds arbitrary documents to ParseContractYAML:
// it never panics, and a contract it accepts is written by ContractYAML
// as a document that reads back as the same contract.
func FuzzParseContractYAML(f *testing.F) {
	f.Add([]byte(goodContractYAML))
	f.Add([]byte("columns: [{name: a, allowed: ['', 'true', \"x\\ny\"]}]\n"))
	f.Add([]byte("rows: {min_ratio: 1e308, max_ratio: .inf}\ncolumns: [{name: b, min: -0.0, max: 0x10}]\n"))
	f.Add([]byte("columns: &a [{name: c}]\nx: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseContractYAML(data)
		if err != nil {
			return
		}
		b, err := ContractYAML(c)
		if err != nil {
			t.Fatalf("an accepted contract is not written: %v\n%v", err, c)
		}
		back, err := ParseContractYAML(b)
		if err != nil || !proto.Equal(back, c) {
			t.Fatalf("round trip: %v\n got %v\nwant %v\n%s", err, back, c, b)
		}
	})
}

// FuzzParseDriftYAML is FuzzParseContractYAML for drift policies.
func FuzzParseDriftYAML(f *testing.F) {
	f.Add([]byte(goodDriftYAML))
	f.Add([]byte("disabled: true\ncolumns: [{name: x, ignore: true}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseDriftYAML(data)
		if err != nil {
			return
		}
		b, err := DriftYAML(p)
		if err != nil {
			t.Fatalf("an accepted policy is not written: %v\n%v", err, p)
		}
		back, err := ParseDriftYAML(b)
		if err != nil || !proto.Equal(back, p) {
			t.Fatalf("round trip: %v\n got %v\nwant %v\n%s", err, back, p, b)
		}
	})
}
