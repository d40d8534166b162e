package shard

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
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
	ra := newObjectReaderAt(ctx, b, key, obj.Size)
	switch f {
	case FormatParquet:
		return openParquet(ctx, obj.URI, ra)
	case FormatArrow:
		return openArrow(ctx, obj.URI, b, key, ra)
	}
	return nil, fmt.Errorf("format %s is not columnar", f)
}

// boundedAllocator refuses any single allocation above max with a panic
// that recoverCorrupt turns into an InputError, so a corrupt length field
// cannot make a decoder exhaust memory.
type boundedAllocator struct {
	memory.Allocator
	max int
}

// newBoundedAllocator bounds the buffers decoded from an object of size
// bytes: well above any legitimate buffer, even a compressed one, and far
// below what a corrupt 64-bit length asks for.
func newBoundedAllocator(size int64) boundedAllocator {
	return boundedAllocator{Allocator: memory.DefaultAllocator, max: int(max(1<<30, 16*size))}
}

func (a boundedAllocator) Allocate(n int) []byte {
	a.check(n)
	return a.Allocator.Allocate(n)
}

func (a boundedAllocator) Reallocate(n int, b []byte) []byte {
	a.check(n)
	return a.Allocator.Reallocate(n, b)
}

func (a boundedAllocator) check(n int) {
	if n > a.max {
		panic(fmt.Sprintf("a buffer claims %d bytes, more than this object can hold", n))
	}
}

func recoverCorrupt(uri string, err *error) {
	if r := recover(); r != nil {
		*err = objectError(uri, "corrupt or truncated file: %v", r)
	}
}

// --- Parquet ---

// parquetSource reads a Parquet file column by column in the calling
// goroutine. (pqarrow's RecordReader builds its column readers on
// goroutines, where a corrupt file's panic would crash the process instead
// of becoming an InputError.)
type parquetSource struct {
	uri    string
	size   int64
	pf     *file.Reader
	schema *arrow.Schema
	cols   []*pqarrow.ColumnReader
	batch  int64 // rows per Next: no more than the file holds, as readers reserve that many
}

func openParquet(ctx context.Context, uri string, ra *objectReaderAt) (columnarSource, error) {
	pf, err := file.NewParquetReader(ra)
	if err != nil {
		return nil, objectError(uri, "not a readable Parquet file: %v", err)
	}
	p := &parquetSource{uri: uri, size: ra.size, pf: pf, batch: min(max(pf.NumRows(), 1), DefaultBatchRows)}
	if err := p.open(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *parquetSource) open(ctx context.Context) error {
	fr, err := pqarrow.NewFileReader(p.pf, pqarrow.ArrowReadProperties{BatchSize: DefaultBatchRows}, memory.DefaultAllocator)
	if err != nil {
		return objectError(p.uri, "Parquet schema: %v", err)
	}
	if p.schema, err = fr.Schema(); err != nil {
		return objectError(p.uri, "Parquet schema: %v", err)
	}
	rowGroups := make([]int, p.pf.NumRowGroups())
	for i := range rowGroups {
		rowGroups[i] = i
	}
	leaves := map[int]bool{}
	for i := range p.pf.MetaData().Schema.NumColumns() {
		leaves[i] = true
	}
	if err := p.checkChunks(); err != nil {
		return err
	}
	for i, f := range fr.Manifest.Fields {
		if len(f.Children) > 0 { // nested readers fan out to goroutines; the type is refused anyway
			_, err := TypeName(f.Field.Type)
			return &InputError{Object: p.uri, Column: f.Field.Name, Reason: err.Error()}
		}
		cr, err := fr.GetFieldReader(ctx, i, leaves, rowGroups)
		if err != nil {
			return objectError(p.uri, "Parquet column %q: %v", f.Field.Name, err)
		}
		p.cols = append(p.cols, cr)
	}
	return nil
}

// checkChunks requires every column chunk to lie inside the object: the
// reader allocates a chunk's stated size before reading it.
func (p *parquetSource) checkChunks() error {
	md := p.pf.MetaData()
	for rg := range p.pf.NumRowGroups() {
		rgm := md.RowGroup(rg)
		for c := range rgm.NumColumns() {
			cc, err := rgm.ColumnChunk(c)
			if err != nil {
				return objectError(p.uri, "Parquet row group %d column %d: %v", rg, c, err)
			}
			start, n := cc.DataPageOffset(), cc.TotalCompressedSize()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
				start = cc.DictionaryPageOffset()
			}
			if size := p.size; start < 0 || n < 0 || start > size || n > size-start {
				return &InputError{Object: p.uri, Column: md.Schema.Column(c).Name(),
					Reason: fmt.Sprintf("corrupt file: row group %d says the column's %d bytes start at byte %d of %d", rg, n, start, size)}
			}
		}
	}
	return nil
}

func (p *parquetSource) Schema() *arrow.Schema { return p.schema }

func (p *parquetSource) Next() (rec arrow.Record, err error) {
	defer recoverCorrupt(p.uri, &err)
	if len(p.cols) == 0 {
		return nil, io.EOF
	}
	cols := make([]arrow.Array, len(p.cols))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, cr := range p.cols {
		chunked, err := cr.NextBatch(p.batch)
		if err != nil {
			return nil, objectError(p.uri, "reading Parquet column %q: %v", p.schema.Field(i).Name, err)
		}
		cols[i], err = array.Concatenate(chunked.Chunks(), memory.DefaultAllocator)
		chunked.Release()
		if err != nil {
			return nil, objectError(p.uri, "reading Parquet column %q: %v", p.schema.Field(i).Name, err)
		}
		if cols[i].Len() != cols[0].Len() {
			return nil, &InputError{Object: p.uri, Column: p.schema.Field(i).Name,
				Reason: fmt.Sprintf("corrupt file: column holds %d values where %q holds %d", cols[i].Len(), p.schema.Field(0).Name, cols[0].Len())}
		}
	}
	if cols[0].Len() == 0 {
		return nil, io.EOF
	}
	return array.NewRecord(p.schema, cols, int64(cols[0].Len())), nil
}

func (p *parquetSource) Close() {
	for _, c := range p.cols {
		c.Release()
	}
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
	mem := ipc.WithAllocator(newBoundedAllocator(ra.size))
	if bytes.Equal(magic, []byte("ARROW1")) {
		if err := checkArrowFileSchema(ra); err != nil {
			return nil, objectError(uri, "not a readable Arrow IPC file: %v", err)
		}
		fr, err := ipc.NewFileReader(ra, mem)
		if err != nil {
			return nil, objectError(uri, "not a readable Arrow IPC file: %v", err)
		}
		return &arrowFileSource{uri: uri, fr: fr}, nil
	}
	if err := checkArrowStreamSchema(ra); err != nil {
		return nil, objectError(uri, "neither an Arrow IPC file nor stream: %v", err)
	}
	body, _, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(body, mem)
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
