package collective

import (
	"encoding/binary"
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// codecName is the content-subtype of ring streams: their chunks skip
// protobuf's encoding of the payload (a copy into a fresh, zeroed buffer on
// each side) and travel as [payload][header][header length].
const codecName = "nscollective"

// grpc looks codecs up by content-subtype in a process-wide registry, so
// the codec has to be registered before any server receives a ring stream.
func init() { encoding.RegisterCodecV2(chunkCodec{}) }

// chunkCodec encodes CollectiveChunk with the payload first, so a received
// payload starts its (pooled, aligned) buffer and is released whole; other
// messages of the service (the ack) use protobuf.
type chunkCodec struct{}

func (chunkCodec) Name() string { return codecName }

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// Marshal copies the payload into one pooled transport buffer: the caller
// may change its vector as soon as Send returns.
func (chunkCodec) Marshal(v any) (mem.BufferSlice, error) {
	c, ok := v.(*pb.CollectiveChunk)
	if !ok {
		return protoCodec().Marshal(v)
	}
	hdr, err := proto.Marshal(&pb.CollectiveChunk{Group: c.Group, Generation: c.Generation, FromRank: c.FromRank, Op: c.Op, Step: c.Step, Stream: c.Stream})
	if err != nil {
		return nil, err
	}
	n := len(c.Data) + len(hdr) + 4
	pool := mem.DefaultBufferPool()
	buf := pool.Get(n)
	b := (*buf)[:n]
	copy(b, c.Data)
	copy(b[len(c.Data):], hdr)
	binary.LittleEndian.PutUint32(b[n-4:], uint32(len(hdr)))
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal copies the frame into a pooled buffer (grpc frees its own as
// soon as this returns); the payload is released with releaseChunk.
func (chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	c, ok := v.(*pb.CollectiveChunk)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	n := data.Len()
	if n < 4 {
		return fmt.Errorf("collective: chunk frame of %d bytes", n)
	}
	b := getBuf(n)
	data.CopyTo(b)
	h := int(binary.LittleEndian.Uint32(b[n-4:]))
	if h > n-4 {
		putBuf(b)
		return fmt.Errorf("collective: chunk header of %d bytes in a %d-byte frame", h, n)
	}
	if err := proto.Unmarshal(b[n-4-h:n-4], c); err != nil {
		putBuf(b)
		return fmt.Errorf("collective: chunk header: %w", err)
	}
	c.Data = b[:n-4-h]
	return nil
}

// Payload buffers, recycled by size class (powers of two) so a steady
// stream of equal chunks allocates nothing.
var bufPools [40]sync.Pool

func sizeClass(n int) int {
	c := 0
	for 1<<c < n {
		c++
	}
	return c
}

func getBuf(n int) []byte {
	c := sizeClass(n)
	if c >= len(bufPools) {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

func putBuf(b []byte) {
	c := sizeClass(cap(b))
	if c >= len(bufPools) || cap(b) != 1<<c {
		return
	}
	b = b[:cap(b)]
	bufPools[c].Put(&b)
}

// releaseChunk returns a received chunk's payload buffer to the pool; the
// chunk must not be used afterwards.
func releaseChunk(c *pb.CollectiveChunk) {
	if c.Data != nil {
		putBuf(c.Data[:0])
		c.Data = nil
	}
}
