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
// the codec has to be registered before any ring stream opens.
func init() { encoding.RegisterCodecV2(chunkCodec{}) }

// chunkCodec encodes CollectiveChunk with the payload first, so a received
// payload starts its (pooled, aligned) buffer and is released whole; other
// messages of the service (the ack) use protobuf.
//
// Besides *pb.CollectiveChunk it encodes *txChunk, whose payload is sent
// without a copy (the transport reads the caller's vector and says when it is
// done with it), and decodes into *rxChunk, which keeps grpc's received
// buffers instead of copying them. All three share one wire format.
type chunkCodec struct{}

func (chunkCodec) Name() string { return codecName }

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// chunkHeader is the wire header of a chunk: every field but the payload.
func chunkHeader(c *pb.CollectiveChunk) ([]byte, error) {
	return proto.Marshal(&pb.CollectiveChunk{Group: c.Group, Generation: c.Generation, FromRank: c.FromRank, Op: c.Op, Step: c.Step, Stream: c.Stream})
}

// Marshal copies a CollectiveChunk's payload into one pooled transport
// buffer: the caller may change its vector as soon as Send returns. A
// txChunk's payload is not copied (see txChunk).
func (chunkCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch c := v.(type) {
	case *txChunk:
		return c.marshal()
	case *pb.CollectiveChunk:
		hdr, err := chunkHeader(c)
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
	default:
		return protoCodec().Marshal(v)
	}
}

// Unmarshal decodes a chunk frame. Into a CollectiveChunk it copies the
// frame into a pooled buffer (grpc frees its own as soon as this returns);
// the payload is released with releaseChunk. Into an rxChunk it keeps a
// reference on grpc's buffers instead (see rxChunk).
func (chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch c := v.(type) {
	case *rxChunk:
		return c.unmarshal(data)
	case *pb.CollectiveChunk:
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
	default:
		return protoCodec().Unmarshal(data, v)
	}
}

// txChunk is an outgoing chunk whose payload the transport reads in place:
// Marshal wraps data in a grpc buffer without copying it, and grpc hands
// that buffer back (to done, which closes) once it has written it to the
// connection or dropped it with the stream. Until done is closed the caller
// must not change data. Payloads under zeroCopyMinBytes are copied and done
// is closed at once.
type txChunk struct {
	hdr  pb.CollectiveChunk // header fields; Data unused
	data []byte
	done sendDone
}

// sendDone is the mem.BufferPool of one zero-copy payload: its Put is
// grpc's "done with this buffer".
type sendDone chan struct{}

func (d sendDone) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (d sendDone) Put(*[]byte) { close(d) }

func (c *txChunk) marshal() (mem.BufferSlice, error) {
	hdr, err := chunkHeader(&c.hdr)
	if err != nil {
		close(c.done)
		return nil, err
	}
	if len(c.data) < zeroCopyMinBytes {
		// Copying costs less than waiting for the transport's release.
		n := len(c.data) + len(hdr) + 4
		pool := mem.DefaultBufferPool()
		buf := pool.Get(n)
		b := (*buf)[:n]
		copy(b, c.data)
		copy(b[len(c.data):], hdr)
		binary.LittleEndian.PutUint32(b[n-4:], uint32(len(hdr)))
		close(c.done)
		return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
	}
	tail := make([]byte, len(hdr)+4)
	copy(tail, hdr)
	binary.LittleEndian.PutUint32(tail[len(hdr):], uint32(len(hdr)))
	payload := c.data[:len(c.data):len(c.data)]
	return mem.BufferSlice{mem.NewBuffer(&payload, c.done), mem.SliceBuffer(tail)}, nil
}

// zeroCopyMinBytes is the smallest payload a txChunk hands grpc in place;
// smaller ones are copied (and must be, below grpc's pooling threshold,
// where it counts no references).
const zeroCopyMinBytes = 64 << 10

// rxChunk is a received chunk that still lies in grpc's buffers (one per
// HTTP/2 frame, cut anywhere): frame holds a reference on them, the payload
// is its first n bytes, and free drops the reference.
type rxChunk struct {
	hdr   pb.CollectiveChunk // header fields; Data unused
	frame mem.BufferSlice
	n     int
}

// maxHeaderBytes bounds a chunk header (its group name included).
const maxHeaderBytes = 1 << 16

func (c *rxChunk) unmarshal(data mem.BufferSlice) error {
	total := data.Len()
	if total < 4 {
		return fmt.Errorf("collective: chunk frame of %d bytes", total)
	}
	var lenb [4]byte
	copyTail(data, lenb[:])
	h := int(binary.LittleEndian.Uint32(lenb[:]))
	if h > total-4 || h > maxHeaderBytes {
		return fmt.Errorf("collective: chunk header of %d bytes in a %d-byte frame", h, total)
	}
	tail := make([]byte, h+4)
	copyTail(data, tail)
	c.hdr.Reset()
	if err := proto.Unmarshal(tail[:h], &c.hdr); err != nil {
		return fmt.Errorf("collective: chunk header: %w", err)
	}
	c.hdr.Data = nil // a header carries no payload
	c.n = total - 4 - h
	data.Ref()
	c.frame = data
	return nil
}

// copyTail copies the last len(dst) bytes of s into dst.
func copyTail(s mem.BufferSlice, dst []byte) {
	end := len(dst)
	for i := len(s) - 1; i >= 0 && end > 0; i-- {
		b := s[i].ReadOnlyData()
		k := min(len(b), end)
		copy(dst[end-k:end], b[len(b)-k:])
		end -= k
	}
}

// pieces calls fn on the payload's bytes in order, one contiguous run at a
// time.
func (c *rxChunk) pieces(fn func(p []byte)) {
	left := c.n
	for _, b := range c.frame {
		if left == 0 {
			return
		}
		p := b.ReadOnlyData()
		p = p[:min(len(p), left)]
		left -= len(p)
		if len(p) > 0 {
			fn(p)
		}
	}
}

// payload copies the payload out.
func (c *rxChunk) payload() []byte {
	out := make([]byte, 0, c.n)
	c.pieces(func(p []byte) { out = append(out, p...) })
	return out
}

// free releases grpc's buffers; the chunk must not be used afterwards.
func (c *rxChunk) free() {
	c.frame.Free()
	c.frame = nil
	c.n = 0
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
