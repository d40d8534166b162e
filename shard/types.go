package shard

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
)

// Field is one column of a dataset schema as manifest.json records it.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// typeByName lists the column types a dataset may hold. Sources with other
// types (lists, structs, maps, decimals) are rejected with the column named.
var typeByName = map[string]arrow.DataType{
	"bool":          arrow.FixedWidthTypes.Boolean,
	"int8":          arrow.PrimitiveTypes.Int8,
	"int16":         arrow.PrimitiveTypes.Int16,
	"int32":         arrow.PrimitiveTypes.Int32,
	"int64":         arrow.PrimitiveTypes.Int64,
	"uint8":         arrow.PrimitiveTypes.Uint8,
	"uint16":        arrow.PrimitiveTypes.Uint16,
	"uint32":        arrow.PrimitiveTypes.Uint32,
	"uint64":        arrow.PrimitiveTypes.Uint64,
	"float32":       arrow.PrimitiveTypes.Float32,
	"float64":       arrow.PrimitiveTypes.Float64,
	"string":        arrow.BinaryTypes.String,
	"large_string":  arrow.BinaryTypes.LargeString,
	"binary":        arrow.BinaryTypes.Binary,
	"date32":        arrow.FixedWidthTypes.Date32,
	"timestamp[s]":  &arrow.TimestampType{Unit: arrow.Second},
	"timestamp[ms]": &arrow.TimestampType{Unit: arrow.Millisecond},
	"timestamp[us]": &arrow.TimestampType{Unit: arrow.Microsecond},
	"timestamp[ns]": &arrow.TimestampType{Unit: arrow.Nanosecond},
}

// typeAliases are the extra spellings --schema accepts.
var typeAliases = map[string]string{
	"int": "int64", "integer": "int64", "long": "int64",
	"float": "float64", "double": "float64", "number": "float64",
	"str": "string", "utf8": "string", "category": "string", "categorical": "string",
	"boolean": "bool", "timestamp": "timestamp[us]", "date": "date32",
}

// TypeName returns the manifest name of t, or an error for unsupported types.
func TypeName(t arrow.DataType) (string, error) {
	if ts, ok := t.(*arrow.TimestampType); ok {
		name := "timestamp[" + ts.Unit.String() + "]"
		if ts.TimeZone != "" && ts.TimeZone != "UTC" {
			return "", fmt.Errorf("timestamp time zone %q is not supported (store UTC)", ts.TimeZone)
		}
		return name, nil
	}
	for name, dt := range typeByName {
		if _, ts := dt.(*arrow.TimestampType); !ts && arrow.TypeEqual(dt, t) {
			return name, nil
		}
	}
	return "", fmt.Errorf("type %s is not supported (want numbers, bool, string, binary, date32 or timestamp)", t)
}

// ParseType maps a manifest or --schema type name to an Arrow type.
func ParseType(name string) (arrow.DataType, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := typeAliases[n]; ok {
		n = a
	}
	if dt, ok := typeByName[n]; ok {
		return dt, nil
	}
	return nil, fmt.Errorf("unknown column type %q", name)
}

// FieldsOf converts an Arrow schema to manifest fields.
func FieldsOf(s *arrow.Schema) ([]Field, error) {
	out := make([]Field, 0, s.NumFields())
	for _, f := range s.Fields() {
		name, err := TypeName(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		out = append(out, Field{Name: f.Name, Type: name, Nullable: f.Nullable})
	}
	return out, nil
}

// SchemaOf converts manifest fields back to an Arrow schema, rejecting
// empty or duplicate names and unknown types.
func SchemaOf(fields []Field) (*arrow.Schema, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("schema has no columns")
	}
	seen := make(map[string]bool, len(fields))
	af := make([]arrow.Field, len(fields))
	for i, f := range fields {
		if f.Name == "" {
			return nil, fmt.Errorf("column %d has an empty name", i+1)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("column %q appears twice", f.Name)
		}
		seen[f.Name] = true
		dt, err := ParseType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		af[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: f.Nullable}
	}
	return arrow.NewSchema(af, nil), nil
}

// ParseSchemaSpec parses the --schema flag: "name:type,name:type,...".
// Every column is nullable (an empty CSV cell is a missing value).
func ParseSchemaSpec(spec string) (*arrow.Schema, error) {
	var fields []Field
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, typ, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("schema entry %q: want name:type", part)
		}
		fields = append(fields, Field{Name: strings.TrimSpace(name), Type: typ, Nullable: true})
	}
	return SchemaOf(fields)
}

// nullableSchema returns s with every field nullable, so sources that
// disagree only on nullability share one dataset schema.
func nullableSchema(s *arrow.Schema) *arrow.Schema {
	fs := s.Fields()
	for i := range fs {
		fs[i].Nullable = true
		fs[i].Metadata = arrow.Metadata{}
	}
	return arrow.NewSchema(fs, nil)
}

// sameColumns reports the first column where got differs from want by name
// or type, as a sentence; "" when they agree.
func sameColumns(want, got *arrow.Schema) string {
	_, reason := columnDiff(want, got)
	return reason
}

// columnDiff is sameColumns that also names the column to blame: got's
// column at the first differing position, or want's first column that got
// lacks. Both are "" when the schemas agree.
func columnDiff(want, got *arrow.Schema) (column, reason string) {
	n := min(want.NumFields(), got.NumFields())
	renamed := false
	for i := range n {
		w, g := want.Field(i), got.Field(i)
		if w.Name != g.Name {
			column, reason, renamed = g.Name, fmt.Sprintf("column %d is %q, expected %q", i+1, g.Name, w.Name), true
			break
		}
		if !arrow.TypeEqual(w.Type, g.Type) {
			return w.Name, fmt.Sprintf("column %q has type %s, expected %s", w.Name, g.Type, w.Type)
		}
	}
	switch {
	case want.NumFields() == got.NumFields():
		return column, reason
	case renamed:
	case got.NumFields() > n:
		column = got.Field(n).Name
	default:
		column = want.Field(n).Name
	}
	return column, fmt.Sprintf("has %d columns, expected %d (%s)", got.NumFields(), want.NumFields(), columnList(want))
}

func columnList(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
