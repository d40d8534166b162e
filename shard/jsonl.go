package shard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// maxLineBytes bounds one JSON line, so a file without newlines cannot
// exhaust memory.
const maxLineBytes = 16 << 20

// errLongLine is the lineScanner's complaint about a line over maxLineBytes.
var errLongLine = fmt.Errorf("line is longer than %d bytes", maxLineBytes)

// scanError makes a lineScanner error about uri: an InputError for a line
// too long, an I/O failure otherwise.
func (s *lineScanner) scanError(uri string, err error) error {
	if err == errLongLine {
		return &InputError{Object: uri, Line: s.line + 1, Reason: err.Error()}
	}
	return fmt.Errorf("%s: reading line %d: %w", uri, s.line+1, err)
}

// lineScanner yields the lines of a stream with their 1-based numbers.
type lineScanner struct {
	r    *bufio.Reader
	buf  []byte
	line int64
}

// next returns the next line without its newline, or io.EOF.
func (s *lineScanner) next() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.buf = append(s.buf, chunk...)
		if len(s.buf) > maxLineBytes {
			return nil, errLongLine
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(s.buf) > 0 {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		s.line++
		return bytes.TrimRight(s.buf, "\r\n"), nil
	}
}

// jsonlDecoder reads one JSON-lines object into record batches.
type jsonlDecoder struct {
	u       *unitEnv
	body    io.ReadCloser
	sc      *lineScanner
	rows    *rowBuilder
	columns map[string]int
	obj     map[string]json.RawMessage
	eof     bool
}

func newJSONLDecoder(u *unitEnv) (*jsonlDecoder, error) {
	body, err := openObject(u.ctx, u.st, u.obj.URI)
	if err != nil {
		return nil, err
	}
	cols := make(map[string]int, u.schema.NumFields())
	for i, f := range u.schema.Fields() {
		cols[f.Name] = i
	}
	return &jsonlDecoder{u: u, body: body, sc: &lineScanner{r: bufio.NewReaderSize(body, 256<<10)},
		rows: newRowBuilder(u.schema, u.opts()), columns: cols, obj: map[string]json.RawMessage{}}, nil
}

func (d *jsonlDecoder) next() (arrow.Record, error) {
	batch := d.u.plan.Options.BatchRows
	for !d.eof && !d.rows.full(batch) {
		line, err := d.sc.next()
		if err == io.EOF {
			d.eof = true
			break
		}
		if err != nil {
			return nil, d.sc.scanError(d.u.obj.URI, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if col, reason := d.parseLine(line); reason != "" {
			e := &InputError{Object: d.u.obj.URI, Line: d.sc.line, Column: col, Reason: reason}
			if err := d.u.bad.add(e, string(line)); err != nil {
				return nil, err
			}
			continue
		}
		d.rows.commit()
	}
	if rec := d.rows.flush(); rec != nil {
		return rec, nil
	}
	return nil, io.EOF
}

// parseLine fills the pending row from one line; it returns the column and
// reason of the first problem, or "" and "".
func (d *jsonlDecoder) parseLine(line []byte) (string, string) {
	clear(d.obj)
	if err := json.Unmarshal(line, &d.obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return "", "line is not a JSON object"
		}
		return "", "invalid JSON: " + err.Error()
	}
	if d.obj == nil {
		return "", "line is not a JSON object"
	}
	for k := range d.obj {
		if _, ok := d.columns[k]; !ok {
			for _, first := range objectKeys(line) { // name the first in the line, not a random one
				if _, ok := d.columns[first]; !ok {
					k = first
					break
				}
			}
			return k, "field is not in the schema (" + columnList(d.u.schema) + ")"
		}
	}
	for i, f := range d.u.schema.Fields() {
		raw, ok := d.obj[f.Name]
		if !ok || string(raw) == "null" {
			if reason := d.rows.setNull(i); reason != "" {
				return f.Name, reason
			}
			continue
		}
		text, reason := jsonScalar(raw, f.Type)
		if reason == "" {
			reason = d.rows.setText(i, text)
		}
		if reason != "" {
			return f.Name, reason
		}
	}
	return "", ""
}

// jsonScalar turns a JSON value into the text setText parses for type dt.
func jsonScalar(raw json.RawMessage, dt arrow.DataType) (string, string) {
	switch raw[0] {
	case '{', '[':
		return "", "nested objects and arrays are not supported"
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "invalid string: " + err.Error()
		}
		switch dt.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.DATE32, arrow.TIMESTAMP:
			return s, ""
		}
		return "", fmt.Sprintf("expected a %s, got the string %q", dt, truncate(s, 64))
	}
	if s := string(raw); s == "" {
		return "", "empty value"
	}
	return string(raw), ""
}

func (d *jsonlDecoder) close() {
	d.body.Close()
	d.rows.release()
}

// inferJSONL settles a schema from the first lines of the first object:
// columns in first-seen order; int64 widens to float64; a column that mixes
// numbers, strings or booleans is an error that asks for --schema.
func inferJSONL(ctx context.Context, st storage.Config, uri string, rows int) (*arrow.Schema, error) {
	body, err := openObject(ctx, st, uri)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	sc := &lineScanner{r: bufio.NewReaderSize(body, 256<<10)}
	var order []string
	kinds := map[string]*jsonKind{}
	for n := 0; n < rows; {
		line, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, sc.scanError(uri, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
			continue // the unit reports it, under the bad-row policy
		}
		for _, k := range objectKeys(line) {
			if kinds[k] == nil {
				kinds[k] = &jsonKind{}
				order = append(order, k)
			}
			if reason := kinds[k].observe(obj[k], sc.line); reason != "" {
				return nil, &InputError{Object: uri, Line: sc.line, Column: k, Reason: reason}
			}
		}
	}
	if len(order) == 0 {
		return nil, objectError(uri, "no JSON object found in the first %d lines", rows)
	}
	fields := make([]arrow.Field, len(order))
	for i, k := range order {
		fields[i] = arrow.Field{Name: k, Type: kinds[k].dataType(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// objectKeys returns a JSON object's keys in document order.
func objectKeys(line []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// jsonKind narrows a JSON column's type as values are observed.
type jsonKind struct {
	kind      string // "", "int", "float", "string", "bool"
	firstLine int64
}

func (k *jsonKind) observe(raw json.RawMessage, line int64) string {
	var got string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '{' || raw[0] == '[':
		return "nested objects and arrays are not supported"
	case raw[0] == '"':
		got = "string"
	case raw[0] == 't' || raw[0] == 'f':
		got = "bool"
	default:
		got = "float"
		if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			got = "int"
		}
	}
	switch {
	case k.kind == "" || k.kind == got:
		if k.kind == "" {
			k.firstLine = line
		}
		k.kind = got
	case (k.kind == "int" || k.kind == "float") && (got == "int" || got == "float"):
		k.kind = "float"
	default:
		return fmt.Sprintf("holds a %s here but a %s on line %d; pass --schema", got, k.kind, k.firstLine)
	}
	return ""
}

func (k *jsonKind) dataType() arrow.DataType {
	switch k.kind {
	case "int":
		return arrow.PrimitiveTypes.Int64
	case "float":
		return arrow.PrimitiveTypes.Float64
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}
