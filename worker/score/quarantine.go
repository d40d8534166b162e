package score

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// quarantine writes rows the model could not score, one JSON object per
// line, to a side object opened on the first such row.
type quarantine struct {
	ctx    context.Context
	bucket storage.Bucket
	key    string
	shard  int
	object string // the shard's URI
	ow     *storage.Writer
	bw     *bufio.Writer
	count  int64
}

// quarantinedRow is one line of the quarantine object.
type quarantinedRow struct {
	Shard  int                `json:"shard"`
	Object string             `json:"object"`
	Row    int64              `json:"row"` // 0-based within the shard
	Column string             `json:"column,omitempty"`
	Reason string             `json:"reason"`
	Values map[string]*string `json:"values"` // the row's model and passthrough columns as text; null for null
}

// add records row r of rec (row base+r of the shard).
func (q *quarantine) add(rec arrow.Record, cols []int, base int64, e model.RowError) error {
	if q.ow == nil {
		q.ow = storage.NewWriter(q.ctx, q.bucket, q.key, storage.PutOptions{ContentType: "application/x-ndjson"})
		q.bw = bufio.NewWriterSize(q.ow, 64<<10)
	}
	r := int(e.Row)
	values := make(map[string]*string, len(cols))
	for _, c := range cols {
		a := rec.Column(c)
		if a.IsNull(r) {
			values[rec.Schema().Field(c).Name] = nil
			continue
		}
		v := a.ValueStr(r)
		values[rec.Schema().Field(c).Name] = &v
	}
	line, err := json.Marshal(quarantinedRow{Shard: q.shard, Object: q.object, Row: base + e.Row,
		Column: e.Column, Reason: e.Reason, Values: values})
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	q.bw.Write(line)
	if err := q.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("quarantine %s: %w", q.bucket.URI(q.key), err)
	}
	q.count++
	return nil
}

// close commits the quarantine object, if any row went to it.
func (q *quarantine) close() error {
	if q.ow == nil {
		return nil
	}
	if err := q.bw.Flush(); err != nil {
		q.ow.Abort()
		q.ow = nil
		return fmt.Errorf("quarantine %s: %w", q.bucket.URI(q.key), err)
	}
	_, err := q.ow.Close()
	q.ow = nil
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", q.bucket.URI(q.key), err)
	}
	return nil
}

// abort discards an open quarantine object.
func (q *quarantine) abort() {
	if q.ow != nil {
		q.ow.Abort()
		q.ow = nil
	}
}
