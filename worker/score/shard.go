package score

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// Result describes a scored shard's output object.
type Result struct {
	Rows    int64  // rows written
	Bytes   int64  // size of the output object
	BadRows int64  // rows quarantined
	CRC32C  uint32 // CRC-32C (Castagnoli) of the output object's bytes
	// QuarantineKey is the URI of the quarantined rows' object (named
	// after the output by scoreout.QuarantineKey); empty when no row was
	// quarantined.
	QuarantineKey string
}

// Shard scores shard index of ds with m and streams the output records
// (opts.Passthrough columns copied from the input, then m.OutputFields())
// to the object at outURI. The object appears only if everything
// succeeds. Errors name the shard and, for bad data, the row (0-based in
// the shard) and column; those wrap ErrBadInput.
func Shard(ctx context.Context, st storage.Config, ds *shard.Dataset, index int, m *model.Model, opts Options, outURI string) (*Result, error) {
	if index < 0 || index >= ds.NumShards() {
		return nil, fmt.Errorf("%w: shard %d is outside the dataset's %d shards", ErrBadInput, index, ds.NumShards())
	}
	opts, err := plan(m, ds.Schema, opts)
	if err != nil {
		return nil, fmt.Errorf("shard %d (%s): %w", index, ds.ShardURI(index), err)
	}
	b, key, err := storage.Open(ctx, outURI, st)
	if err != nil {
		return nil, err
	}
	s := &scorer{ctx: ctx, ds: ds, index: index, m: m, opts: opts, bucket: b, key: key,
		schema: outputSchema(m, ds.Schema, opts.Passthrough), pred: m.NewPredictor()}
	if opts.BadRows == BadRowsQuarantine {
		s.quarantine = &quarantine{ctx: ctx, bucket: b, key: scoreout.QuarantineKey(key), shard: index, object: ds.ShardURI(index)}
	}
	res, err := s.run()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// scorer is one Shard call.
type scorer struct {
	ctx        context.Context
	ds         *shard.Dataset
	index      int
	m          *model.Model
	opts       Options
	bucket     storage.Bucket
	key        string
	schema     *arrow.Schema // output
	pred       *model.Predictor
	quarantine *quarantine // nil under "fail"

	pass   []int // passthrough column indices in the input
	inputs []int // model and passthrough columns, for quarantine lines
	rows   int64 // rows of the shard read so far
	out    int64 // rows written
}

func (s *scorer) run() (*Result, error) {
	ow := storage.NewWriter(s.ctx, s.bucket, s.key, storage.PutOptions{ContentType: s.contentType()})
	committed := false
	defer func() {
		if !committed {
			ow.Abort()
			if s.quarantine != nil {
				s.quarantine.abort()
			}
		}
	}()
	cw := newCountingWriter(ow)
	fw, err := newRecordWriter(cw, s.schema, s.opts)
	if err != nil {
		return nil, fmt.Errorf("shard %d: output %s: %w", s.index, s.bucket.URI(s.key), err)
	}
	if err := s.scan(fw); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("shard %d: closing %s: %w", s.index, s.bucket.URI(s.key), err)
	}
	if err := cw.Flush(); err != nil {
		return nil, fmt.Errorf("shard %d: writing %s: %w", s.index, s.bucket.URI(s.key), err)
	}
	res := &Result{Rows: s.out, Bytes: cw.n, CRC32C: cw.crc.Sum32()}
	if q := s.quarantine; q != nil && q.count > 0 {
		if err := q.close(); err != nil {
			return nil, fmt.Errorf("shard %d: %w", s.index, err)
		}
		res.BadRows, res.QuarantineKey = q.count, s.bucket.URI(q.key)
	}
	committed = true
	info, err := ow.Close()
	if err == nil && info.Size != cw.n {
		err = fmt.Errorf("stored %d bytes, wrote %d", info.Size, cw.n)
	}
	if err != nil {
		if res.QuarantineKey != "" { // best effort: an orphan quarantine object misleads
			_ = s.bucket.Delete(context.WithoutCancel(s.ctx), s.quarantine.key)
		}
		return nil, fmt.Errorf("shard %d: writing %s: %w", s.index, s.bucket.URI(s.key), err)
	}
	return res, nil
}

func (s *scorer) contentType() string {
	if s.opts.Format == FormatArrow {
		return "application/vnd.apache.arrow.file"
	}
	return "application/vnd.apache.parquet"
}

// scan scores the shard batch by batch into fw.
func (s *scorer) scan(fw recordWriter) error {
	sc := s.ds.Scan(s.ctx, s.index)
	defer sc.Close()
	wrote := false
	for sc.Next() {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		out, err := s.score(sc.Record())
		if err != nil {
			return err
		}
		err = fw.Write(out)
		s.out += out.NumRows()
		out.Release()
		if err != nil {
			return fmt.Errorf("shard %d: writing %s: %w", s.index, s.bucket.URI(s.key), err)
		}
		wrote = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("shard %d: %w", s.index, err)
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if !wrote { // an Arrow file needs a batch; parquet is fine either way
		cols := emptyColumns(s.schema)
		empty := array.NewRecord(s.schema, cols, 0)
		releaseAll(cols)
		defer empty.Release()
		return fw.Write(empty)
	}
	return nil
}

// score returns the output record for one input batch.
func (s *scorer) score(rec arrow.Record) (arrow.Record, error) {
	base := s.rows
	s.rows += rec.NumRows()
	if s.pass == nil {
		if err := s.bind(rec.Schema()); err != nil {
			return nil, err
		}
	}
	var preds []arrow.Array
	var bad []model.RowError
	var err error
	if s.quarantine == nil {
		preds, err = s.pred.Predict(rec)
	} else {
		preds, bad, err = s.pred.PredictMasked(rec)
	}
	if err != nil {
		return nil, s.rowError(err, base)
	}
	defer releaseAll(preds)
	cols := make([]arrow.Array, 0, len(s.pass)+len(preds))
	for _, c := range s.pass {
		cols = append(cols, rec.Column(c))
	}
	cols = append(cols, preds...)
	if len(bad) == 0 {
		return array.NewRecord(s.schema, cols, rec.NumRows()), nil
	}
	for _, e := range bad {
		if err := s.quarantine.add(rec, s.inputs, base, e); err != nil {
			return nil, fmt.Errorf("shard %d: %w", s.index, err)
		}
	}
	return dropRows(s.schema, cols, int(rec.NumRows()), bad)
}

// bind resolves the passthrough and model columns in the scanned schema.
func (s *scorer) bind(schema *arrow.Schema) error {
	s.pass = make([]int, 0, len(s.opts.Passthrough))
	seen := map[int]bool{}
	for _, name := range s.opts.Passthrough {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return fmt.Errorf("%w: shard %d: passthrough column %q is not in the shard", ErrBadInput, s.index, name)
		}
		s.pass = append(s.pass, idx[0])
		seen[idx[0]] = true
		s.inputs = append(s.inputs, idx[0])
	}
	for _, f := range s.m.Spec.Features {
		if idx := schema.FieldIndices(f.Column); len(idx) == 1 && !seen[idx[0]] {
			seen[idx[0]] = true
			s.inputs = append(s.inputs, idx[0])
		}
	}
	return nil
}

// rowError turns a predictor error into one that names the shard, the
// row within it and the column.
func (s *scorer) rowError(err error, base int64) error {
	var re *model.RowError
	if errors.As(err, &re) {
		column := ""
		if re.Column != "" {
			column = fmt.Sprintf(", column %q", re.Column)
		}
		return fmt.Errorf("%w: shard %d (%s): row %d%s: %s", ErrBadInput, s.index, s.ds.ShardURI(s.index), base+re.Row, column, re.Reason)
	}
	if errors.Is(err, model.ErrSchema) {
		return fmt.Errorf("%w: shard %d (%s): %w", ErrBadInput, s.index, s.ds.ShardURI(s.index), err)
	}
	return fmt.Errorf("shard %d: %w", s.index, err)
}

// dropRows returns a record of cols without the bad rows (sorted by row).
func dropRows(schema *arrow.Schema, cols []arrow.Array, n int, bad []model.RowError) (arrow.Record, error) {
	var runs [][2]int64 // [start, end) of the rows kept
	next := int64(0)
	for _, e := range bad {
		if e.Row > next {
			runs = append(runs, [2]int64{next, e.Row})
		}
		next = e.Row + 1
	}
	if next < int64(n) {
		runs = append(runs, [2]int64{next, int64(n)})
	}
	kept := int64(0)
	for _, r := range runs {
		kept += r[1] - r[0]
	}
	out := make([]arrow.Array, len(cols))
	defer releaseAll(out)
	for i, c := range cols {
		if len(runs) == 0 {
			out[i] = array.NewSlice(c, 0, 0)
			continue
		}
		parts := make([]arrow.Array, len(runs))
		for j, r := range runs {
			parts[j] = array.NewSlice(c, r[0], r[1])
		}
		var err error
		out[i], err = array.Concatenate(parts, memory.DefaultAllocator)
		releaseAll(parts)
		if err != nil {
			return nil, fmt.Errorf("dropping bad rows: %w", err)
		}
	}
	return array.NewRecord(schema, out, kept), nil
}

func emptyColumns(schema *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
	}
	return cols
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}
