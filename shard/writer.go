package shard

import (
	"bufio"
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/util"

	"github.com/nightshift-ml/nightshift/storage"
)

// eosMarker ends the stream section of an Arrow IPC file. The Arrow spec puts
// it before the footer; arrow/go v15's FileWriter omits it, so shardWriter
// writes it. With it a shard can be read front to back as a stream, which
// is how readers pull shards from S3 at full GET speed.
var eosMarker = []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}

// arrowFilePrefix is the IPC file magic plus padding before the stream.
const arrowFilePrefix = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minSpaceSavings is the least a codec must save on a buffer for the buffer
// to be stored compressed. Buffers that barely compress (random floats) are
// stored raw, and readers slice them without decoding: most of the size win
// of compression at a fraction of its read cost.
const minSpaceSavings = 0.25

// shardWriter cuts a unit's batches into shards: every batch but a shard's
// last holds exactly BatchRows rows, and a shard closes at RowsPerShard rows
// or ShardBytes bytes. Shards stream straight to storage.
type shardWriter struct {
	ctx    context.Context
	bucket storage.Bucket
	dir    string // output key of the dataset folder
	prefix string // shard key prefix relative to dir, e.g. shards/<fp>/part-00003
	schema *arrow.Schema
	opts   Options
	queue  rechunker
	cur    *openShard
	done   []ShardInfo
}

// openShard is one shard being written.
type openShard struct {
	rel     string
	ow      *storage.Writer
	counter *countingWriter
	fw      *ipc.FileWriter
	rows    int64
	bytes   int64
	batches int
}

func newShardWriter(ctx context.Context, b storage.Bucket, dir, prefix string, schema *arrow.Schema, opts Options) *shardWriter {
	return &shardWriter{ctx: ctx, bucket: b, dir: dir, prefix: prefix, schema: schema, opts: opts,
		queue: rechunker{schema: schema}}
}

// write queues rec and writes out every full batch it completes.
func (w *shardWriter) write(rec arrow.Record) error {
	w.queue.push(rec)
	for {
		want := w.nextBatchRows()
		if w.queue.rows < want {
			return nil
		}
		if err := w.writeBatch(w.queue.take(want)); err != nil {
			return err
		}
	}
}

// nextBatchRows is the length of the next batch: a full batch, or what is
// left before the shard's row cap.
func (w *shardWriter) nextBatchRows() int64 {
	n := int64(w.opts.BatchRows)
	if w.cur != nil && w.opts.RowsPerShard > 0 {
		n = min(n, w.opts.RowsPerShard-w.cur.rows)
	}
	return n
}

func (w *shardWriter) writeBatch(rec arrow.Record) error {
	defer rec.Release()
	if w.cur == nil {
		if err := w.openNext(); err != nil {
			return err
		}
	}
	s := w.cur
	if err := s.fw.Write(rec); err != nil {
		return fmt.Errorf("writing shard %s: %w", w.bucket.URI(storage.JoinKey(w.dir, s.rel)), err)
	}
	s.rows += rec.NumRows()
	s.bytes += util.TotalRecordSize(rec)
	s.batches++
	full := s.bytes >= w.opts.ShardBytes || (w.opts.RowsPerShard > 0 && s.rows >= w.opts.RowsPerShard)
	if full || rec.NumRows() < int64(w.opts.BatchRows) {
		return w.closeCurrent() // a short batch must be its shard's last
	}
	return nil
}

func (w *shardWriter) openNext() error {
	rel := fmt.Sprintf("%s-%04d.arrow", w.prefix, len(w.done))
	ow := storage.NewWriter(w.ctx, w.bucket, storage.JoinKey(w.dir, rel), storage.PutOptions{ContentType: "application/vnd.apache.arrow.file"})
	cw := &countingWriter{w: bufio.NewWriterSize(ow, 1<<20), crc: crc32.New(castagnoli)}
	opts := []ipc.Option{ipc.WithSchema(w.schema)}
	switch w.opts.Compression {
	case CompressionLZ4:
		opts = append(opts, ipc.WithLZ4(), ipc.WithMinSpaceSavings(minSpaceSavings))
	case CompressionZstd:
		opts = append(opts, ipc.WithZstd(), ipc.WithMinSpaceSavings(minSpaceSavings))
	}
	fw, err := ipc.NewFileWriter(cw, opts...)
	if err != nil {
		ow.Abort()
		return fmt.Errorf("opening shard writer: %w", err)
	}
	w.cur = &openShard{rel: rel, ow: ow, counter: cw, fw: fw}
	return nil
}

func (w *shardWriter) closeCurrent() error {
	s := w.cur
	w.cur = nil
	uri := w.bucket.URI(storage.JoinKey(w.dir, s.rel))
	if _, err := s.counter.Write(eosMarker); err != nil {
		s.ow.Abort()
		return fmt.Errorf("writing shard %s: %w", uri, err)
	}
	if err := s.fw.Close(); err != nil {
		s.ow.Abort()
		return fmt.Errorf("closing shard %s: %w", uri, err)
	}
	if err := s.counter.w.(*bufio.Writer).Flush(); err != nil {
		s.ow.Abort()
		return fmt.Errorf("writing shard %s: %w", uri, err)
	}
	info, err := s.ow.Close()
	if err != nil {
		return err
	}
	if info.Size != s.counter.n {
		return fmt.Errorf("shard %s: stored %d bytes, wrote %d", uri, info.Size, s.counter.n)
	}
	w.done = append(w.done, ShardInfo{Key: s.rel, Rows: s.rows, Bytes: s.counter.n,
		Checksum: fmt.Sprintf("crc32c:%08x", s.counter.crc.Sum32()), Batches: s.batches})
	return nil
}

// finish writes what is queued and closes the last shard.
func (w *shardWriter) finish() ([]ShardInfo, error) {
	for w.queue.rows > 0 {
		if err := w.writeBatch(w.queue.take(min(w.queue.rows, w.nextBatchRows()))); err != nil {
			return nil, err
		}
	}
	if w.cur != nil {
		if err := w.closeCurrent(); err != nil {
			return nil, err
		}
	}
	return w.done, nil
}

// abort discards the open shard and deletes the finished ones.
func (w *shardWriter) abort() {
	w.queue.release()
	if w.cur != nil {
		w.cur.ow.Abort()
		w.cur = nil
	}
	ctx := context.WithoutCancel(w.ctx)
	for _, s := range w.done {
		_ = w.bucket.Delete(ctx, storage.JoinKey(w.dir, s.Key)) // best effort: unpublished garbage
	}
}

// countingWriter counts and checksums bytes; its Seek reports the position,
// the only seeking arrow's FileWriter does.
type countingWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekCurrent {
		return 0, fmt.Errorf("shard writer cannot seek")
	}
	return c.n, nil
}

// rechunker re-slices incoming records into batches of exact lengths.
type rechunker struct {
	schema *arrow.Schema
	parts  []arrow.Record
	rows   int64
}

func (r *rechunker) push(rec arrow.Record) {
	r.parts = append(r.parts, rec)
	r.rows += rec.NumRows()
}

// take removes and returns the first n queued rows (n ≤ rows) as one record.
func (r *rechunker) take(n int64) arrow.Record {
	var pieces []arrow.Record
	need := n
	for need > 0 {
		head := r.parts[0]
		if head.NumRows() <= need {
			pieces = append(pieces, head)
			need -= head.NumRows()
			r.parts = r.parts[1:]
			continue
		}
		pieces = append(pieces, head.NewSlice(0, need))
		r.parts[0] = head.NewSlice(need, head.NumRows())
		head.Release()
		need = 0
	}
	r.rows -= n
	out := concatRecords(r.schema, pieces)
	for _, p := range pieces {
		p.Release()
	}
	return out
}

func (r *rechunker) release() {
	for _, p := range r.parts {
		p.Release()
	}
	r.parts, r.rows = nil, 0
}
