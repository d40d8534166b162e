package shard

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"

	"github.com/nightshift-ml/nightshift/storage"
)

// Dataset is a published dataset version opened through its manifest.
// It is safe for concurrent use; each scan has its own reader.
type Dataset struct {
	URI      string // the dataset folder
	Manifest *Manifest
	Schema   *arrow.Schema
	bucket   storage.Bucket
	dir      string
	starts   []int64 // global index of each shard's first row, plus the total
}

// OpenDataset reads and validates the manifest of the dataset at uri (the
// folder, or its manifest.json).
func OpenDataset(ctx context.Context, st storage.Config, uri string) (*Dataset, error) {
	uri = strings.TrimSuffix(strings.TrimSuffix(uri, "/"+ManifestName), "/")
	b, dir, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(ctx, b, storage.JoinKey(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	schema, err := SchemaOf(m.Schema)
	if err != nil {
		return nil, err
	}
	d := &Dataset{URI: uri, Manifest: m, Schema: schema, bucket: b, dir: dir}
	d.starts = make([]int64, len(m.Shards)+1)
	for i, s := range m.Shards {
		d.starts[i+1] = d.starts[i] + s.Rows
	}
	return d, nil
}

// NumShards returns the number of shards.
func (d *Dataset) NumShards() int { return len(d.Manifest.Shards) }

// ShardURI returns the URI of shard i.
func (d *Dataset) ShardURI(i int) string { return d.bucket.URI(d.shardKey(i)) }

func (d *Dataset) shardKey(i int) string { return storage.JoinKey(d.dir, d.Manifest.Shards[i].Key) }

// Scan opens shard i for a front-to-back read of its record batches. Memory
// stays at about one batch whatever the shard's size. The checksum, size and
// row count are verified as the last batch is passed: a shard that fails
// them ends the scan with ErrCorruptShard, so a consumer must treat what
// it read as void unless Err is nil after Next returns false.
func (d *Dataset) Scan(ctx context.Context, i int) *Scanner {
	s := &Scanner{d: d, idx: i, info: d.Manifest.Shards[i]}
	rc, _, err := d.bucket.Get(ctx, d.shardKey(i))
	if err != nil {
		s.err = err
		return s
	}
	s.body = rc
	s.src = &checksumReader{r: bufio.NewReaderSize(rc, 256<<10), crc: crc32.New(castagnoli)}
	s.open()
	return s
}

// Scanner iterates one shard's record batches.
type Scanner struct {
	d    *Dataset
	idx  int
	info ShardInfo
	body io.ReadCloser
	src  *checksumReader
	br   *batchReader
	rec  arrow.Record
	rows int64
	err  error
	done bool
}

func (s *Scanner) open() {
	defer s.recoverCorrupt()
	magic := make([]byte, arrowFilePrefix)
	if _, err := io.ReadFull(s.src, magic); err != nil || !bytes.Equal(magic[:6], []byte("ARROW1")) {
		s.fail("not an Arrow IPC file (bad magic)")
		return
	}
	br, err := newBatchReader(s.src, s.d.Schema, s.info.Bytes)
	if err != nil {
		s.fail("%v", err)
		return
	}
	s.br = br
}

// Next advances to the next batch.
func (s *Scanner) Next() bool {
	s.releaseRecord()
	if s.err != nil || s.done {
		return false
	}
	defer s.recoverCorrupt()
	rec, err := s.br.next()
	if err == nil {
		s.rec = rec
		s.rows += rec.NumRows()
		return true
	}
	s.done = true
	if err != io.EOF {
		s.fail("%v", err)
		return false
	}
	s.verify()
	return false
}

func (s *Scanner) releaseRecord() {
	if s.rec != nil {
		s.rec.Release()
		s.rec = nil
	}
}

// verify checks the totals; the batch reader has read the footer through
// the checksum by the time it reports the end of the stream.
func (s *Scanner) verify() {
	sum := fmt.Sprintf("crc32c:%08x", s.src.crc.Sum32())
	switch {
	case s.src.n != s.info.Bytes:
		s.fail("%d bytes, the manifest says %d", s.src.n, s.info.Bytes)
	case sum != s.info.Checksum:
		s.fail("checksum %s, the manifest says %s", sum, s.info.Checksum)
	case s.rows != s.info.Rows:
		s.fail("%d rows, the manifest says %d", s.rows, s.info.Rows)
	}
}

// Record returns the current batch, valid until the next call to Next or
// Close; Retain it to keep it longer.
func (s *Scanner) Record() arrow.Record { return s.rec }

// Err returns the error that ended the scan, if any.
func (s *Scanner) Err() error { return s.err }

// Close releases the scanner.
func (s *Scanner) Close() {
	s.releaseRecord()
	if s.body != nil {
		s.body.Close() // unblocks a read-ahead blocked on the network
	}
	if s.br != nil {
		s.br.stop()
	}
}

func (s *Scanner) fail(format string, args ...any) {
	s.err = fmt.Errorf("%w: %s: %s", ErrCorruptShard, s.d.ShardURI(s.idx), fmt.Sprintf(format, args...))
}

func (s *Scanner) recoverCorrupt() {
	if r := recover(); r != nil {
		s.fail("unreadable: %v", r)
	}
}

// checksumReader counts and checksums what passes through it.
type checksumReader struct {
	r   io.Reader
	crc hash.Hash32
	n   int64
}

func (c *checksumReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// ReadRows calls fn with the rows [start, start+n) of the dataset, in
// order, as record slices. It reads only the batches that hold them, by
// ranged GETs through each shard's footer.
func (d *Dataset) ReadRows(ctx context.Context, start, n int64, fn func(arrow.Record) error) error {
	total := d.starts[len(d.starts)-1]
	if start < 0 || n < 0 || start+n > total {
		return fmt.Errorf("rows [%d, %d) are outside the dataset's %d rows", start, start+n, total)
	}
	end := start + n
	for i := sort.Search(len(d.Manifest.Shards), func(i int) bool { return d.starts[i+1] > start }); i < len(d.Manifest.Shards) && d.starts[i] < end; i++ {
		lo, hi := max(start, d.starts[i])-d.starts[i], min(end, d.starts[i+1])-d.starts[i]
		if err := d.readShardRows(ctx, i, lo, hi, fn); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dataset) readShardRows(ctx context.Context, i int, lo, hi int64, fn func(arrow.Record) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: unreadable: %v", ErrCorruptShard, d.ShardURI(i), r)
		}
	}()
	ra := newObjectReaderAt(ctx, d.bucket, d.shardKey(i), d.Manifest.Shards[i].Bytes)
	fr, err := ipc.NewFileReader(ra)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptShard, d.ShardURI(i), err)
	}
	defer fr.Close()
	per := int64(d.Manifest.BatchRows)
	for b := lo / per; b*per < hi; b++ {
		if int(b) >= fr.NumRecords() {
			return fmt.Errorf("%w: %s: has %d batches, row %d needs batch %d", ErrCorruptShard, d.ShardURI(i), fr.NumRecords(), hi-1, b)
		}
		rec, err := fr.RecordAt(int(b))
		if err != nil {
			return fmt.Errorf("%w: %s: batch %d: %v", ErrCorruptShard, d.ShardURI(i), b, err)
		}
		from, to := max(lo, b*per)-b*per, min(hi, b*per+rec.NumRows())-b*per
		slice := rec.NewSlice(from, to)
		rec.Release()
		err = fn(slice)
		slice.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// Verify streams every shard and checks its size and checksum without
// decoding it.
func (d *Dataset) Verify(ctx context.Context) error {
	for i, s := range d.Manifest.Shards {
		rc, _, err := d.bucket.Get(ctx, d.shardKey(i))
		if err != nil {
			return err
		}
		cr := &checksumReader{r: rc, crc: crc32.New(castagnoli)}
		_, err = io.Copy(io.Discard, cr)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", d.ShardURI(i), err)
		}
		if sum := fmt.Sprintf("crc32c:%08x", cr.crc.Sum32()); cr.n != s.Bytes || sum != s.Checksum {
			return fmt.Errorf("%w: %s: %d bytes with %s, the manifest says %d bytes with %s",
				ErrCorruptShard, d.ShardURI(i), cr.n, sum, s.Bytes, s.Checksum)
		}
	}
	return nil
}
