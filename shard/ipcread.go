package shard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
)

// batchReader decodes the record batches of a shard's IPC stream section.
//
// It exists for speed: arrow/go's ipc.Reader copies every buffer out of the
// message body, creates a decompressor per batch and allocates fresh,
// zeroed memory each time. batchReader slices uncompressed buffers straight
// out of a pooled body, decompresses LZ4 and zstd buffers in one pass into
// pooled memory, and validates sizes and offsets so a corrupt shard can
// never make a consumer read out of bounds (the checksum check at the end of
// the scan then fails it). The schema message is still decoded by arrow.
type batchReader struct {
	r       io.Reader
	schema  *arrow.Schema
	maxBody int64 // no body may exceed the shard's size
	head    [8]byte
	meta    []byte

	msgs chan rawMessage // filled by produce
	quit chan struct{}
	done chan struct{}
	err  error // the error that ended the stream, once next has seen it
}

// IPC message header types and compression codecs (Arrow's Message.fbs).
const (
	headerSchema      = 1
	headerRecordBatch = 3
	codecLZ4Frame     = 0
	codecZstd         = 1
	maxMetaBytes      = 64 << 20
	maxBufferBytes    = 2 << 30
)

func newBatchReader(r io.Reader, want *arrow.Schema, maxBody int64) (*batchReader, error) {
	b := &batchReader{r: r, maxBody: maxBody}
	meta, err := b.readMeta()
	if err != nil {
		return nil, err
	}
	if meta == nil {
		return nil, fmt.Errorf("stream ends before its schema")
	}
	msg := rootTable(meta)
	if t := msg.GetByte(fieldPos(msg, 1)); fieldPos(msg, 1) == 0 || t != headerSchema {
		return nil, fmt.Errorf("first message is not a schema")
	}
	// Let arrow decode the schema: re-frame the message as a one-message stream.
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint32(0xFFFFFFFF))
	binary.Write(&buf, binary.LittleEndian, int32(len(meta)))
	buf.Write(meta)
	buf.Write(eosMarker)
	sr, err := ipc.NewReader(&buf)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	b.schema = sr.Schema()
	sr.Release()
	if diff := sameColumns(want, b.schema); diff != "" {
		return nil, fmt.Errorf("schema differs from the manifest: %s", diff)
	}
	b.start()
	return b, nil
}

// readMeta reads one message's framing and metadata; nil at end of stream.
func (b *batchReader) readMeta() ([]byte, error) {
	if _, err := io.ReadFull(b.r, b.head[:4]); err != nil {
		return nil, fmt.Errorf("reading message header: %w", err)
	}
	n := binary.LittleEndian.Uint32(b.head[:4])
	if n == 0xFFFFFFFF { // continuation marker, then the length
		if _, err := io.ReadFull(b.r, b.head[4:8]); err != nil {
			return nil, fmt.Errorf("reading message length: %w", err)
		}
		n = binary.LittleEndian.Uint32(b.head[4:8])
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxMetaBytes {
		return nil, fmt.Errorf("message metadata of %d bytes", n)
	}
	if cap(b.meta) < int(n) {
		b.meta = make([]byte, n)
	}
	b.meta = b.meta[:n]
	if _, err := io.ReadFull(b.r, b.meta); err != nil {
		return nil, fmt.Errorf("reading message metadata: %w", err)
	}
	return b.meta, nil
}

// rawMessage is one record batch message read ahead: its metadata and its
// body, or the error (io.EOF after the end-of-stream marker) that ends the
// stream.
type rawMessage struct {
	meta []byte
	body *memory.Buffer
	err  error
}

// prefetchDepth is how many messages the reader may hold ahead of decoding.
const prefetchDepth = 2

// start reads messages ahead on a goroutine of its own, so receiving batch
// k+1 from the network overlaps with decoding batch k, and bodies land in
// their pooled buffers with no intermediate copy.
func (b *batchReader) start() {
	b.msgs = make(chan rawMessage, prefetchDepth)
	b.quit = make(chan struct{})
	b.done = make(chan struct{})
	go b.produce()
}

func (b *batchReader) produce() {
	defer close(b.done)
	for {
		m := b.readMessage()
		select {
		case b.msgs <- m:
		case <-b.quit:
			if m.body != nil {
				m.body.Release()
			}
			return
		}
		if m.err != nil {
			return
		}
	}
}

// readMessage reads one record batch message. At the end-of-stream marker
// it reads the rest of the file (the footer) so the checksum covers it all.
func (b *batchReader) readMessage() (m rawMessage) {
	defer func() {
		if r := recover(); r != nil { // flatbuffer reads of corrupt metadata
			if m.body != nil {
				m.body.Release()
			}
			m = rawMessage{err: fmt.Errorf("corrupt message metadata: %v", r)}
		}
	}()
	meta, err := b.readMeta()
	if err != nil {
		return rawMessage{err: err}
	}
	if meta == nil {
		if _, err := io.Copy(io.Discard, b.r); err != nil {
			return rawMessage{err: fmt.Errorf("reading the footer: %w", err)}
		}
		return rawMessage{err: io.EOF}
	}
	meta = append([]byte(nil), meta...) // readMeta reuses its buffer
	msg := rootTable(meta)
	if o := fieldPos(msg, 1); o == 0 || msg.GetByte(o) != headerRecordBatch {
		return rawMessage{err: fmt.Errorf("message is not a record batch")}
	}
	if fieldRel(msg, 2) == 0 {
		return rawMessage{err: fmt.Errorf("record batch message without a header")}
	}
	var bodyLen int64
	if o := fieldPos(msg, 3); o != 0 {
		bodyLen = msg.GetInt64(o)
	}
	if bodyLen < 0 || bodyLen > b.maxBody {
		return rawMessage{err: fmt.Errorf("record batch body of %d bytes in a %d-byte shard", bodyLen, b.maxBody)}
	}
	body := memory.NewResizableBuffer(scanPool)
	body.Resize(int(bodyLen))
	if _, err := io.ReadFull(b.r, body.Bytes()); err != nil {
		body.Release()
		return rawMessage{err: fmt.Errorf("reading record batch body: %w", err)}
	}
	return rawMessage{meta: meta, body: body}
}

// next decodes the next record batch; io.EOF after the end-of-stream marker
// (by then the whole file has been read). The caller releases the record.
func (b *batchReader) next() (arrow.Record, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := <-b.msgs
	if m.err != nil {
		b.err = m.err
		return nil, m.err
	}
	defer m.body.Release()
	msg := rootTable(m.meta)
	var rb flatbuffers.Table
	msg.Union(&rb, fieldRel(msg, 2))
	return b.decode(&rb, m.body)
}

// stop ends the read-ahead and frees what it holds. The caller first closes
// the source, so a read blocked on the network returns.
func (b *batchReader) stop() {
	if b.quit == nil {
		return
	}
	close(b.quit)
	<-b.done
	for {
		select {
		case m := <-b.msgs:
			if m.body != nil {
				m.body.Release()
			}
		default:
			return
		}
	}
}

// decode builds the record a RecordBatch header describes over body.
func (b *batchReader) decode(rb *flatbuffers.Table, body *memory.Buffer) (arrow.Record, error) {
	var rows int64
	if o := fieldPos(rb, 0); o != 0 {
		rows = rb.GetInt64(o)
	}
	nodes, nNodes := vectorOf(rb, 1)
	bufs, nBufs := vectorOf(rb, 2)
	codec := -1
	if o := fieldRel(rb, 3); o != 0 {
		comp := flatbuffers.Table{Bytes: rb.Bytes, Pos: rb.Indirect(o + rb.Pos)}
		codec = codecLZ4Frame
		if p := fieldPos(&comp, 0); p != 0 {
			codec = int(comp.GetInt8(p))
		}
	}
	if nNodes != b.schema.NumFields() {
		return nil, fmt.Errorf("record batch has %d field nodes for %d columns", nNodes, b.schema.NumFields())
	}
	cols := make([]arrow.Array, 0, nNodes)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	next := 0
	for i, f := range b.schema.Fields() {
		length := rb.GetInt64(nodes + flatbuffers.UOffsetT(16*i))
		nulls := rb.GetInt64(nodes + flatbuffers.UOffsetT(16*i+8))
		if length != rows || nulls < 0 || nulls > length {
			return nil, fmt.Errorf("column %q: %d rows with %d nulls in a batch of %d", f.Name, length, nulls, rows)
		}
		nb := 2
		if isVarBinary(f.Type) {
			nb = 3
		}
		if next+nb > nBufs {
			return nil, fmt.Errorf("column %q: batch has only %d buffers", f.Name, nBufs)
		}
		buffers := make([]*memory.Buffer, nb)
		release := func() {
			for _, x := range buffers {
				if x != nil {
					x.Release()
				}
			}
		}
		for k := range nb {
			pos := bufs + flatbuffers.UOffsetT(16*(next+k))
			buf, err := loadBuffer(body, rb.GetInt64(pos), rb.GetInt64(pos+8), codec)
			if err != nil {
				release()
				return nil, fmt.Errorf("column %q buffer %d: %w", f.Name, k, err)
			}
			buffers[k] = buf
		}
		next += nb
		if err := checkLayout(f.Type, int(length), int(nulls), buffers); err != nil {
			release()
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		data := array.NewData(f.Type, int(length), buffers, nil, int(nulls), 0)
		release()
		cols = append(cols, array.MakeFromData(data))
		data.Release()
	}
	return array.NewRecord(b.schema, cols, rows), nil
}

func isVarBinary(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return true
	}
	return false
}

// loadBuffer returns buffer [off, off+n) of body, decompressed if codec >= 0.
// A zero-length buffer is nil (an absent validity bitmap).
func loadBuffer(body *memory.Buffer, off, n int64, codec int) (*memory.Buffer, error) {
	if n == 0 {
		return nil, nil
	}
	if off < 0 || n < 0 || off+n > int64(body.Len()) {
		return nil, fmt.Errorf("bytes [%d,%d) outside a %d-byte body", off, off+n, body.Len())
	}
	if codec < 0 {
		return memory.SliceBuffer(body, int(off), int(n)), nil
	}
	if n < 8 {
		return nil, fmt.Errorf("compressed buffer of %d bytes has no length prefix", n)
	}
	raw := body.Bytes()[off : off+n]
	size := int64(binary.LittleEndian.Uint64(raw))
	if size == -1 { // stored uncompressed
		return memory.SliceBuffer(body, int(off+8), int(n-8)), nil
	}
	if size < 0 || size > maxBufferBytes {
		return nil, fmt.Errorf("uncompressed length %d", size)
	}
	out := memory.NewResizableBuffer(scanPool)
	out.Resize(int(size))
	var err error
	switch codec {
	case codecLZ4Frame:
		err = lz4FrameDecode(raw[8:], out.Bytes())
	case codecZstd:
		err = zstdDecode(raw[8:], out.Bytes())
	default:
		err = fmt.Errorf("unknown compression codec %d", codec)
	}
	if err != nil {
		out.Release()
		return nil, err
	}
	return out, nil
}

// checkLayout verifies buffer sizes (and offsets, for strings) against the
// column's length, so reading any row stays inside its buffers.
func checkLayout(t arrow.DataType, length, nulls int, bufs []*memory.Buffer) error {
	bitmap := (length + 7) / 8
	if nulls > 0 && bufLen(bufs[0]) < bitmap {
		return fmt.Errorf("validity bitmap of %d bytes for %d rows", bufLen(bufs[0]), length)
	}
	switch fw := t.(type) {
	case *arrow.BooleanType:
		if bufLen(bufs[1]) < bitmap {
			return fmt.Errorf("%d data bytes for %d booleans", bufLen(bufs[1]), length)
		}
	case arrow.FixedWidthDataType:
		if need := length * fw.BitWidth() / 8; bufLen(bufs[1]) < need {
			return fmt.Errorf("%d data bytes, need %d", bufLen(bufs[1]), need)
		}
	default:
		if !isVarBinary(t) {
			return fmt.Errorf("type %s is not readable from shards", t)
		}
		return checkOffsets(t, length, bufs[1], bufLen(bufs[2]))
	}
	return nil
}

func checkOffsets(t arrow.DataType, length int, offsets *memory.Buffer, dataLen int) error {
	if length == 0 {
		return nil
	}
	wide := t.ID() == arrow.LARGE_STRING || t.ID() == arrow.LARGE_BINARY
	width := 4
	if wide {
		width = 8
	}
	if bufLen(offsets) < (length+1)*width {
		return fmt.Errorf("%d offset bytes for %d values", bufLen(offsets), length)
	}
	if wide {
		return offsetsInRange(arrow.Int64Traits.CastFromBytes(offsets.Bytes())[:length+1], int64(dataLen))
	}
	return offsetsInRange(arrow.Int32Traits.CastFromBytes(offsets.Bytes())[:length+1], int32(dataLen))
}

// offsetsInRange requires offsets to start at or above 0, never decrease
// and end at or below dataLen: then every value slice is inside the data.
func offsetsInRange[T int32 | int64](offs []T, dataLen T) error {
	prev := offs[0]
	bad := prev < 0
	for _, v := range offs[1:] {
		bad = bad || v < prev
		prev = v
	}
	if bad || prev > dataLen {
		return fmt.Errorf("value offsets are negative, decreasing or past the %d data bytes", dataLen)
	}
	return nil
}

func bufLen(b *memory.Buffer) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// --- flatbuffers access (the generated Arrow code is internal to arrow) ---

func rootTable(buf []byte) *flatbuffers.Table {
	if len(buf) < 4 {
		panic("metadata shorter than a flatbuffer root")
	}
	root := flatbuffers.GetUOffsetT(buf)
	if int(root) >= len(buf) {
		panic("flatbuffer root outside the metadata")
	}
	return &flatbuffers.Table{Bytes: buf, Pos: root}
}

// fieldRel returns field i's offset relative to the table, 0 if absent.
func fieldRel(t *flatbuffers.Table, i int) flatbuffers.UOffsetT {
	return flatbuffers.UOffsetT(t.Offset(flatbuffers.VOffsetT(4 + 2*i)))
}

// fieldPos returns field i's absolute position, 0 if absent.
func fieldPos(t *flatbuffers.Table, i int) flatbuffers.UOffsetT {
	if o := fieldRel(t, i); o != 0 {
		return o + t.Pos
	}
	return 0
}

// vectorOf returns the start and length of vector field i (0, 0 if absent).
func vectorOf(t *flatbuffers.Table, i int) (flatbuffers.UOffsetT, int) {
	o := fieldRel(t, i)
	if o == 0 {
		return 0, 0
	}
	n := t.VectorLen(o)
	start := t.Vector(o)
	if n < 0 || int(start)+16*n > len(t.Bytes) || n > math.MaxInt32 {
		panic("flatbuffer vector outside the metadata")
	}
	return start, n
}
