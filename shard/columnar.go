package shard

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// columnarSource reads batches from a Parquet or Arrow IPC object. Next
// returns a record the caller releases, or io.EOF.
type columnarSource interface {
	Schema() *arrow.Schema
	Next() (arrow.Record, error)
	Close()
}

// openColumnar opens a Parquet or Arrow object. Corrupt or truncated files
// make the decoders panic in places; the panic becomes an InputError naming
// the object, never a crash.
func openColumnar(ctx context.Context, st storage.Config, f Format, obj SourceObject) (src columnarSource, err error) {
	defer recoverCorrupt(obj.URI, &err)
	b, key, err := storage.Open(ctx, obj.URI, st)
	if err != nil {
		return nil, err
	}
	ra := &objectReaderAt{ctx: ctx, b: b, key: key, size: obj.Size}
	switch f {
	case FormatParquet:
		return openParquet(ctx, obj.URI, ra)
	case FormatArrow:
		return openArrow(ctx, obj.URI, b, key, ra)
	}
	return nil, fmt.Errorf("format %s is not columnar", f)
}

func recoverCorrupt(uri string, err *error) {
	if r := recover(); r != nil {
		*err = objectError(uri, "corrupt or truncated file: %v", r)
	}
}

// --- Parquet ---

type parquetSource struct {
	uri string
	pf  *file.Reader
	rr  pqarrow.RecordReader
	cur arrow.Record
}

func openParquet(ctx context.Context, uri string, ra *objectReaderAt) (columnarSource, error) {
	pf, err := file.NewParquetReader(ra)
	if err != nil {
		return nil, objectError(uri, "not a readable Parquet file: %v", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: DefaultBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, objectError(uri, "Parquet schema: %v", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		pf.Close()
		return nil, objectError(uri, "Parquet: %v", err)
	}
	return &parquetSource{uri: uri, pf: pf, rr: rr}, nil
}

func (p *parquetSource) Schema() *arrow.Schema { return p.rr.Schema() }

func (p *parquetSource) Next() (rec arrow.Record, err error) {
	defer recoverCorrupt(p.uri, &err)
	r, err := p.rr.Read()
	if r == nil && (err == nil || err == io.EOF) {
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, objectError(p.uri, "reading Parquet: %v", err)
	}
	r.Retain()
	return r, nil
}

func (p *parquetSource) Close() {
	p.rr.Release()
	p.pf.Close()
}

// --- Arrow IPC (file or stream) ---

type arrowFileSource struct {
	uri  string
	fr   *ipc.FileReader
	next int
}

type arrowStreamSource struct {
	uri  string
	body io.ReadCloser
	r    *ipc.Reader
}

func openArrow(ctx context.Context, uri string, b storage.Bucket, key string, ra *objectReaderAt) (columnarSource, error) {
	magic := make([]byte, 6)
	if _, err := ra.ReadAt(magic, 0); err != nil && err != io.EOF {
		return nil, objectError(uri, "reading Arrow magic: %v", err)
	}
	if bytes.Equal(magic, []byte("ARROW1")) {
		fr, err := ipc.NewFileReader(ra)
		if err != nil {
			return nil, objectError(uri, "not a readable Arrow IPC file: %v", err)
		}
		return &arrowFileSource{uri: uri, fr: fr}, nil
	}
	body, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(body)
	if err != nil {
		body.Close()
		return nil, objectError(uri, "neither an Arrow IPC file nor stream: %v", err)
	}
	return &arrowStreamSource{uri: uri, body: body, r: r}, nil
}

func (a *arrowFileSource) Schema() *arrow.Schema { return a.fr.Schema() }

func (a *arrowFileSource) Next() (rec arrow.Record, err error) {
	defer recoverCorrupt(a.uri, &err)
	if a.next >= a.fr.NumRecords() {
		return nil, io.EOF
	}
	rec, err = a.fr.RecordAt(a.next)
	if err != nil {
		return nil, &InputError{Object: a.uri, Reason: fmt.Sprintf("record batch %d: %v", a.next, err)}
	}
	a.next++
	return rec, nil
}

func (a *arrowFileSource) Close() { a.fr.Close() }

func (a *arrowStreamSource) Schema() *arrow.Schema { return a.r.Schema() }

func (a *arrowStreamSource) Next() (rec arrow.Record, err error) {
	defer recoverCorrupt(a.uri, &err)
	if !a.r.Next() {
		if err := a.r.Err(); err != nil && err != io.EOF {
			return nil, objectError(a.uri, "reading Arrow stream: %v", err)
		}
		return nil, io.EOF
	}
	rec = a.r.Record()
	rec.Retain()
	return rec, nil
}

func (a *arrowStreamSource) Close() {
	a.r.Release()
	a.body.Close()
}
