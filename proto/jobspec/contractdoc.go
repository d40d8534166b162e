package jobspec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// ContractDoc is a data contract as a document: the YAML that
// `nightshift datasets contract` prints and a user edits, passes to
// `nightshift validate --contract` or writes inline in a pipeline's
// validate step (`validate.contract`). It reads as the rules it holds:
//
//	rows: {min_ratio: 0.5, max_ratio: 2, reference: 100000}
//	allow_extra_columns: true
//	columns:
//	  - name: amount
//	    type: numeric
//	    required: true
//	    max_null_fraction: 0.02
//	    min: 0
//	    max: 10000
//	  - name: region
//	    type: categorical
//	    required: true
//	    allowed: [eu, us]
//	    max_unseen_fraction: 0.01
//
// A field left out is unchecked: no max_null_fraction, no min or max, no
// allowed values, no row bound (a ratio of 0 is none either). Left out,
// allow_extra_columns and allow_inf are false and required is false. The
// yaml tags are the field paths of Errors.
type ContractDoc struct {
	Rows              *ContractDocRows    `yaml:"rows,omitempty,flow"`
	AllowExtraColumns bool                `yaml:"allow_extra_columns"`
	Columns           []ContractDocColumn `yaml:"columns"`
}

// ContractDocRows is ContractDoc.Rows: the row count must lie within
// min_ratio and max_ratio times the reference's rows (reference, else the
// reference profile's count).
type ContractDocRows struct {
	MinRatio  float64 `yaml:"min_ratio,omitempty"`
	MaxRatio  float64 `yaml:"max_ratio,omitempty"`
	Reference int64   `yaml:"reference,omitempty"`
}

// ContractDocColumn is one entry of ContractDoc.Columns. Type is the
// column's kind: numeric, categorical or other ("" = not checked).
type ContractDocColumn struct {
	Name              string   `yaml:"name"`
	Type              string   `yaml:"type,omitempty"`
	Required          bool     `yaml:"required"`
	MaxNullFraction   *float64 `yaml:"max_null_fraction,omitempty"`
	Min               *float64 `yaml:"min,omitempty"`
	Max               *float64 `yaml:"max,omitempty"`
	AllowInf          bool     `yaml:"allow_inf,omitempty"`
	Allowed           []string `yaml:"allowed,omitempty,flow"`
	MaxUnseenFraction float64  `yaml:"max_unseen_fraction,omitempty"`
}

// DriftDoc is a drift policy as a document (`nightshift validate --drift`,
// a pipeline's `validate.drift`):
//
//	psi: {warn: 0.1, fail: 0.25}
//	js: {warn: 0.1, fail: 0.2}
//	drifted_share_fail: 0.5
//	columns:
//	  - {name: amount, warn: 0.2, fail: 0.5}
//	  - {name: session_id, ignore: true}
//
// A threshold left out takes its default (DefaultPSIWarn, …); written as
// 0 it is an error. The yaml tags are the field paths of Errors.
type DriftDoc struct {
	PSI              *DriftDocThresholds `yaml:"psi,omitempty,flow"`
	JS               *DriftDocThresholds `yaml:"js,omitempty,flow"`
	DriftedShareFail *float64            `yaml:"drifted_share_fail,omitempty"`
	Columns          []DriftDocColumn    `yaml:"columns,omitempty"`
	Disabled         bool                `yaml:"disabled,omitempty"`
}

// DriftDocThresholds is DriftDoc.PSI and DriftDoc.JS.
type DriftDocThresholds struct {
	Warn *float64 `yaml:"warn,omitempty"`
	Fail *float64 `yaml:"fail,omitempty"`
}

// DriftDocColumn is one entry of DriftDoc.Columns: the column's own warn
// and fail (both), or ignore.
type DriftDocColumn struct {
	Name   string  `yaml:"name"`
	Warn   float64 `yaml:"warn,omitempty"`
	Fail   float64 `yaml:"fail,omitempty"`
	Ignore bool    `yaml:"ignore,omitempty"`
}

// ParseContractYAML decodes a contract document strictly (an unknown
// field is an error naming its line) and checks it (CheckContract). The
// error is an Errors naming every bad field by its path in the document
// ("columns[2].max_null_fraction", "rows.min_ratio"), or a YAML error.
func ParseContractYAML(data []byte) (*pb.DataContract, error) {
	var d ContractDoc
	if err := decodeStrict(data, "contract", &d); err != nil {
		return nil, err
	}
	c := newChecker()
	ct := d.contract(c)
	checkRenamed(c, contractDocPath, func(c checker) { checkContract(c, ct) })
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return ct, nil
}

// ContractYAML writes a contract as its document, which ParseContractYAML
// reads back as the same contract. A contract CheckContract refuses is
// refused here too. What a rule does not check is not written: min without
// has_min, max without has_max, a max_null_fraction of
// UncheckedNullFraction.
func ContractYAML(ct *pb.DataContract) ([]byte, error) {
	if err := CheckContract(ct); err != nil {
		return nil, err
	}
	return encodeDoc(contractDoc(ct))
}

// ParseDriftYAML decodes a drift policy document strictly and checks it
// (NormalizeDrift). The policy is returned as written: its zero
// thresholds are filled when it is applied. The error is an Errors naming
// every bad field by its document path ("psi.fail", "columns[0].warn"), or
// a YAML error.
func ParseDriftYAML(data []byte) (*pb.DriftPolicy, error) {
	var d DriftDoc
	if err := decodeStrict(data, "drift policy", &d); err != nil {
		return nil, err
	}
	c := newChecker()
	p := d.policy(c)
	checkRenamed(c, driftDocPath, func(c checker) { normalizeDrift(c, p) })
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// DriftYAML writes a drift policy as its document, which ParseDriftYAML
// reads back as the same policy. A policy NormalizeDrift refuses is
// refused here too.
func DriftYAML(p *pb.DriftPolicy) ([]byte, error) {
	if _, err := NormalizeDrift(p); err != nil {
		return nil, err
	}
	return encodeDoc(driftDoc(p))
}

// contract converts the document, recording its own errors (an unknown
// type word) in c.
func (d *ContractDoc) contract(c checker) *pb.DataContract {
	ct := &pb.DataContract{AllowExtraColumns: d.AllowExtraColumns}
	if r := d.Rows; r != nil {
		ct.MinRowsRatio, ct.MaxRowsRatio, ct.ReferenceRows = r.MinRatio, r.MaxRatio, r.Reference
	}
	for i, dc := range d.Columns {
		col := &pb.ColumnContract{Name: dc.Name, Required: dc.Required, MaxNullFraction: UncheckedNullFraction,
			AllowInf: dc.AllowInf, Allowed: dc.Allowed, MaxUnseenFraction: dc.MaxUnseenFraction}
		switch t := word(dc.Type); t {
		case "":
		case "numeric":
			col.Kind = pb.ColumnKind_COLUMN_KIND_NUMERIC
		case "categorical":
			col.Kind = pb.ColumnKind_COLUMN_KIND_CATEGORICAL
		case "other":
			col.Kind = pb.ColumnKind_COLUMN_KIND_OTHER
		default:
			c.bad(index("columns", i)+".type", "%s", want(dc.Type, ColumnKinds...))
		}
		if dc.MaxNullFraction != nil {
			col.MaxNullFraction = *dc.MaxNullFraction
		}
		if dc.Min != nil {
			col.HasMin, col.Min = true, plusZero(*dc.Min)
		}
		if dc.Max != nil {
			col.HasMax, col.Max = true, plusZero(*dc.Max)
		}
		ct.Columns = append(ct.Columns, col)
	}
	return ct
}

// contractDoc is the document of a checked contract.
func contractDoc(ct *pb.DataContract) *ContractDoc {
	d := &ContractDoc{AllowExtraColumns: ct.AllowExtraColumns, Columns: []ContractDocColumn{}}
	if ct.MinRowsRatio != 0 || ct.MaxRowsRatio != 0 || ct.ReferenceRows != 0 {
		d.Rows = &ContractDocRows{MinRatio: ct.MinRowsRatio, MaxRatio: ct.MaxRowsRatio, Reference: ct.ReferenceRows}
	}
	for _, col := range ct.Columns {
		dc := ContractDocColumn{Name: col.Name, Required: col.Required, AllowInf: col.AllowInf,
			Allowed: col.Allowed, MaxUnseenFraction: col.MaxUnseenFraction}
		if col.Kind != pb.ColumnKind_COLUMN_KIND_UNSPECIFIED {
			dc.Type = KindWord(col.Kind)
		}
		if col.MaxNullFraction != UncheckedNullFraction {
			dc.MaxNullFraction = ptr(col.MaxNullFraction)
		}
		if col.HasMin {
			dc.Min = ptr(col.Min)
		}
		if col.HasMax {
			dc.Max = ptr(col.Max)
		}
		d.Columns = append(d.Columns, dc)
	}
	return d
}

// policy converts the document, recording its own errors (a threshold
// written as 0) in c.
func (d *DriftDoc) policy(c checker) *pb.DriftPolicy {
	p := &pb.DriftPolicy{Disabled: d.Disabled}
	positive := func(field string, v *float64, def float64) float64 {
		if v == nil {
			return 0
		}
		if *v == 0 {
			c.bad(field, "must be > 0 (leave it out for the default %g)", def)
		}
		return *v
	}
	if t := d.PSI; t != nil {
		p.PsiWarn = positive("psi.warn", t.Warn, DefaultPSIWarn)
		p.PsiFail = positive("psi.fail", t.Fail, DefaultPSIFail)
	}
	if t := d.JS; t != nil {
		p.JsWarn = positive("js.warn", t.Warn, DefaultJSWarn)
		p.JsFail = positive("js.fail", t.Fail, DefaultJSFail)
	}
	p.DriftedShareFail = positive("drifted_share_fail", d.DriftedShareFail, DefaultDriftedShare)
	for _, col := range d.Columns {
		p.Columns = append(p.Columns, &pb.ColumnDrift{Name: col.Name, Warn: col.Warn, Fail: col.Fail, Ignore: col.Ignore})
	}
	return p
}

// driftDoc is the document of a checked drift policy.
func driftDoc(p *pb.DriftPolicy) *DriftDoc {
	d := &DriftDoc{Disabled: p.GetDisabled()}
	pair := func(warn, fail float64) *DriftDocThresholds {
		if warn == 0 && fail == 0 {
			return nil
		}
		t := &DriftDocThresholds{}
		if warn != 0 {
			t.Warn = ptr(warn)
		}
		if fail != 0 {
			t.Fail = ptr(fail)
		}
		return t
	}
	d.PSI = pair(p.GetPsiWarn(), p.GetPsiFail())
	d.JS = pair(p.GetJsWarn(), p.GetJsFail())
	if p.GetDriftedShareFail() != 0 {
		d.DriftedShareFail = ptr(p.GetDriftedShareFail())
	}
	for _, col := range p.GetColumns() {
		d.Columns = append(d.Columns, DriftDocColumn{Name: col.Name, Warn: col.Warn, Fail: col.Fail, Ignore: col.Ignore})
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// The spec's paths of a contract and a drift policy that differ in their
// documents.
var (
	contractSpecToDoc = map[string]string{
		"min_rows_ratio": "rows.min_ratio",
		"max_rows_ratio": "rows.max_ratio",
		"reference_rows": "rows.reference",
	}
	driftSpecToDoc = map[string]string{
		"psi_warn": "psi.warn",
		"psi_fail": "psi.fail",
		"js_warn":  "js.warn",
		"js_fail":  "js.fail",
	}
	columnKindPathRE = regexp.MustCompile(`^(columns\[\d+\])\.kind$`)
)

// contractDocPath is the document path of a contract's spec path
// ("columns[1].kind" → "columns[1].type").
func contractDocPath(p string) string {
	if d, ok := contractSpecToDoc[p]; ok {
		return d
	}
	return columnKindPathRE.ReplaceAllString(p, "$1.type")
}

// driftDocPath is the document path of a drift policy's spec path
// ("psi_fail" → "psi.fail").
func driftDocPath(p string) string {
	if d, ok := driftSpecToDoc[p]; ok {
		return d
	}
	return p
}

// gateDocPath renames a spec path below prefix+"contract" or
// prefix+"drift" to its document path ("pipeline.validate.drift.psi_fail"
// → "pipeline.validate.drift.psi.fail"); other paths are returned as
// they are.
func gateDocPath(prefix, p string) string {
	for _, g := range []struct {
		field  string
		rename func(string) string
	}{{"contract.", contractDocPath}, {"drift.", driftDocPath}} {
		if rest, ok := strings.CutPrefix(p, prefix+g.field); ok {
			return prefix + g.field + g.rename(rest)
		}
	}
	return p
}

// checkRenamed runs check and records its errors in c with their paths
// renamed by rename: a spec's rules, told at a document's paths.
func checkRenamed(c checker, rename func(string) string, check func(checker)) {
	sub := newChecker()
	check(sub)
	for _, e := range *sub.errs {
		*c.errs = append(*c.errs, FieldError{Path: join(c.prefix, rename(e.Path)), Msg: e.Msg})
	}
}

// decodeStrict decodes one YAML document into doc, every field of which
// doc must know; kind names the document in errors ("contract").
func decodeStrict(data []byte, kind string, doc any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); errors.Is(err, io.EOF) {
		return fmt.Errorf("the %s is empty", kind)
	} else if err = WithIntegerErrors(err, data, doc); err != nil {
		return yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("line %d: a %s holds one YAML document", extra.Line, kind)
	} else if !errors.Is(err, io.EOF) {
		return yamlError(err)
	}
	return nil
}

var unknownFieldRE = regexp.MustCompile(`field (.*) not found in type \S+`)

// yamlError rewords a decoding error for a user: "line 4: unknown field
// \"regoin\"" rather than the Go type it did not fit.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownFieldRE.ReplaceAllString(m, `unknown field "$1"`)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// encodeDoc writes a document as YAML indented by 2.
func encodeDoc(doc any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plusZero folds -0 into 0: the two are the same bound, and YAML writes
// and reads them alike only once they are one value.
func plusZero(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}
