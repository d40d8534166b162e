package shard

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// UnitResult is what one unit produced: its shards in order, its row
// counts and its quarantine object. The coordinator records it and hands
// all of them to Commit.
type UnitResult struct {
	Unit          int         `json:"unit"`
	Shards        []ShardInfo `json:"shards"`
	Rows          int64       `json:"rows"`
	BadRows       int64       `json:"bad_rows"`
	QuarantineKey string      `json:"quarantine_key,omitempty"` // relative to the output
	SourceBytes   int64       `json:"source_bytes"`
}

// unitEnv is what a decoder needs to read its unit.
type unitEnv struct {
	ctx    context.Context
	st     storage.Config
	plan   *Plan
	unit   Unit
	obj    SourceObject
	schema *arrow.Schema
	bad    *badRowSink
}

func (u *unitEnv) opts() Options { return u.plan.Options }

// decoder yields a unit's rows as batches of the dataset schema.
type decoder interface {
	next() (arrow.Record, error) // io.EOF when done
	close()
}

// RunUnit ingests one unit of a plan: it decodes the unit's bytes, writes
// its shards below the output folder and returns what it wrote. It is
// idempotent: a retry rewrites the same keys with the same bytes. On error
// it deletes what it wrote; nothing is published until Commit.
func RunUnit(ctx context.Context, st storage.Config, p *Plan, index int) (*UnitResult, error) {
	if index < 0 || index >= len(p.Units) {
		return nil, fmt.Errorf("unit %d out of range (plan has %d)", index, len(p.Units))
	}
	unit := p.Units[index]
	schema, err := p.ArrowSchema()
	if err != nil {
		return nil, err
	}
	out, dir, err := storage.Open(ctx, p.Output, st)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	qkey := fmt.Sprintf("%s/unit-%05d.jsonl", p.quarantineDir(), unit.Index)
	u := &unitEnv{ctx: ctx, st: st, plan: p, unit: unit, obj: p.Objects[unit.Object], schema: schema,
		bad: &badRowSink{ctx: ctx, policy: p.Options.BadRows, bucket: out, key: storage.JoinKey(dir, qkey)}}
	dec, err := openDecoder(u)
	if err != nil {
		return nil, err
	}
	defer dec.close()
	w := newShardWriter(ctx, out, dir, fmt.Sprintf("%s/part-%05d", p.shardDir(), unit.Index), schema, p.Options)
	res := &UnitResult{Unit: unit.Index, SourceBytes: unitBytes(unit, u.obj)}
	if err := pump(dec, w, res); err != nil {
		w.abort()
		u.bad.abort()
		return nil, err
	}
	if res.Shards, err = w.finish(); err != nil {
		w.abort()
		u.bad.abort()
		return nil, err
	}
	if k, err := u.bad.close(); err != nil {
		w.abort()
		return nil, err
	} else if k != "" {
		res.QuarantineKey = qkey
	}
	res.BadRows = u.bad.count
	return res, nil
}

func pump(dec decoder, w *shardWriter, res *UnitResult) error {
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		rec, err := dec.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		res.Rows += rec.NumRows()
		if err := w.write(rec); err != nil {
			return err
		}
	}
}

func openDecoder(u *unitEnv) (decoder, error) {
	switch u.plan.Format {
	case FormatCSV:
		return newCSVDecoder(u)
	case FormatJSONL:
		return newJSONLDecoder(u)
	case FormatParquet, FormatArrow:
		return newColumnarDecoder(u)
	}
	return nil, fmt.Errorf("unknown format %q", u.plan.Format)
}

func unitBytes(u Unit, o SourceObject) int64 {
	if u.Length < 0 {
		return o.Size - u.Offset
	}
	return u.Length
}
