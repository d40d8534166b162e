package shard

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// maxHeaderBytes bounds the CSV header line a mid-object unit reads.
const maxHeaderBytes = 1 << 20

// csvDecoder reads one CSV unit (a whole object or a byte range of one) into
// record batches of the plan's schema.
type csvDecoder struct {
	u        *unitEnv
	bucket   storage.Bucket
	key      string
	body     io.ReadCloser
	r        *csv.Reader
	rows     *rowBuilder
	lineBase int64 // lines before the reader's first byte; -1 until counted
	start    int64 // the reader's first byte in the object
	eof      bool
}

func newCSVDecoder(u *unitEnv) (*csvDecoder, error) {
	b, key, err := storage.Open(u.ctx, u.obj.URI, u.st)
	if err != nil {
		return nil, err
	}
	d := &csvDecoder{u: u, bucket: b, key: key, rows: newRowBuilder(u.schema, u.opts())}
	if err := d.open(); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// open checks the object's header against the schema and positions the
// reader at the unit's first line.
func (d *csvDecoder) open() error {
	// A unit that starts mid-object reads only the header's bytes from the
	// start, not a stream of the whole object it would then abandon.
	headLen := int64(-1)
	if d.u.unit.Offset > 0 {
		headLen = min(d.u.obj.Size, maxHeaderBytes)
	}
	body, err := d.bucket.GetRange(d.u.ctx, d.key, 0, headLen)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(body, 256<<10)
	limit := int64(-1)
	if d.u.unit.Offset == 0 {
		limit = d.u.unit.Length // the header starts at byte 0, so it is in range
	}
	hr := newCSVReader(newLineRangeReader(br, limit))
	header, err := hr.Read()
	if err != nil {
		body.Close()
		return csvHeaderError(d.u.obj.URI, err)
	}
	line, _ := hr.FieldPos(0)
	if err := checkHeader(d.u.obj.URI, int64(line), header, d.u.schema); err != nil {
		body.Close()
		return err
	}
	if d.u.unit.Offset == 0 {
		d.body, d.r, d.lineBase = body, hr, 0
		return nil
	}
	body.Close()
	from := d.u.unit.Offset - 1
	if body, err = d.bucket.GetRange(d.u.ctx, d.key, from, -1); err != nil {
		return err
	}
	br = bufio.NewReaderSize(body, 256<<10)
	skipped, err := skipPartialLine(br)
	if err != nil && err != io.EOF {
		body.Close()
		return fmt.Errorf("%s: %w", d.u.obj.URI, err)
	}
	d.body, d.start, d.lineBase = body, from+skipped, -1
	remaining := d.u.unit.Offset + d.u.unit.Length - d.start
	if remaining <= 0 {
		d.eof = true // the range holds no line start
	}
	d.r = newCSVReader(newLineRangeReader(br, max(remaining, 0)))
	return nil
}

func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // counted here, to name the line and keep going under quarantine
	return cr
}

func csvHeaderError(uri string, err error) error {
	if errors.Is(err, io.EOF) {
		// Zero-byte objects are refused by NewPlan: this one holds only blank lines.
		return objectError(uri, "the CSV object has no header row (it holds only blank lines)")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &InputError{Object: uri, Line: int64(pe.StartLine), Reason: "header: " + pe.Err.Error()}
	}
	return fmt.Errorf("%s: reading header: %w", uri, err)
}

// checkHeader requires the header, on the given line, to name the schema's
// columns in order. Its error names the first column out of place.
func checkHeader(uri string, line int64, header []string, schema *arrow.Schema) error {
	fields := make([]arrow.Field, len(header))
	for i, h := range header {
		fields[i] = arrow.Field{Name: strings.TrimSpace(h), Type: schema.Field(min(i, schema.NumFields()-1)).Type}
	}
	col, diff := columnDiff(schema, arrow.NewSchema(fields, nil))
	if diff == "" {
		return nil
	}
	return &InputError{Object: uri, Line: line, Column: col, Reason: "header " + diff}
}

// next returns the next batch, or io.EOF when the unit is done.
func (d *csvDecoder) next() (arrow.Record, error) {
	batch := d.u.plan.Options.BatchRows
	for !d.eof && !d.rows.full(batch) {
		rec, err := d.r.Read()
		if err == io.EOF {
			d.eof = true
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("%s: %w", d.u.obj.URI, err)
			}
			if err := d.badRow(int64(pe.StartLine), "", pe.Err.Error(), ""); err != nil {
				return nil, err
			}
			continue
		}
		line, _ := d.r.FieldPos(0)
		if len(rec) != len(d.rows.pending) {
			reason := fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(d.rows.pending))
			if err := d.badRow(int64(line), "", reason, strings.Join(rec, ",")); err != nil {
				return nil, err
			}
			continue
		}
		if err := d.parseRow(rec, int64(line)); err != nil {
			return nil, err
		}
	}
	if rec := d.rows.flush(); rec != nil {
		return rec, nil
	}
	return nil, io.EOF
}

func (d *csvDecoder) parseRow(rec []string, line int64) error {
	for i, f := range rec {
		if reason := d.rows.setText(i, f); reason != "" {
			return d.badRow(line, d.u.schema.Field(i).Name, reason, strings.Join(rec, ","))
		}
	}
	d.rows.commit()
	return nil
}

// badRow reports a row at a reader-relative line to the bad-row sink.
func (d *csvDecoder) badRow(line int64, column, reason, raw string) error {
	if d.lineBase < 0 {
		n, err := countLines(d.u.ctx, d.bucket, d.key, d.start)
		if err != nil {
			return fmt.Errorf("%s: %w", d.u.obj.URI, err)
		}
		d.lineBase = n
	}
	return d.u.bad.add(&InputError{Object: d.u.obj.URI, Line: d.lineBase + line, Column: column, Reason: reason}, raw)
}

func (d *csvDecoder) close() {
	if d.body != nil {
		d.body.Close()
	}
	d.rows.release()
}

// inferCSV settles a CSV dataset's schema from the first object's header and
// first rows, or from the --schema option, reordered to the header's order.
func inferCSV(ctx context.Context, st storage.Config, uri string, opts Options) (*arrow.Schema, error) {
	body, err := openObject(ctx, st, uri)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	r := newCSVReader(bufio.NewReaderSize(body, 256<<10))
	header, err := r.Read()
	if err != nil {
		return nil, csvHeaderError(uri, err)
	}
	header = append([]string(nil), header...)
	line, _ := r.FieldPos(0)
	seen := map[string]bool{}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		switch {
		case header[i] == "":
			return nil, &InputError{Object: uri, Line: int64(line), Reason: fmt.Sprintf("header column %d has no name", i+1)}
		case seen[header[i]]:
			return nil, &InputError{Object: uri, Line: int64(line), Column: header[i], Reason: "column name appears twice in the header"}
		case !utf8.ValidString(header[i]):
			return nil, &InputError{Object: uri, Line: int64(line), Column: header[i], Reason: "column name is not valid UTF-8"}
		}
		seen[header[i]] = true
	}
	if opts.Schema != "" {
		given, err := ParseSchemaSpec(opts.Schema)
		if err != nil {
			return nil, err
		}
		return orderByHeader(uri, int64(line), header, given)
	}
	kinds := make([]inferredKind, len(header))
	for n := 0; n < opts.InferRows; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil || len(rec) != len(header) {
			continue // the unit that owns this line reports it
		}
		for i, f := range rec {
			kinds[i].observe(f)
		}
	}
	fields := make([]arrow.Field, len(header))
	for i, h := range header {
		fields[i] = arrow.Field{Name: h, Type: kinds[i].dataType(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

func orderByHeader(uri string, line int64, header []string, given *arrow.Schema) (*arrow.Schema, error) {
	fields := make([]arrow.Field, len(header))
	for i, h := range header {
		idx := given.FieldIndices(h)
		if idx == nil {
			return nil, &InputError{Object: uri, Line: line, Column: h, Reason: "header column is not in --schema"}
		}
		fields[i] = given.Field(idx[0])
	}
	if given.NumFields() != len(header) {
		for _, f := range given.Fields() {
			if !contains(header, f.Name) {
				return nil, &InputError{Object: uri, Line: line, Column: f.Name, Reason: "--schema column is not in the header"}
			}
		}
	}
	return arrow.NewSchema(fields, nil), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inferredKind narrows a text column's type as values are observed:
// int64 ⊂ float64, bool, else string. A column of only empty cells is string.
type inferredKind struct {
	seen                      bool
	notInt, notFloat, notBool bool
}

func (k *inferredKind) observe(s string) {
	if s == "" {
		return
	}
	k.seen = true
	if !k.notInt {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			k.notInt = true
		}
	}
	if !k.notFloat {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			k.notFloat = true
		}
	}
	if !k.notBool {
		if s != "true" && s != "false" && s != "TRUE" && s != "FALSE" && s != "True" && s != "False" {
			k.notBool = true
		}
	}
}

func (k *inferredKind) dataType() arrow.DataType {
	switch {
	case !k.seen:
		return arrow.BinaryTypes.String
	case !k.notInt:
		return arrow.PrimitiveTypes.Int64
	case !k.notFloat:
		return arrow.PrimitiveTypes.Float64
	case !k.notBool:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}
