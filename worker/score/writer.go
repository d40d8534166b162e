package score

import (
	"bufio"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minSpaceSavings is the least a codec must save on an Arrow buffer for it
// to be stored compressed (as in shards): probabilities barely compress,
// and raw buffers cost readers nothing to decode.
const minSpaceSavings = 0.25

// recordWriter encodes output records in one file format.
type recordWriter interface {
	Write(arrow.Record) error
	Close() error // writes the footer
}

// newRecordWriter starts a file of opts.Format with schema on w.
func newRecordWriter(w io.Writer, schema *arrow.Schema, opts Options) (recordWriter, error) {
	if opts.Format == FormatArrow {
		ipcOpts := []ipc.Option{ipc.WithSchema(schema)}
		switch opts.Compression {
		case "lz4":
			ipcOpts = append(ipcOpts, ipc.WithLZ4(), ipc.WithMinSpaceSavings(minSpaceSavings))
		case "zstd":
			ipcOpts = append(ipcOpts, ipc.WithZstd(), ipc.WithMinSpaceSavings(minSpaceSavings))
		}
		seeker, ok := w.(io.WriteSeeker)
		if !ok {
			return nil, fmt.Errorf("arrow output needs a position-reporting writer")
		}
		fw, err := ipc.NewFileWriter(seeker, ipcOpts...)
		if err != nil {
			return nil, err
		}
		return fw, nil
	}
	codec := map[string]compress.Compression{"snappy": compress.Codecs.Snappy, "zstd": compress.Codecs.Zstd, "none": compress.Codecs.Uncompressed}[opts.Compression]
	props := []parquet.WriterProperty{parquet.WithCompression(codec)}
	for _, f := range schema.Fields() {
		switch f.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.BOOL:
		default:
			// Numbers and timestamps (ids, probabilities) are mostly
			// distinct: a dictionary costs a hash per value, about as much
			// as scoring the row, and saves nothing. Text keeps it.
			props = append(props, parquet.WithDictionaryFor(f.Name, false))
		}
	}
	pw, err := pqarrow.NewFileWriter(schema, w, parquet.NewWriterProperties(props...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	return pw, nil
}

// countingWriter counts and checksums the bytes of the output object as
// written. Its Seek reports the position, the only seeking arrow's
// FileWriter does.
type countingWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
}

func newCountingWriter(w io.Writer) *countingWriter {
	return &countingWriter{w: bufio.NewWriterSize(w, 1<<20), crc: crc32.New(castagnoli)}
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekCurrent {
		return 0, fmt.Errorf("output is a stream: cannot seek")
	}
	return c.n, nil
}

// Flush sends buffered bytes on.
func (c *countingWriter) Flush() error { return c.w.Flush() }
